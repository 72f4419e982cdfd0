"""compat.audit: find every Twilio Video / Vonage Video integration point in a codebase.

    report = audit("path/to/app", progress=True)
    print(render(report, "markdown"))

Python, JavaScript and TypeScript are parsed with Tree-sitter (a vendor name in a comment or
string is not a call); config files and dependency manifests are scanned by pattern. What is
recognised, and what compat offers for it, is data: :mod:`compat.audit.knowledge`.
Needs the `audit` extra (`pip install 'livekit-compat[audit]'`).
"""

from __future__ import annotations

from .model import AuditError, Finding, Report
from .render import FORMATS, render
from .scan import audit

__all__ = ["FORMATS", "AuditError", "Finding", "Report", "audit", "render"]
