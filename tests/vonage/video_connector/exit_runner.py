"""Run tests/vonage/video_connector/exit_bot.py many times, each in its own process, against one
dev server with a Twilio-API peer: tests/core/exit_runner.py with this bot (same options).

    flock /tmp/compat-media.lock scripts/netns-run .venv/bin/python -m tests.vonage.video_connector.exit_runner --runs 50
"""

from __future__ import annotations

import sys

from tests.core.exit_runner import main

BOT = "tests.vonage.video_connector.exit_bot"

if __name__ == "__main__":
    sys.exit(main(bot=BOT))
