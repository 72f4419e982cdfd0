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
    """Modules under ``forbidden`` may be imported only from packages in ``allowed_in``."""

    forbidden: str
    allowed_in: tuple[str, ...]
    why: str


RULES = (
    Rule("livekit.rtc", ("compat.core", "compat.devserver"), "compat.core is the only client of livekit.rtc"),
    Rule("aiortc", ("compat.devserver",), "only the dev server's SFU uses aiortc"),
    Rule("aioice", ("compat.devserver",), "only the dev server's SFU uses aiortc"),
    Rule("compat.vonage", ("compat.vonage",), "one vendor's code never imports the other's"),
    Rule("compat.twilio_video", ("compat.twilio_video",), "one vendor's code never imports the other's"),
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
                if _within(imp.target, rule.forbidden) and not any(_within(imp.module, p) for p in rule.allowed_in):
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
        "compat.twilio_video._contract_probe imports compat.vonage (one vendor's code never imports the other's)",
        "compat.twilio_video._contract_probe imports compat.vonage.session (one vendor's code never imports the other's)",
        "compat.twilio_video._contract_probe imports livekit.rtc (compat.core is the only client of livekit.rtc)",
    }
