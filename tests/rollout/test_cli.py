"""``compat rollout``'s usage errors (the numbers it reports are checked in test_gates.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

import compat.rollout as R
from compat.__main__ import main
from tests.rollout.helpers import advance_to


def test_a_store_is_required_and_must_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(R.ENV_VAR, raising=False)
    assert main(["rollout", "status"]) == 2
    assert "--store (or COMPAT_ROLLOUT_STORE) is required" in capsys.readouterr().err
    missing = tmp_path / "typo.db"
    assert main(["rollout", "advance", "--store", str(missing)]) == 2
    assert f"no rollout store at {missing}" in capsys.readouterr().err and not missing.exists()
    assert main(["rollout", "status", "--store", "mysql://db/x"]) == 2
    assert "unsupported rollout store 'mysql'" in capsys.readouterr().err


def test_advance_at_the_last_stage_and_the_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "r.db"
    store = R.open_store(path)
    advance_to(store, "100%")
    monkeypatch.setenv(R.ENV_VAR, str(path))
    assert main(["rollout", "advance", "--min-sessions", "1"]) == 2
    assert "'100%' is the last one" in capsys.readouterr().err
    assert main(["rollout", "status"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("stage: 100%\n") and "\nlivekit   50%        1       100.0%   0.40 s     0.0%        4.30      pass\n" in out
    assert out.endswith("advance: refused ('100%' is the last stage)\n")
    monkeypatch.setenv(R.ENV_VAR, str(tmp_path / "elsewhere.db"))
    assert main(["rollout", "status", "--store", str(path), "--format", "json"]) == 0  # --store wins over the environment
    assert '"stage": "100%"' in capsys.readouterr().out
    store.close()


def test_rollback_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.db"
    store = R.open_store(path)
    advance_to(store, "25%")
    assert main(["rollout", "rollback", "--store", str(path)]) == 0
    assert capsys.readouterr().out == "stage: 5%\n"
    assert main(["rollout", "rollback", "--store", str(path), "--to", "internal"]) == 0
    assert capsys.readouterr().out == "stage: internal\n"
    assert main(["rollout", "rollback", "--store", str(path)]) == 2
    assert "'internal' is the first one" in capsys.readouterr().err
    assert main(["rollout", "rollback", "--store", str(path), "--to", "half"]) == 2
    assert "unknown rollout stage 'half'" in capsys.readouterr().err
    assert store.stage == "internal"
    store.close()
