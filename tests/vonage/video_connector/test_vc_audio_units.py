"""The outgoing audio buffer, resampler and mixer, without LiveKit."""

from __future__ import annotations

from typing import Any

import numpy as np

from compat.vonage.video_connector._audio import Mixer, OutgoingAudio, Resampler


def tone(hz: float, rate: int, start: int, count: int) -> np.ndarray[Any, Any]:
    return (0.3 * 32767 * np.sin(2 * np.pi * hz * (np.arange(count) + start) / rate)).astype(np.int16)


def peak(samples: np.ndarray[Any, Any], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(spectrum.argmax())])


def test_chunks_of_any_length_at_24k_become_10ms_frames_at_48k_with_the_same_pitch() -> None:
    out = OutgoingAudio(48000, 1)
    n = 0
    for size in (960, 37, 1000, 23, 960 * 5):  # 40 ms, odd sizes, 200 ms
        out.push(tone(440, 24000, n, size), 24000, 1)
        n += size
    assert abs(out.queued_seconds - n / 24000) < 0.001
    frames = []
    while (frame := out.pop_frame(pad=False)) is not None:
        frames.append(frame)
    assert {len(f) for f in frames} == {480}
    joined = np.concatenate(frames)
    assert abs(peak(joined, 48000) - 440) < 5
    # continuous across chunk boundaries: no sample-to-sample jump larger than a 440 Hz sine allows
    assert np.max(np.abs(np.diff(joined.astype(np.int32)))) < 0.3 * 32767 * 2 * np.pi * 440 / 48000 * 1.5
    last = out.pop_frame(pad=True)
    assert last is not None and len(last) == 480  # the remainder, padded with silence
    assert out.pop_frame(pad=True) is None


def test_stereo_to_mono_and_clear() -> None:
    out = OutgoingAudio(16000, 1)
    stereo = np.repeat(tone(300, 48000, 0, 4800), 2)
    out.push(stereo, 48000, 2)
    assert abs(out.queued_seconds - 0.1) < 0.002
    generation = out.generation
    out.clear()
    assert out.queued_seconds == 0 and out.pop_frame(pad=True) is None and out.generation == generation + 1


def test_resampler_keeps_count_over_many_chunks() -> None:
    r = Resampler(44100, 16000)
    total = sum(len(r.process(np.zeros((441, 1), np.float32))) for _ in range(100))  # 1 s
    assert abs(total - 16000) <= 1


def test_mixer_passes_one_stream_and_sums_two() -> None:
    mixer = Mixer(4)
    mixer.add_stream("a")
    one = np.array([1, 2, 3, 4], np.int16)
    assert [m.tolist() for m in mixer.put("a", one)] == [[1, 2, 3, 4]]
    mixer.add_stream("b")
    assert mixer.put("a", one) == []  # waits for b
    (mixed,) = mixer.put("b", np.array([30000, 30000, -5, 0], np.int16))
    assert mixed.tolist() == [30001, 30002, -2, 4]
    assert mixer.put("b", np.array([32767] * 4, np.int16)) == []
    (clipped,) = mixer.put("a", np.array([100] * 4, np.int16))
    assert clipped.tolist() == [32767] * 4
    for _ in range(Mixer.LAG):  # b stalls: a goes on alone after LAG frames
        mixer.put("a", one)
    assert len(mixer.put("a", one)) >= 1
