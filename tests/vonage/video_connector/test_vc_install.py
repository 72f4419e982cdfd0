"""install(): unmodified code that imports vonage_video_connector runs on compat."""

from __future__ import annotations

import importlib
import sys

import pytest

from compat.vonage import video_connector as vc


def test_install_aliases_the_package_and_its_models(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("vonage_video_connector", "vonage_video_connector.models", "tests.vonage.video_connector.tone_bot"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(ImportError):
        importlib.import_module("tests.vonage.video_connector.tone_bot")
    vc.install()
    vc.install()  # idempotent
    bot = importlib.import_module("tests.vonage.video_connector.tone_bot")
    assert bot.vonage_video_connector is vc
    assert bot.AudioData is vc.models.AudioData
    assert isinstance(bot.ToneBot(440).client, vc.VonageVideoClient)
    import vonage_video_connector.models  # the dotted form too

    assert vonage_video_connector.models is vc.models
