"""Named points where the crash tests kill the process (SIGKILL, like the OOM killer would).

Inert unless BATON_CRASH_AT names the point; the tests use it to prove that a write made just
before a crash is neither lost nor written twice.
"""
from __future__ import annotations

import os
import signal

POINTS = ("after_commit", "after_write")


def crashpoint(name: str) -> None:
    if os.environ.get("BATON_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
