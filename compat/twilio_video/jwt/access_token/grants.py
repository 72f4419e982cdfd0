"""The grants of ``twilio.jwt.access_token.grants``. Only :class:`VideoGrant` means anything on
LiveKit (``roomJoin`` + ``room``); the others are accepted, warned about
(:class:`~compat.twilio_video.jwt.access_token.IgnoredGrantWarning`) and left out of the token."""

from __future__ import annotations

from typing import Any

from . import AccessTokenGrant

__all__ = ["ChatGrant", "PlaybackGrant", "SyncGrant", "TaskRouterGrant", "VideoGrant", "VoiceGrant"]


def _present(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value}


class VideoGrant(AccessTokenGrant):
    """Grant to join a Video room: ``roomJoin=true`` and ``room`` in the LiveKit token.

    ``room`` is the room's unique name (or its SID: the LiveKit room name is what LiveKit joins, so
    give the name). A LiveKit token must name its room: without ``room`` the token cannot join."""

    def __init__(self, room: str | None = None) -> None:
        self.room = room

    @property
    def key(self) -> str:
        return "video"

    def to_payload(self) -> dict[str, Any]:
        return {"room": self.room} if self.room else {}


class ChatGrant(AccessTokenGrant):
    """Twilio Conversations/Chat: ignored on LiveKit."""

    def __init__(
        self,
        service_sid: str | None = None,
        endpoint_id: str | None = None,
        deployment_role_sid: str | None = None,
        push_credential_sid: str | None = None,
    ) -> None:
        self.service_sid = service_sid
        self.endpoint_id = endpoint_id
        self.deployment_role_sid = deployment_role_sid
        self.push_credential_sid = push_credential_sid

    @property
    def key(self) -> str:
        return "chat"

    def to_payload(self) -> dict[str, Any]:
        return _present(
            service_sid=self.service_sid,
            endpoint_id=self.endpoint_id,
            deployment_role_sid=self.deployment_role_sid,
            push_credential_sid=self.push_credential_sid,
        )


class SyncGrant(AccessTokenGrant):
    """Twilio Sync: ignored on LiveKit."""

    def __init__(self, service_sid: str | None = None, endpoint_id: str | None = None) -> None:
        self.service_sid = service_sid
        self.endpoint_id = endpoint_id

    @property
    def key(self) -> str:
        return "data_sync"

    def to_payload(self) -> dict[str, Any]:
        return _present(service_sid=self.service_sid, endpoint_id=self.endpoint_id)


class VoiceGrant(AccessTokenGrant):
    """Twilio Programmable Voice: ignored on LiveKit."""

    def __init__(
        self,
        incoming_allow: bool | None = None,
        outgoing_application_sid: str | None = None,
        outgoing_application_params: dict[str, Any] | None = None,
        push_credential_sid: str | None = None,
        endpoint_id: str | None = None,
    ) -> None:
        self.incoming_allow = incoming_allow
        self.outgoing_application_sid = outgoing_application_sid
        self.outgoing_application_params = outgoing_application_params
        self.push_credential_sid = push_credential_sid
        self.endpoint_id = endpoint_id

    @property
    def key(self) -> str:
        return "voice"

    def to_payload(self) -> dict[str, Any]:
        grant: dict[str, Any] = {}
        if self.incoming_allow is True:
            grant["incoming"] = {"allow": True}
        if self.outgoing_application_sid:
            grant["outgoing"] = _present(
                application_sid=self.outgoing_application_sid, params=self.outgoing_application_params
            )
        grant.update(_present(push_credential_sid=self.push_credential_sid, endpoint_id=self.endpoint_id))
        return grant


class TaskRouterGrant(AccessTokenGrant):
    """Twilio TaskRouter: ignored on LiveKit."""

    def __init__(self, workspace_sid: str | None = None, worker_sid: str | None = None, role: str | None = None) -> None:
        self.workspace_sid = workspace_sid
        self.worker_sid = worker_sid
        self.role = role

    @property
    def key(self) -> str:
        return "task_router"

    def to_payload(self) -> dict[str, Any]:
        return _present(workspace_sid=self.workspace_sid, worker_sid=self.worker_sid, role=self.role)


class PlaybackGrant(AccessTokenGrant):
    """Twilio Live playback: ignored on LiveKit."""

    def __init__(self, grant: dict[str, Any] | None = None) -> None:
        self.grant = grant

    @property
    def key(self) -> str:
        return "player"

    def to_payload(self) -> dict[str, Any]:
        return dict(self.grant or {})
