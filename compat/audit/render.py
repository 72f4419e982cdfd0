"""The report as text (terminal), JSON (tools) or Markdown (a migration ticket)."""

from __future__ import annotations

import json
from collections.abc import Callable

from .knowledge import CATEGORIES, GROUPS
from .model import Finding, Report

FORMATS = ("text", "json", "markdown")


def offer_text(finding: Finding) -> str:
    offer = finding.offer
    if offer.compat is None:
        return f"manual: {offer.livekit}"
    return f"{offer.compat} ({offer.status}); LiveKit: {offer.livekit}"


def render(report: Report, fmt: str = "text") -> str:
    """`fmt`: one of FORMATS."""
    renderers: dict[str, Callable[[Report], str]] = {"text": _text, "json": _json, "markdown": _markdown}
    if fmt not in renderers:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return renderers[fmt](report)


def _json(report: Report) -> str:
    doc = {
        "root": report.root,
        "files_scanned": report.files_scanned,
        "findings": [f.as_dict() for f in report.findings],
        "summary": [{"group": g, "category": c, "title": CATEGORIES[c].title, "count": n} for g, c, n in report.summary()],
        "unreadable": [{"file": path, "reason": reason} for path, reason in report.unreadable],
    }
    return json.dumps(doc, indent=2) + "\n"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _text(report: Report) -> str:
    out = [f"compat audit {report.root}: {len(report.findings)} findings in {report.files_scanned} files"]
    for group in GROUPS:
        findings = [f for f in report.findings if f.group == group]
        if findings:
            out += ["", f"== {group}"]
            out += [f"{f.path}:{f.line}  {f.category}  {f.vendor}: {f.api}{_note(f)}\n    -> {offer_text(f)}" for f in findings]
    out += ["", "summary", *_table([("group", "category", "findings"), *((g, c, str(n)) for g, c, n in report.summary())])]
    out += [f"unreadable: {path}: {reason}" for path, reason in report.unreadable]
    return "\n".join(out) + "\n"


def _note(finding: Finding) -> str:
    return f" ({finding.note})" if finding.note else ""


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _markdown(report: Report) -> str:
    out = [f"# compat audit: `{report.root}`", "",
           f"{len(report.findings)} integration points in {report.files_scanned} files.", "",
           "## Summary", "", "| group | category | findings |", "|---|---|---|"]
    out += [f"| {g} | {CATEGORIES[c].title} (`{c}`) | {n} |" for g, c, n in report.summary()]
    out += ["", "## Findings", "", "| file | line | group | category | vendor | API | compat offers |", "|---|---|---|---|---|---|---|"]
    out += [_markdown_row(f) for f in report.findings]
    if report.unreadable:
        out += ["", "## Not scanned", "", *(f"- `{_cell(path)}`: {_cell(reason)}" for path, reason in report.unreadable)]
    return "\n".join(out) + "\n"


def _markdown_row(f: Finding) -> str:
    cells = (f"`{_cell(f.path)}`", str(f.line), f.group, f"`{f.category}`", f.vendor, _cell(f.api + _note(f)), _cell(offer_text(f)))
    return "| " + " | ".join(cells) + " |"
