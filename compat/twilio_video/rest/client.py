"""``Client``: ``twilio.rest.Client`` for Video, talking to a LiveKit server."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

from ._base import Api
from .exceptions import TwilioException
from .recordings import CompositionList
from .rooms import RoomList

__all__ = ["Client"]


class V1:
    """``client.video.v1``."""

    def __init__(self, api_: Api) -> None:
        self.rooms = RoomList(api_)
        self.compositions = CompositionList(api_)


class Video:
    """``client.video``; ``client.video.rooms`` / ``.compositions`` still work, with a DeprecationWarning."""

    def __init__(self, api_: Api) -> None:
        self.v1 = V1(api_)

    @property
    def rooms(self) -> RoomList:
        warnings.warn("rooms is deprecated. Use v1.rooms instead.", DeprecationWarning, stacklevel=2)
        return self.v1.rooms

    @property
    def compositions(self) -> CompositionList:
        warnings.warn("compositions is deprecated. Use v1.compositions instead.", DeprecationWarning, stacklevel=2)
        return self.v1.compositions


class Client:
    """``Client(username=api_key, password=api_secret, account_sid=..., *, livekit_url=None)``.

    ``username``/``password`` are the **LiveKit** API key and secret (default: environment
    ``LIVEKIT_API_KEY`` / ``LIVEKIT_API_SECRET``); ``account_sid`` (default: ``username``, as in
    twilio-python) is reported in every resource's ``account_sid``. ``livekit_url`` defaults to
    ``LIVEKIT_URL``. ``timeout`` (seconds, an addition) bounds each call. twilio-python's ``region``,
    ``http_client``, ``edge``, ``user_agent_extensions`` and ``credential_provider`` are accepted
    and have no effect. Only ``client.video`` exists.
    """

    def __init__(
        self,
        username: str | None = None,
        password: str | None = None,
        account_sid: str | None = None,
        region: str | None = None,
        http_client: Any = None,
        environment: Mapping[str, str] | None = None,
        edge: str | None = None,
        user_agent_extensions: list[str] | None = None,
        credential_provider: Any = None,
        *,
        livekit_url: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        env = os.environ if environment is None else environment
        self.username = username or env.get("LIVEKIT_API_KEY")
        self.password = password or env.get("LIVEKIT_API_SECRET")
        self.account_sid = account_sid or self.username
        self.region = region
        self.edge = edge
        url = livekit_url or env.get("LIVEKIT_URL")
        if not self.username or not self.password:
            raise TwilioException(
                "Credentials are required: Client(username=<LiveKit API key>, password=<LiveKit API secret>, "
                "account_sid=...), or set LIVEKIT_API_KEY and LIVEKIT_API_SECRET"
            )
        if not url:
            raise TwilioException("No LiveKit server: pass Client(..., livekit_url='wss://…') or set LIVEKIT_URL")
        if timeout <= 0:
            raise ValueError("timeout must be positive (seconds)")
        self._api = Api(url, self.username, self.password, self.account_sid or self.username, timeout)
        self.video = Video(self._api)

    def __repr__(self) -> str:
        return f"<compat Twilio Client {self.account_sid} on {self._api.url}>"
