"""VP9 and AV1 bitstreams rebuilt from RTP payloads, for recording (compat.devserver.depacketize).
End-to-end: tests/devserver/test_egress.py::test_an_svc_track_is_recorded."""

from __future__ import annotations

from compat.devserver.depacketize import av1_temporal_unit, vp9_layer_frames

# ---- VP9 (RFC 9628, section 4.2) ----------------------------------------------------------------

B, E = 0x08, 0x04


def test_vp9_frames_are_joined_from_start_to_end_without_their_descriptors() -> None:
    # I (15-bit picture id) and L (non-flexible: layer indices + TL0PICIDX): 1 + 2 + 2 bytes
    first = bytes([0x80 | 0x20 | B, 0x81, 0x23, 0x00, 0x07]) + b"spatial-0 "
    last = bytes([0x80 | 0x20 | E, 0x81, 0x23, 0x00, 0x07]) + b"end"
    top = bytes([0x80 | 0x20 | B | E, 0x05, 0x02, 0x07]) + b"spatial-1"  # 7-bit picture id, SID 1
    assert vp9_layer_frames([first, last, top]) == [b"spatial-0 end", b"spatial-1"]


def test_vp9_scalability_structure_and_flexible_references_are_skipped() -> None:
    # V: N_S=2 (3 layers), Y (3 x width+height), G with 2 pictures, the second with one reference
    structure = bytes([0x40 | 0x10 | 0x08]) + bytes(12) + bytes([2, 0x00, 0x04, 0x01])
    with_structure = bytes([0x02 | B | E]) + structure + b"key"
    # F and P: references with N set on all but the last
    flexible = bytes([0x10 | 0x40 | B | E, 0x03, 0x04]) + b"delta"
    assert vp9_layer_frames([with_structure, flexible]) == [b"key", b"delta"]


def test_a_vp9_frame_whose_start_was_lost_is_left_out() -> None:
    middle = bytes([0x00]) + b"lost start "
    end = bytes([E]) + b"end"
    whole = bytes([B | E]) + b"whole"
    assert vp9_layer_frames([middle, end, whole]) == [b"whole"]
    assert vp9_layer_frames([bytes([0x80 | B])]) == []  # shorter than its descriptor


# ---- AV1 (RTP payload format, section 4.4) ----------------------------------------------------------

SEQUENCE_HEADER = bytes([1 << 3]) + b"seq"  # obu_type 1, no extension, no size field
FRAME = bytes([(6 << 3) | 0x04, 0x08]) + b"frame-data"  # obu_type 6 with an extension byte (spatial id 1)
TEMPORAL_DELIMITER = bytes([2 << 3])


def sized(obu: bytes) -> bytes:
    header = 2 if obu[0] & 0x04 else 1
    return bytes([obu[0] | 0x02, *obu[1:header], len(obu) - header]) + obu[header:]


def test_av1_obus_get_their_size_fields_and_a_temporal_delimiter() -> None:
    # W=0: every element with a LEB128 length; a temporal delimiter the sender left in is dropped
    payload = bytes([0x00, 1, *TEMPORAL_DELIMITER, len(SEQUENCE_HEADER), *SEQUENCE_HEADER, len(FRAME), *FRAME])
    unit = av1_temporal_unit([payload])
    assert unit == b"\x12\x00" + sized(SEQUENCE_HEADER) + sized(FRAME)


def test_av1_fragments_are_joined_and_w_counts_the_elements() -> None:
    # W=2: the first element has a length, the last runs to the end, and goes on in the next (Y)
    first = bytes([0x40 | 0x20, len(SEQUENCE_HEADER), *SEQUENCE_HEADER]) + FRAME[:5]
    rest = bytes([0x80 | 0x10]) + FRAME[5:]  # Z: continues; W=1: one element, no length
    assert av1_temporal_unit([first, rest]) == b"\x12\x00" + sized(SEQUENCE_HEADER) + sized(FRAME)


def test_an_av1_obu_whose_first_fragment_was_lost_is_left_out() -> None:
    tail = bytes([0x80 | 0x10]) + FRAME[5:]
    whole = bytes([0x10]) + SEQUENCE_HEADER
    assert av1_temporal_unit([tail, whole]) == b"\x12\x00" + sized(SEQUENCE_HEADER)


def test_an_av1_obu_that_kept_its_size_field_is_kept_as_it_is() -> None:
    assert av1_temporal_unit([bytes([0x10]) + sized(FRAME)]) == b"\x12\x00" + sized(FRAME)
