"""compat.core.roster: the participant rules both vendor models share."""

from __future__ import annotations

import attrs

from compat.core.roster import Roster


@attrs.define
class P:
    sid: str
    identity: str
    gone: bool = False
    tracks: dict[str, str] = attrs.Factory(dict)


def roster() -> Roster[P, str]:
    return Roster(sid=lambda p: p.sid, identity=lambda p: p.identity, gone=lambda p: p.gone, tracks=lambda p: p.tracks)


def test_lookups_by_identity_ignore_departed_participants() -> None:
    r = roster()
    a = P("PA_1", "alice", tracks={"TR_1": "mic"})
    r.add(a)
    assert r.get("alice") is a and r.get(None) is None and r.get("bob") is None
    assert r.pub("alice", "TR_1") == (a, "mic") and r.pub("alice", "TR_2") is None
    a.gone = True
    assert r.get("alice") is None and r.pub("alice", "TR_1") is None and r.replaces("alice") is None


def test_a_join_of_a_present_identity_replaces_the_old_one() -> None:
    r = roster()
    old, new = P("PA_1", "alice"), P("PA_2", "alice")
    r.add(old)
    assert r.replaces("alice") is old
    old.gone = True
    r.remove(old)
    r.add(new)
    assert r.by_sid == {"PA_2": new} and r.get("alice") is new


def test_removing_a_participant_already_replaced_keeps_the_newcomer() -> None:
    r = roster()
    old, new = P("PA_1", "alice"), P("PA_2", "alice")
    r.add(old)
    r.add(new)  # a vendor that ends the old one later
    r.remove(old)
    assert r.by_sid == {"PA_2": new} and r.get("alice") is new
