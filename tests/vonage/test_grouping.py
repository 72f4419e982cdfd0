"""compat.vonage.grouping on its own: the slot rule, streams of their own, freed slots, leaving."""

from __future__ import annotations

from compat.vonage.grouping import Grouping, Placement, Removal
from tests.vonage.helpers import track


def test_camera_first_mic_then_own_streams_and_screen() -> None:
    g = Grouping()
    assert g.place("PA", track("TR_m1", "audio", "microphone")) == Placement("PA-camera", "camera", True)
    assert g.place("PA", track("TR_c", "video", "camera")) == Placement("PA-camera", "camera", False)
    assert g.place("PA", track("TR_m2", "audio", "microphone")) == Placement("PA-TR_m2", "TR_m2", True)
    assert g.place("PA", track("TR_s", "video", "screen_share")) == Placement("PA-screen", "screen", True)
    assert g.place("PA", track("TR_u", "audio")) == Placement("PA-TR_u", "TR_u", True)  # unknown source: camera slot, taken
    assert g.tracks("PA-camera") == {"TR_m1": "audio", "TR_c": "video"}
    assert g.stream_of("TR_m2") == "PA-TR_m2" and g.kind_of("TR_s") == "video"


def test_an_emptied_stream_frees_its_slot_and_leaving_drops_in_creation_order() -> None:
    g = Grouping()
    g.place("PA", track("TR_m1", "audio", "microphone"))
    g.place("PA", track("TR_s", "video", "screen_share"))
    assert g.remove("TR_m1") == Removal("PA-camera", "PA", True)
    assert g.remove("TR_m1") is None
    assert g.place("PA", track("TR_m2", "audio", "microphone")) == Placement("PA-camera", "camera", True)
    assert g.drop("PA") == ["PA-screen", "PA-camera"]
    assert g.stream_of("TR_s") is None and g.drop("PA") == []
