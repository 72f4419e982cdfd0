"""VP9 and AV1 pictures rebuilt from their RTP payloads, for the one place the dev server decodes
them: recording. Forwarding keeps the payloads as they came (aiortc_internals.register_passthrough_codecs),
so a forwarded frame is the publisher's payloads, each with its VP9 payload descriptor or AV1
aggregation header; here those are taken off and the codec's own bitstream put back together.

- VP9 (RFC 9628, section 4.2): one frame per spatial layer, from the payload that starts it
  (B bit) to the one that ends it (E bit).
- AV1 (AV1 RTP payload format, section 4.4): one temporal unit, its OBUs given back their size
  fields and a temporal delimiter in front, as a decoder reads them from a file.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["av1_temporal_unit", "vp9_layer_frames"]

# VP9 payload descriptor, first byte: I P L F B E V Z
_VP9_I, _VP9_P, _VP9_L, _VP9_F, _VP9_B, _VP9_E, _VP9_V = 0x80, 0x40, 0x20, 0x10, 0x08, 0x04, 0x02

_AV1_TEMPORAL_DELIMITER = b"\x12\x00"  # obu_type 2, has_size_field, size 0
_AV1_OBU_TEMPORAL_DELIMITER, _AV1_OBU_TILE_LIST = 2, 8


def _vp9_descriptor_length(payload: bytes) -> int | None:
    """Bytes of the payload descriptor, or None when the payload is shorter than its descriptor."""
    flags = payload[0]
    at = 1
    try:
        if flags & _VP9_I:
            at += 2 if payload[at] & 0x80 else 1  # 15- or 7-bit picture id
        if flags & _VP9_L:
            at += 1 if flags & _VP9_F else 2  # layer indices, and TL0PICIDX in non-flexible mode
        if flags & _VP9_F and flags & _VP9_P:
            for _ in range(3):  # up to three reference indices, each with N: another follows
                at += 1
                if not payload[at - 1] & 0x01:
                    break
        if flags & _VP9_V:
            structure = payload[at]
            at += 1
            if structure & 0x10:  # Y: each spatial layer's width and height
                at += 4 * ((structure >> 5) + 1)
            if structure & 0x08:  # G: the picture group
                pictures = payload[at]
                at += 1
                for _ in range(pictures):
                    at += 1 + ((payload[at] >> 2) & 0x03)
    except IndexError:
        return None
    return at if at <= len(payload) else None


def vp9_layer_frames(payloads: Iterable[bytes]) -> list[bytes]:
    """The VP9 frames of one picture, lowest spatial layer first. A frame whose start or end
    packet is missing is left out."""
    frames: list[bytes] = []
    current: list[bytes] | None = None
    for payload in payloads:
        if not payload:
            continue
        start = _vp9_descriptor_length(payload)
        if start is None:
            current = None
            continue
        flags = payload[0]
        if flags & _VP9_B:
            current = []
        if current is None:
            continue  # the middle of a frame whose start was lost
        current.append(payload[start:])
        if flags & _VP9_E:
            frames.append(b"".join(current))
            current = None
    return frames


def _leb128(data: bytes, at: int) -> tuple[int, int]:
    """(value, position after it) of the unsigned LEB128 number at ``at``."""
    value = 0
    for shift in range(0, 56, 7):
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
    raise ValueError("LEB128 number longer than 8 bytes")


def _leb128_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _av1_elements(payload: bytes) -> list[bytes]:
    """The OBU elements of one payload (section 4.4: W says how many; all but the last of W carry
    a LEB128 length, every one does when W is 0)."""
    count = (payload[0] >> 4) & 0x03
    elements: list[bytes] = []
    at = 1
    while at < len(payload):
        if count and len(elements) == count - 1:
            size = len(payload) - at
        else:
            size, at = _leb128(payload, at)
        elements.append(payload[at : at + size])
        at += size
    return elements


def _av1_obu_with_size(obu: bytes) -> bytes:
    header = obu[0]
    if header & 0x02:  # it kept its size field
        return obu
    header_length = 2 if header & 0x04 else 1  # with the extension byte (temporal and spatial id)
    body = obu[header_length:]
    return bytes([header | 0x02, *obu[1:header_length]]) + _leb128_bytes(len(body)) + body


def av1_temporal_unit(payloads: Iterable[bytes]) -> bytes:
    """One AV1 temporal unit (every spatial layer of one picture) in the low-overhead bitstream
    format. An OBU whose first fragment was lost is left out."""
    obus: list[bytearray] = []
    continuing = False  # the last OBU goes on in the next payload (Y)
    for payload in payloads:
        if not payload:
            continue
        continues_previous = bool(payload[0] & 0x80)  # Z
        try:
            elements = _av1_elements(payload)
        except (IndexError, ValueError):
            continuing = False
            continue
        for index, element in enumerate(elements):
            if index == 0 and continues_previous:
                if continuing and obus:
                    obus[-1] += element
                continue
            obus.append(bytearray(element))
        continuing = bool(payload[0] & 0x40)
    unit = bytearray(_AV1_TEMPORAL_DELIMITER)
    for obu in obus:
        if obu and ((obu[0] >> 3) & 0x0F) not in (_AV1_OBU_TEMPORAL_DELIMITER, _AV1_OBU_TILE_LIST):
            unit += _av1_obu_with_size(bytes(obu))
    return bytes(unit)
