"""compat: Twilio Video and Vonage Video client models on LiveKit."""

__version__ = "0.1.0"
