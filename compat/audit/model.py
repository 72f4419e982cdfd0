"""Findings and the report, and the one error `compat audit` raises."""

from __future__ import annotations

from collections import Counter

import attrs

from .knowledge import CATEGORIES, GROUPS, OFFERS, Offer


class AuditError(Exception):
    """The audit cannot run (bad path, missing extra); the message says what to do."""


@attrs.frozen(order=True)
class Finding:
    """One integration point. `path` is relative to the audited root, with `/` separators."""

    path: str
    line: int
    category: str
    vendor: str
    api: str
    offer_id: str = attrs.field(order=False)
    note: str = attrs.field(default="", order=False)

    @property
    def group(self) -> str:
        return CATEGORIES[self.category].group

    @property
    def offer(self) -> Offer:
        return OFFERS[self.offer_id]

    def as_dict(self) -> dict[str, object]:
        offer = self.offer
        return {
            "file": self.path, "line": self.line, "group": self.group, "category": self.category,
            "vendor": self.vendor, "api": self.api, "note": self.note,
            "compat": {"drop_in": offer.compat, "status": offer.status, "livekit": offer.livekit},
        }


@attrs.frozen
class Report:
    root: str
    files_scanned: int
    findings: tuple[Finding, ...]
    # Files that could not be read: (path, reason). They are reported, never silently dropped.
    unreadable: tuple[tuple[str, str], ...] = ()

    def summary(self) -> list[tuple[str, str, int]]:
        """(group, category, count) in the order of the knowledge tables, categories with findings only."""
        counts = Counter(f.category for f in self.findings)
        order = {name: i for i, name in enumerate(CATEGORIES)}
        rows = [(CATEGORIES[c].group, c, n) for c, n in counts.items()]
        return sorted(rows, key=lambda r: (GROUPS.index(r[0]), order[r[1]]))
