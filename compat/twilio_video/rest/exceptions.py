"""``twilio.base.exceptions`` (``TwilioException``, ``TwilioRestException``) with twilio-python's
constructor and attributes: ``status``, ``uri``, ``msg``, ``code``, ``method``, ``details``."""

from __future__ import annotations

__all__ = ["TwilioException", "TwilioRestException"]


class TwilioException(Exception):  # noqa: N818 - twilio-python's name
    pass


class TwilioRestException(TwilioException):
    """A 400 or 500 level error of the REST API (``code`` is the Twilio error code, e.g. 20404)."""

    def __init__(
        self,
        status: int,
        uri: str,
        msg: str = "",
        code: int | None = None,
        method: str = "GET",
        details: object | None = None,
    ) -> None:
        super().__init__(status, uri, msg, code, method, details)
        self.uri = uri
        self.status = status
        self.msg = msg
        self.code = code
        self.method = method
        self.details = details

    def __str__(self) -> str:
        more = f" (Twilio error {self.code}: https://www.twilio.com/docs/errors/{self.code})" if self.code else ""
        return f"HTTP {self.status} error: {self.msg}{more}"
