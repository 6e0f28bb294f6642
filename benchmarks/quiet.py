"""What a bulk of failures costs the team and the API, with and without quiet write-backs.

    python -m benchmarks.quiet [--leads 300]

One emulated org, N incomplete leads of one rep entering MQL in one poll (a bulk import), then
all of them entering MQL again still incomplete (a repeat). Printed per setting: the items
created in Salesforce (Tasks, FeedItems, FeedComments), the Salesforce API calls of the cycle
and its wall time. `digest_above` unset is the individual messages; `digest_above = 20` one
digest for the rep. The repeat shows update in place (on by default); with a digest, the repeat
closes the first digest and opens one new one (its records had no open item of their own).
"""
from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from baton.app.runtime import open_runtime
from baton.connectors.retry import RetryPolicy
from baton.core import logs
from baton.core.config import load_config
from baton.sandbox.environment import Sandbox, SandboxClock
from tests.conftest import ROOT, START
from tests.test_quiet_writebacks import BAD, LEADS_RULE

KINDS = ("Task", "FeedItem", "FeedComment")


def measure(leads: int, digest: bool) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        box = Sandbox(Path(tmp) / "box", clock=SandboxClock(START, frozen=True),
                      tools=("salesforce",)).start()
        try:
            return _run(box, Path(tmp), leads, digest)
        finally:
            box.stop()


def _run(box: Sandbox, tmp: Path, n: int, digest: bool) -> list[str]:
    sf = box.salesforce
    ids = [sf.create_record("Lead", {**BAD, "LastName": f"Import {k:03d}",
                                     "OwnerId": box.org.sdr_id}) for k in range(n)]
    rules = tmp / "rules"
    rules.mkdir()
    (rules / "taxonomy.toml").write_text((ROOT / "rules/demo/taxonomy.toml").read_text())
    text = LEADS_RULE if digest else LEADS_RULE.replace("digest_above = 20\n", "")
    (rules / "leads.toml").write_text(text)
    demo = load_config(ROOT / "config.toml")
    config = demo.model_copy(update={"baton": demo.baton.model_copy(
        update={"rules": [str(rules / "*.toml")]})})
    configured, secrets = box.configure(config, tmp / "state.db")
    runtime = open_runtime(configured, secrets, retry=RetryPolicy(attempts=3, sleep=lambda s: None))
    runner = runtime.runner(clock=box.clock.now)
    runner.run_all()
    lines = []
    for label in ("bulk", "repeat"):
        box.clock.advance(30)
        for lead in ids:
            sf.update_record("Lead", lead, {"Status": "MQL"})
        box.clock.advance(30)
        before = {kind: len(sf.records(kind)) for kind in KINDS}
        box.reset_calls()
        started = time.perf_counter()
        runner.run_all()
        seconds = time.perf_counter() - started
        made = ", ".join(f"{kind} +{len(sf.records(kind)) - before[kind]}" for kind in KINDS)
        open_tasks = sum(1 for t in sf.records("Task") if t["Status"] != "Completed")
        setting = "digest_above = 20" if digest else "no digest       "
        lines.append(f"{setting} {label:6} {n} leads: {made} (open Tasks {open_tasks}); "
                     f"Salesforce calls {box.calls()['salesforce']}; {seconds:.2f} s")
    runtime.close()
    return lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=300)
    args = parser.parse_args()
    logs.configure("json", logging.WARNING)
    for digest in (False, True):
        for line in measure(args.leads, digest):
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
