"""Named points where the crash tests kill the process (SIGKILL, like the OOM killer would).

Inert unless BATON_CRASH_AT names the point; the tests use it to prove that a write made just
before a crash is neither lost nor written twice. BATON_CRASH_SKIP=N lets the first N passes
through the point go by (a later source, a later cycle of `baton run`).

    before_commit   the cycle is planned, nothing of it is durable yet
    in_commit       inside the commit transaction, before the cursor row (rolled back)
    after_commit    transitions, pending ledger rows and cursor are durable; nothing written
    after_attempt   the ledger counts an attempt; the write has not gone out
    between_writes  a connector sent part of a write-back (Salesforce: the updates, not yet the
                    creates; Asana: one batch of 10, not the next)
    after_write     the tool has the write-back; the ledger does not know yet
"""
from __future__ import annotations

import os
import signal

POINTS = ("before_commit", "in_commit", "after_commit", "after_attempt", "between_writes",
          "after_write")

_passes: dict[str, int] = {}


def crashpoint(name: str) -> None:
    if os.environ.get("BATON_CRASH_AT") != name:
        return
    _passes[name] = _passes.get(name, 0) + 1
    if _passes[name] > int(os.environ.get("BATON_CRASH_SKIP") or 0):
        os.kill(os.getpid(), signal.SIGKILL)
