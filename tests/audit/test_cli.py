"""The `compat` command line: `compat audit PATH --format …`, exit codes, and the devserver delegation."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from compat.__main__ import main
from tests.audit.codebase import EXPECTED, lay_out


@pytest.fixture(scope="module")
def codebase(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return lay_out(tmp_path_factory.mktemp("codebase"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compat", *args], capture_output=True, text=True, timeout=60, check=False)


def test_json_output_shape(codebase: Path) -> None:
    result = run("audit", str(codebase), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no progress bar without a terminal
    doc = json.loads(result.stdout)
    assert set(doc) == {"root", "files_scanned", "findings", "summary", "unreadable"}
    assert doc["files_scanned"] == 16
    finding = doc["findings"][0]
    assert set(finding) == {"file", "line", "group", "category", "vendor", "api", "note", "compat"}
    assert set(finding["compat"]) == {"drop_in", "status", "livekit"}
    assert {(f["file"], f["line"], f["group"], f["category"], f["api"]) for f in doc["findings"]} == EXPECTED
    assert sum(row["count"] for row in doc["summary"]) == len(EXPECTED)
    assert set(doc["summary"][0]) == {"group", "category", "title", "count"}


def test_json_offers(codebase: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(codebase / "backend" / "opentok_server.py"), "--format", "json"]) == 0
    by_api = {f["api"]: f["compat"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert by_api["generate_token"]["drop_in"] == "compat.vonage.generate_token"
    assert by_api["generate_token"]["status"] == "differs"
    assert by_api["start_archive"]["drop_in"] is None and by_api["start_archive"]["status"] == "manual"
    assert "egress" in by_api["start_archive"]["livekit"]


def test_no_findings_still_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "app.py").write_text("print('hello')\n")
    assert main(["audit", str(tmp_path), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["findings"] == [] and doc["summary"] == [] and doc["files_scanned"] == 1


def test_markdown_renders_tables(codebase: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(codebase), "--format", "markdown"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines.index("| file | line | group | category | vendor | API | compat offers |")
    assert lines[header + 1] == "|---|---|---|---|---|---|---|"
    body = lines[header + 2: header + 2 + len(EXPECTED)]
    assert all(line.startswith("| `") and line.count(" | ") >= 6 for line in body)
    assert "| group | category | findings |" in lines
    assert "| back end | room/session creation and control (`room-session`) | 9 |" in lines


def test_text_has_groups_and_summary(codebase: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(codebase)]) == 0
    out = capsys.readouterr().out
    for heading in ("== back end", "== front end", "== infrastructure", "summary"):
        assert heading in out
    assert "frontend/video.js:10  sdk-init  twilio: connect" in out


@pytest.mark.parametrize("args", [
    ["audit"],                                  # no path
    ["audit", "/no/such/dir"],                  # bad path
    ["audit", ".", "--format", "yaml"],         # bad format
    ["audit", ".", "--bogus"],                  # unknown option
    ["nosuchcommand"],
])
def test_bad_usage_exits_2(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 2, result
    assert result.stderr  # says what is wrong


def test_devserver_help_is_delegated() -> None:
    result = run("devserver", "--help")
    assert result.returncode == 0, result.stderr
    assert "--recordings-dir" in result.stdout and "--keys" in result.stdout


def test_console_script_entry() -> None:
    (script,) = entry_points(group="console_scripts", name="compat")
    assert script.value == "compat.__main__:main"
