"""Walk a tree, pick each file's scanner, collect the findings."""

from __future__ import annotations

import os
import sys
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from . import knowledge as K
from .config import scan_config
from .model import AuditError, Finding, Report


def kind_of(name: str) -> str | None:
    """'python' / 'javascript' / 'typescript' / 'tsx' / 'config', or None for files not scanned."""
    if name.endswith(K.SKIP_SUFFIXES):
        return None
    stem, ext = os.path.splitext(name)
    if ext in K.TEMPLATE_SUFFIXES and stem:  # secrets.yaml.tmpl, .env.example
        return kind_of(stem) or ("config" if stem.startswith(".env") else None)
    if ext in K.CODE_EXTENSIONS:
        return K.CODE_EXTENSIONS[ext]
    if (ext in K.CONFIG_EXTENSIONS or name in K.CONFIG_NAMES or name.startswith(".env.")
            or (name.startswith("requirements") and ext == ".txt")):
        return "config"
    return None


def files_to_scan(root: Path) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in K.SKIP_DIRS)
        for name in sorted(files):
            kind = kind_of(name)
            if kind is not None:
                found.append((Path(directory, name), kind))
    return found


def audit(path: str | os.PathLike[str], *, progress: bool = False) -> Report:
    """Every Twilio Video / Vonage Video integration point under `path` (a directory or one file).

    `progress`: show a progress bar on stderr (only when stderr is a terminal)."""
    root = Path(path)
    if not root.exists():
        raise AuditError(f"{root}: no such file or directory; give the root of the codebase to audit")
    files = [(root, kind_of(root.name) or "config")] if root.is_file() else files_to_scan(root)
    base = root.parent if root.is_file() else root
    findings: list[Finding] = []
    unreadable: list[tuple[str, str]] = []
    # delay: only a tree that takes a while (a large one) gets a bar.
    bar = tqdm(files, desc="audit", unit="file", disable=not (progress and sys.stderr.isatty()), file=sys.stderr, delay=0.5)
    for file, kind in bar:
        label = PurePosixPath(file.relative_to(base)).as_posix()
        try:
            findings.extend(_scan_file(file, label, kind))
        except OSError as exc:
            unreadable.append((label, exc.strerror or str(exc)))
    return Report(str(root), len(files), tuple(sorted(findings)), tuple(unreadable))


def _scan_file(file: Path, label: str, kind: str) -> list[Finding]:
    if file.stat().st_size > K.MAX_FILE_BYTES:
        raise OSError(0, f"larger than {K.MAX_FILE_BYTES} bytes (generated?), not scanned")
    data = file.read_bytes()
    if kind == "config":
        return scan_config(label, file.name, data.decode("utf-8", "replace"))
    from .code import scan_code  # Tree-sitter only when there is code to parse

    return scan_code(label, kind, data)
