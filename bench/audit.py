"""`compat audit` on a generated 100k-line tree (Python, JavaScript, TypeScript/TSX, config).

    .venv/bin/python -m bench.audit [--lines 100000] [--runs 3] [--json PATH]

The tree is written to a temporary directory: files of ~200 lines, every one of them using a
vendor SDK (so every code file is parsed: the worst case; a file naming no vendor, module,
webhook field or credential is skipped before parsing), with ordinary code around the calls.
Mix by lines: ~40 % Python, ~25 % JavaScript, ~20 % TypeScript/TSX, ~15 % config
(YAML, JSON, .env, HCL, nginx). One warm-up audit (Tree-sitter grammars load, the page cache
fills), then RUNS timed audits on one core (the audit is single-threaded): wall and CPU time,
median. A second phase times Tree-sitter's parse alone on the same code files, to say where the
time goes. Nothing is asserted; the numbers go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from compat.audit import audit
from compat.audit.code import parser_for
from compat.audit.scan import files_to_scan

PY_HEAD = '''"""Visit service {i}."""
import os
from opentok import Client
from twilio.rest import Client as Twilio

ot = Client(os.environ["OPENTOK_API_KEY"], os.environ["OPENTOK_API_SECRET"])
tw = Twilio(os.getenv("TWILIO_API_KEY_SID"), os.getenv("TWILIO_API_SECRET"))


def open_visit_{i}(name: str) -> str:
    # twilio-video clients join this room; OT.initSession on the web
    room = tw.video.v1.rooms.create(unique_name=name)
    session = ot.create_session()
    token = ot.generate_token(session.session_id)
    ot.start_archive(session.session_id, name=name)
    return room.sid + token
'''
PY_FILLER = '''

def helper_{i}_{j}(values: list[int], scale: float = 1.0) -> dict[str, float]:
    """Ordinary code: no vendor."""
    total = 0.0
    for index, value in enumerate(values):
        if value % 3 == 0:
            total += value * scale
        elif value > 100:
            total -= index / (value + 1)
    result = {{"total": total, "count": float(len(values))}}
    return result
'''
JS_HEAD = '''import Video, {{ createLocalTracks }} from 'twilio-video';

// twilio-video room {i}
export async function join{i}(token, name) {{
  const tracks = await createLocalTracks({{ audio: true, video: true }});
  const room = await Video.connect(token, {{ name, tracks }});
  room.on('participantConnected', (p) => p.on('trackSubscribed', (t) => document.body.appendChild(t.attach())));
  room.on('disconnected', (r, error) => {{ if (error && error.code === 53000) console.log('lost'); }});
  return room.localParticipant.networkQualityLevel;
}}
'''
JS_FILLER = '''
export function helper{i}_{j}(values, scale = 1) {{
  let total = 0;
  for (const [index, value] of values.entries()) {{
    if (value % 3 === 0) {{
      total += value * scale;
    }} else if (value > 100) {{
      total -= index / (value + 1);
    }}
  }}
  return {{ total, count: values.length, label: `helper ${{index}}` }};
}}
'''
TSX_HEAD = '''import React, {{ useEffect, useRef }} from 'react';
import type {{ RemoteParticipant, RemoteVideoTrack }} from 'twilio-video';

type Props{i} = {{ participant: RemoteParticipant }};

export function Tile{i}({{ participant }}: Props{i}) {{
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {{
    const onTrack = (track: RemoteVideoTrack) => ref.current?.appendChild(track.attach());
    participant.on('trackSubscribed', onTrack);
    return () => {{ participant.off('trackSubscribed', onTrack); }};
  }}, [participant]);
  return <div ref={{ref}}>{{participant.identity}}</div>;
}}
'''
TS_FILLER = '''
export function helper{i}_{j}(values: number[], scale: number = 1): {{ total: number; count: number }} {{
  let total = 0;
  for (const [index, value] of values.entries()) {{
    if (value % 3 === 0) {{
      total += value * scale;
    }} else if (value > 100) {{
      total -= index / (value + 1);
    }}
  }}
  return {{ total, count: values.length }};
}}
'''
CONFIG = {
    "yaml": ('env:\n  - name: TWILIO_API_KEY_SID\n    value: SK{i}\niceServers: ["turn:global.turn.twilio.com:443"]\n',
             "service_{i}_{j}:\n  replicas: 2\n  image: registry.example.com/app:{j}\n  ports: [8080, 8081]\n"),
    "json": ('{{"opentok": {{"apiUrl": "https://api.opentok.com", "key{i}": 1}},\n',
             ' "item_{i}_{j}": {{"enabled": true, "limit": {j}, "name": "ordinary"}},\n'),
    "env": ("TWILIO_ACCOUNT_SID=AC{i}\nOPENTOK_API_SECRET=s{i}\n", "APP_SETTING_{i}_{j}=value{j}\n"),
    "tf": ('resource "aws_security_group_rule" "twilio_{i}" {{\n  cidr_blocks = ["168.86.128.0/18"]\n}}\n',
           'variable "setting_{i}_{j}" {{\n  default = "{j}"\n}}\n'),
    "conf": ("location /video{i}/ {{\n  proxy_pass https://video.twilio.com/v1/;\n}}\n",
             "location /app{i}_{j}/ {{\n  proxy_pass http://app:8000;\n}}\n"),
}
LINES_PER_FILE = 200


def _fill(head: str, filler: str, i: int) -> str:
    parts, j = [head.format(i=i)], 0
    while sum(p.count("\n") for p in parts) < LINES_PER_FILE:
        parts.append(filler.format(i=i, j=j))
        j += 1
    return "".join(parts)


def generate(root: Path, lines: int) -> tuple[int, int]:
    """Write the tree; return (files, lines)."""
    plan = [("py", PY_HEAD, PY_FILLER, 0.40), ("js", JS_HEAD, JS_FILLER, 0.25), ("tsx", TSX_HEAD, TS_FILLER, 0.10),
            ("ts", JS_HEAD, TS_FILLER, 0.10)]
    plan += [(ext, head, filler, 0.15 / len(CONFIG)) for ext, (head, filler) in CONFIG.items()]
    files = total = 0
    for ext, head, filler, share in plan:
        written, i = 0, 0
        while written < lines * share:
            text = _fill(head, filler, i)
            if ext == "json":
                text += ' "end": 0}\n'
            name = ".env" if ext == "env" else f"f{i}.{ext}"
            target = root / ext / f"d{i // 50}" / (f"svc{i}{name}" if ext == "env" else name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            written += text.count("\n")
            i += 1
            files += 1
        total += written
    return files, total


def parse_only(root: Path) -> float:
    """CPU seconds Tree-sitter takes to parse the code files alone."""
    jobs = [(path.read_bytes(), kind) for path, kind in files_to_scan(root) if kind != "config"]
    start = time.process_time()
    for data, kind in jobs:
        parser_for(kind)[0].parse(data)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        root = Path(tmp)
        files, lines = generate(root, args.lines)
        findings = len(audit(root).findings)  # warm-up
        walls, cpus = [], []
        for _ in range(args.runs):
            wall, cpu = time.perf_counter(), time.process_time()
            audit(root)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        parse_cpu = parse_only(root)
    result = {
        "files": files, "lines": lines, "findings": findings, "runs": args.runs,
        "wall_s_median": round(statistics.median(walls), 3), "cpu_s_median": round(statistics.median(cpus), 3),
        "lines_per_s": round(lines / statistics.median(walls)), "parse_only_cpu_s": round(parse_cpu, 3),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
