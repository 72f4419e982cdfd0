"""The remote participants a vendor model shows, by identity: one rule set for both vendors.

Facts name participants by identity; vendor objects (Twilio's RemoteParticipant, OpenTok's
Connection) are keyed by SID for the user. The rules kept here:

* one present participant per identity: a join of an identity still present (LiveKit's
  duplicate-identity takeover, a fast rejoin) first ends the old one (:meth:`Roster.replaces`);
* lookups by identity ignore departed participants, so a late fact about someone who left
  changes nothing;
* a participant leaves the SID map when it leaves, and the identity map only if it is still
  the one recorded there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

P = TypeVar("P")
T = TypeVar("T")

__all__ = ["Roster"]


class Roster(Generic[P, T]):
    """Participants of type ``P`` whose publications (of type ``T``) are ``tracks(p)`` by SID.
    ``sid``, ``identity`` and ``gone`` read a participant's SID, identity and whether it has
    left; they keep the roster independent of each vendor's attribute names. ``by_sid``: the
    (empty) dict to keep the SID map in, when the vendor shows it as a container of its own type."""

    def __init__(
        self,
        *,
        sid: Callable[[P], str],
        identity: Callable[[P], str],
        gone: Callable[[P], bool],
        tracks: Callable[[P], Mapping[str, T]],
        by_sid: dict[str, P] | None = None,
    ) -> None:
        self.by_sid: dict[str, P] = {} if by_sid is None else by_sid  # present participants, in join order
        self._by_identity: dict[str, P] = {}
        self._sid = sid
        self._identity = identity
        self._gone = gone
        self._tracks = tracks

    def add(self, p: P) -> None:
        self.by_sid[self._sid(p)] = p
        self._by_identity[self._identity(p)] = p

    def get(self, identity: str | None) -> P | None:
        """The present participant with ``identity`` (None if absent or departed)."""
        p = self._by_identity.get(identity) if identity is not None else None
        return p if p is not None and not self._gone(p) else None

    def replaces(self, identity: str) -> P | None:
        """Before adding a newcomer with ``identity``: the participant it replaces, which the
        caller must end (and :meth:`remove`) first."""
        return self.get(identity)

    def remove(self, p: P) -> None:
        self.by_sid.pop(self._sid(p), None)
        identity = self._identity(p)
        if self._by_identity.get(identity) is p:
            del self._by_identity[identity]

    def pub(self, identity: str, sid: str) -> tuple[P, T] | None:
        """A present participant's publication ``sid``, with the participant."""
        p = self.get(identity)
        if p is None:
            return None
        publication = self._tracks(p).get(sid)
        return (p, publication) if publication is not None else None
