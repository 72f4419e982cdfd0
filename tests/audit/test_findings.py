"""compat.audit on the test codebase and on small snippets: exact findings, and none in comments or strings."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from compat.audit import AuditError, Finding, audit
from compat.audit.knowledge import CATEGORIES, CODE_RULES, OFFERS
from tests.audit.codebase import EXPECTED, lay_out


@pytest.fixture(scope="module")
def codebase(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return lay_out(tmp_path_factory.mktemp("codebase"))


def rows(findings: tuple[Finding, ...] | list[Finding]) -> set[tuple[str, int, str, str, str]]:
    return {(f.path, f.line, f.group, f.category, f.api) for f in findings}


def test_exact_findings(codebase: Path) -> None:
    report = audit(codebase)
    assert rows(report.findings) - EXPECTED == set(), "unexpected findings"
    assert EXPECTED - rows(report.findings) == set(), "missed findings"
    assert len(report.findings) == len(EXPECTED)  # no duplicates
    assert report.unreadable == ()


def test_every_category_is_covered_by_the_codebase() -> None:
    assert {category for _, _, _, category, _ in EXPECTED} == set(CATEGORIES)


def test_knowledge_tables_are_consistent() -> None:
    for rule in CODE_RULES:
        assert rule.category in CATEGORIES and rule.offer in OFFERS, rule


def test_vendored_and_built_dirs_are_skipped(codebase: Path) -> None:
    paths = {f.path for f in audit(codebase).findings}
    skipped = ("node_modules/", "dist/", "build/", ".venv/", ".git/", "frontend/vendor/twilio-video.min.js")
    assert not [p for p in paths if p.startswith(skipped)]


def test_nothing_in_comments_and_strings(codebase: Path) -> None:
    paths = {f.path for f in audit(codebase).findings}
    # Both files are full of vendor names, only in comments and strings.
    assert "backend/notes.py" not in paths and "frontend/plain.ts" not in paths
    lines = {(f.path, f.line) for f in audit(codebase).findings}
    for quiet in [("backend/twilio_video_api.py", 20), ("backend/twilio_video_api.py", 61), ("backend/twilio_video_api.py", 73),
                  ("frontend/video.js", 3), ("frontend/video.js", 4), ("frontend/opentok.js", 20),
                  ("frontend/ParticipantTile.tsx", 7), ("frontend/ParticipantTile.tsx", 16),
                  ("infra/firewall.tf", 1), ("infra/values.yaml", 12), (".env.example", 1), ("infra/nginx.conf", 17)]:
        assert quiet not in lines, quiet


def findings_of(tmp_path: Path, name: str, source: str) -> set[tuple[int, str, str]]:
    file = tmp_path / name
    file.write_text(textwrap.dedent(source).lstrip("\n"))
    return {(f.line, f.category, f.api) for f in audit(tmp_path).findings}


SNIPPETS = [
    ("py", "alias.py", """
        import opentok as ot
        ot.Client("k", "s").start_archive("sid")  # start_archive in a comment: no second finding
        """, {(2, "recording", "start_archive")}),
    ("py", "unrelated.py", """
        from twilio.rest import Client
        Client().messages.create(to="+1", body="rooms.create")
        """, set()),
    ("py", "no_import.py", """
        client.video.v1.rooms.create(unique_name="x")
        """, set()),
    ("py", "decorated.py", """
        from opentok import Client
        ot = Client("k", "s")
        @app.periodic_task(run_every=60)
        def poll():
            return ot.list_archives()
        """, {(5, "scheduled-job", "list_archives")}),
    ("js", "destructured.js", """
        const { connect, createLocalVideoTrack: camera } = require('twilio-video');
        camera().then((track) => connect('token', { tracks: [track] }));
        """, {(1, "sdk-import", "import twilio-video"), (2, "device-permissions", "createLocalVideoTrack"),
              (2, "sdk-init", "connect")}),
    ("js", "global.js", """
        Twilio.Video.connect(token).then((room) => room.on('dominantSpeakerChanged', show));
        """, {(1, "sdk-init", "connect"), (1, "vendor-ui", "event 'dominantSpeakerChanged'")}),
    ("js", "dynamic.js", """
        const OT = await import('@opentok/client');
        setInterval(pollStats, 1000);
        function pollStats() { subscriber.getStats((e, s) => e && e.name === 'OT_NOT_CONNECTED'); }
        """, {(1, "sdk-import", "import @opentok/client"), (3, "network-quality", "getStats"),
              (3, "error-codes", "error name OT_NOT_CONNECTED")}),
    ("ts", "monitor.ts", """
        import OpenTok from 'opentok';
        const ot = new OpenTok(process.env.OPENTOK_API_KEY!, process.env.OPENTOK_API_SECRET!);
        ot.createSession({ mediaMode: 'routed' }, (err: Error, session: { sessionId: string }) => {
          ot.generateToken(session.sessionId); // generateToken in a comment
        });
        """, {(2, "credentials", "OPENTOK_API_KEY"), (2, "credentials", "OPENTOK_API_SECRET"),
              (3, "room-session", "createSession"), (4, "token-generation", "generateToken")}),
    ("jsx", "Tile.jsx", """
        import { connect } from 'twilio-video';
        export const Tile = ({ track }) => <video ref={(el) => el && track.attach(el)} title="connect()" />;
        """, {(1, "sdk-import", "import twilio-video"), (2, "vendor-ui", "Track.attach")}),
    ("config", "docker-compose.yml", """
        services:
          web:
            environment:
              TWILIO_AUTH_TOKEN: ${TWILIO_AUTH_TOKEN}
              # VONAGE_API_SECRET: retired
            extra_hosts: ["api.opentok.com:10.0.0.1"]
        """, {(4, "credentials", "TWILIO_AUTH_TOKEN"), (6, "vendor-domain", "OpenTok REST API (api.opentok.com)")}),
    ("config", "Dockerfile", """
        FROM node:20
        ENV TOKBOX_API_KEY=""
        """, {(2, "credentials", "TOKBOX_API_KEY")}),
]


@pytest.mark.parametrize(("kind", "name", "source", "expected"), SNIPPETS, ids=[s[1] for s in SNIPPETS])
def test_snippets(tmp_path: Path, kind: str, name: str, source: str, expected: set[tuple[int, str, str]]) -> None:
    assert findings_of(tmp_path, name, source) == expected


def test_a_single_file_can_be_audited(codebase: Path) -> None:
    report = audit(codebase / "frontend" / "video.js")
    assert report.files_scanned == 1
    assert {f.path for f in report.findings} == {"video.js"}


def test_too_large_files_are_reported_not_scanned(tmp_path: Path) -> None:
    (tmp_path / "huge.json").write_text('"video.twilio.com"\n' * 150_000)
    report = audit(tmp_path)
    assert report.findings == ()
    assert [path for path, _ in report.unreadable] == ["huge.json"]


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="no such file"):
        audit(tmp_path / "nope")


def test_no_progress_bar_without_a_terminal(codebase: Path, capsys: pytest.CaptureFixture[str]) -> None:
    audit(codebase, progress=True)
    assert capsys.readouterr().err == ""
