"""Config files (YAML, JSON, .env, HCL, nginx, ...) and dependency manifests, scanned by pattern.

Whole-line comments are not config, so a vendor host or credential there is no finding; they
do count as the context that ties an IP range to a vendor (`allow 1.2.3.0/24;  # Twilio`).
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator

from . import knowledge as K
from .model import Finding

_COMMENT = re.compile(r"\s*(?:#|//|;|/\*|\*\s)")


@functools.cache
def _host_rules() -> list[tuple[re.Pattern[str], K.HostRule]]:
    return [(re.compile(rule.regex), rule) for rule in K.HOST_RULES]


def _vendor_hosts(text: str) -> Iterator[tuple[int, str, K.HostRule]]:
    """(offset, host, rule) of each vendor host: found by its domain tail, then read leftwards."""
    for tail in K.HOST_TAIL.finditer(text):
        start = tail.start()
        while start > 0 and text[start - 1] in K.HOST_CHARS:
            start -= 1
        host = text[start:tail.end()]
        rule = next((rule for regex, rule in _host_rules() if regex.fullmatch(host)), None)
        if rule is not None:
            yield start, host, rule


class _Lines:
    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0, *(m.end() for m in re.finditer("\n", text))]

    def number(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def line(self, number: int) -> str:
        start = self.starts[number - 1]
        end = self.starts[number] - 1 if number < len(self.starts) else len(self.text)
        return self.text[start:end]

    def is_comment(self, number: int) -> bool:
        return _COMMENT.match(self.line(number)) is not None


def scan_config(path: str, name: str, text: str) -> list[Finding]:
    lines = _Lines(text)
    found: dict[tuple[int, str, str], Finding] = {}
    for finding in (*_host_findings(path, lines), *_credential_findings(path, lines), *_ip_findings(path, lines),
                    *_dependency_findings(path, name, lines)):
        found.setdefault((finding.line, finding.category, finding.api), finding)
    return sorted(found.values())


def _host_findings(path: str, lines: _Lines) -> Iterator[Finding]:
    for offset, host, rule in _vendor_hosts(lines.text):
        number = lines.number(offset)
        if not lines.is_comment(number):
            yield Finding(path, number, rule.category, rule.vendor, f"{rule.api} ({host})", rule.offer)


def _credential_findings(path: str, lines: _Lines) -> Iterator[Finding]:
    for match in K.CREDENTIAL.finditer(lines.text):
        number = lines.number(match.start())
        if lines.is_comment(number):
            continue
        vendor = K.TWILIO if match.group(1).lower() == "twilio" else K.VONAGE
        yield Finding(path, number, "credentials", vendor, match.group(), "credentials")


def _ip_findings(path: str, lines: _Lines) -> Iterator[Finding]:
    for match in K.IP_OR_CIDR.finditer(lines.text):
        number = lines.number(match.start())
        if lines.is_comment(number) or K.HOST_TAIL.search(lines.line(number)):
            continue  # an IP beside a vendor host maps that host (`api.opentok.com:10.0.0.1`): the host is the finding
        context = _context(lines, number)
        vendor_word = K.VENDOR_WORD.search(context)
        if vendor_word is None:
            continue
        vendor = K.TWILIO if vendor_word.group().lower() == "twilio" else K.VONAGE
        if K.WEBHOOK_WORD.search(context):
            yield Finding(path, number, "webhook-allowlist", vendor, match.group(), "allowlist")
        else:
            yield Finding(path, number, "vendor-ip-range", vendor, match.group(), "ip-range")


def _context(lines: _Lines, number: int) -> str:
    """The line and the lines above it up to a blank line (at most IP_CONTEXT_LINES)."""
    parts = [lines.line(number)]
    for above in range(number - 1, max(0, number - 1 - K.IP_CONTEXT_LINES), -1):
        line = lines.line(above)
        if not line.strip():
            break
        parts.append(line)
    return "\n".join(parts)


def _dependency_findings(path: str, name: str, lines: _Lines) -> Iterator[Finding]:
    manifest = "requirements.txt" if name.startswith("requirements") and name.endswith(".txt") else name
    regex = K.MANIFESTS.get(manifest)
    if regex is None:
        return
    for match in regex.finditer(lines.text):
        package = match.group(1)
        vendor = K.DEPENDENCY_PACKAGES[package]
        yield Finding(path, lines.number(match.start(1)), "sdk-dependency", vendor, f"package {package}", "dependency")
