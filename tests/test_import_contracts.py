"""The architecture's import rules, checked on every module of compat/ (imports inside functions
and under TYPE_CHECKING count too). import-linter cannot express the first rule: it sees external
packages only at their root (``livekit``), while ``livekit.api`` and ``livekit.protocol`` are allowed
everywhere and only ``livekit.rtc`` is reserved."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "compat"


@attrs.frozen
class Rule:
    """Modules under ``forbidden`` may be imported only from packages in ``allowed_in`` (when given),
    and never from packages in ``forbidden_in``."""

    forbidden: str
    why: str
    allowed_in: tuple[str, ...] | None = None
    forbidden_in: tuple[str, ...] = ()

    def breaks(self, importer: str) -> bool:
        if any(_within(importer, p) for p in self.forbidden_in):
            return True
        return self.allowed_in is not None and not any(_within(importer, p) for p in self.allowed_in)


# What the vendor models build on never depends on a vendor (the command line, compat.__main__,
# composes both vendors and may import either).
BELOW_THE_VENDORS = ("compat.core", "compat.devserver", "compat._server", "compat.audit", "compat.rollout")

# The dev server's layers, bottom up, as livekit-server's pkg/rtc sits under pkg/service: each
# imports only layers below it. The top (server.py, testing.py, __main__) composes them all.
_DS = "compat.devserver."
DEVSERVER_LEAF = tuple(_DS + m for m in ("ids", "auth", "aiortc_internals", "depacketize", "dynacast", "fanout", "media", "recorder"))
DEVSERVER_MODEL = (_DS + "room",)
DEVSERVER_SIGNALLING = (_DS + "session",)
DEVSERVER_SERVICES = tuple(_DS + m for m in ("twirp", "egress", "webhooks"))
_DEVSERVER_LAYERS = (
    Rule(DEVSERVER_MODEL[0], "the dev server's leaf modules sit below its model", forbidden_in=DEVSERVER_LEAF),
    *(
        Rule(m, "rooms and participants never call signalling or services directly (ParticipantLink, RoomObserver)",
             forbidden_in=(*DEVSERVER_LEAF, *DEVSERVER_MODEL))
        for m in (*DEVSERVER_SIGNALLING, *DEVSERVER_SERVICES)
    ),
    Rule(DEVSERVER_SIGNALLING[0], "services take the room manager, not signalling sessions", forbidden_in=DEVSERVER_SERVICES),
    Rule(_DS + "server", "the server composes the layers; none of them imports it",
         forbidden_in=(*DEVSERVER_LEAF, *DEVSERVER_MODEL, *DEVSERVER_SIGNALLING, *DEVSERVER_SERVICES)),
)

RULES = (
    *_DEVSERVER_LAYERS,
    Rule("livekit.rtc", "compat.core is the only client of livekit.rtc", allowed_in=("compat.core", "compat.devserver")),
    Rule("aiortc", "only the dev server's SFU uses aiortc", allowed_in=("compat.devserver",)),
    Rule("aioice", "only the dev server's SFU uses aiortc", allowed_in=("compat.devserver",)),
    Rule(_DS + "_fanout", "the native audio fan-out is used through compat.devserver.fanout",
         allowed_in=(_DS + "fanout",)),
    Rule("pylibsrtp._binding", "pylibsrtp's internals are fenced in compat.devserver.fanout", allowed_in=(_DS + "fanout",)),
    Rule("compat.core", "compat.rollout stands alone (compat.core builds on it)", forbidden_in=("compat.rollout",)),
    Rule("compat.vonage", "no vendor is imported by the other or by what both build on",
         forbidden_in=("compat.twilio_video", *BELOW_THE_VENDORS)),
    Rule("compat.twilio_video", "no vendor is imported by the other or by what both build on",
         forbidden_in=("compat.vonage", *BELOW_THE_VENDORS)),
)


@attrs.frozen
class Import:
    module: str  # the importing module, e.g. compat.twilio_video.room
    target: str  # what it imports, e.g. livekit.rtc
    where: str  # path:line


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(source: str, path: Path) -> Iterator[Import]:
    module = _module_name(path)
    for node in ast.walk(ast.parse(source, str(path))):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, where)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path.name == "__init__.py", node)
            yield Import(module, target, where)
            for alias in node.names:  # `from livekit import rtc` imports livekit.rtc
                yield Import(module, f"{target}.{alias.name}", where)


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(sources: dict[Path, str]) -> list[str]:
    found = []
    for path, source in sources.items():
        for imp in imports_of(source, path):
            for rule in RULES:
                if _within(imp.target, rule.forbidden) and rule.breaks(imp.module):
                    found.append(f"{imp.where}: {imp.module} imports {imp.target} ({rule.why})")
    return sorted(set(found))


def test_compat_keeps_its_import_contracts() -> None:
    paths = sorted(PACKAGE.rglob("*.py"))
    assert len(paths) > 20, "compat/ not found where expected"
    found = violations({path: path.read_text() for path in paths})
    assert not found, "forbidden imports:\n" + "\n".join(found)


def test_the_checker_names_each_forbidden_form() -> None:
    """A checker that never fires would pass everything: show it names each forbidden form."""
    probe = PACKAGE / "twilio_video" / "_contract_probe.py"  # never written: the source is given
    source = (
        "from livekit import rtc\n"
        "import aiortc.rtcpeerconnection\n"
        "def f() -> None:\n"
        "    from ..vonage import session\n"
        "from livekit import api\n"  # allowed everywhere
        "from ..core import facts\n"
    )
    found = violations({probe: source})
    assert {line.split(": ", 1)[1] for line in found} == {
        "compat.twilio_video._contract_probe imports aiortc.rtcpeerconnection (only the dev server's SFU uses aiortc)",
        "compat.twilio_video._contract_probe imports compat.vonage (no vendor is imported by the other or by what both build on)",
        "compat.twilio_video._contract_probe imports compat.vonage.session (no vendor is imported by the other or by what both build on)",
        "compat.twilio_video._contract_probe imports livekit.rtc (compat.core is the only client of livekit.rtc)",
    }


def test_the_checker_names_a_dev_server_layer_break() -> None:
    probe = PACKAGE / "devserver" / "room.py"  # read from the given source, not the file
    found = violations({probe: "from compat.devserver.session import SignalConnection\n"})
    assert found == [
        "compat/devserver/room.py:1: compat.devserver.room imports compat.devserver.session (rooms and participants never "
        "call signalling or services directly (ParticipantLink, RoomObserver))",
        "compat/devserver/room.py:1: compat.devserver.room imports compat.devserver.session.SignalConnection (rooms and "
        "participants never call signalling or services directly (ParticipantLink, RoomObserver))",
    ]
