"""Many sources over several instances of one PostgreSQL state: spread, and takeover after SIGKILL.

    python -m benchmarks.instances [--sources 100 --instances 3 --kills 20 --lease 15]

Each instance is a process holding a `store.instances.Membership` (what `baton run` joins with)
for the same `--sources` source ids; no tool is read, so the figures are the coordination's
alone. Printed: the time until every source is held after the instances joined (their
interpreters' start not counted), the spread per
instance, then for each of `--kills` rounds (an instance SIGKILLed at a varying moment of its
renewal period, a new one started): the time until all of the killed instance's sources are
held again (takeover) and, from the newcomer's join, until the spread is fair again with it
(rebalance: the others release what it wins between two of their renewals).
Times are by the database's clock for leases; measured here by the watcher's monotonic clock.
Uses its own database, dropped at the end.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter

from sqlalchemy import text

from baton.store import database
from baton.store.instances import ensure_tables
from tests.pg_helpers import PgServer

MEMBER = """
import sys, time
from baton.core import logs
from baton.store.instances import Membership
logs.configure("json", 40)
member = Membership(sys.argv[1], None, [f"source-{n:03d}" for n in range(int(sys.argv[2]))],
                    seconds=float(sys.argv[3]))
member.start()
print("joined", flush=True)
time.sleep(36000)
"""


def holders(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return dict(connection.execute(text(
            "SELECT substr(name, 8), holder FROM baton_leases WHERE name LIKE 'source:%' "
            "AND expires_at > now()")).all())


def spread(found: dict[str, str]) -> list[int]:
    return sorted(Counter(h.split(":")[1] for h in found.values()).values(), reverse=True)


def wait_until(condition, limit: float = 600.0) -> float:  # type: ignore[no-untyped-def]
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > limit:
            raise TimeoutError("the instances did not settle")
        time.sleep(0.05)
    return time.monotonic() - began


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=100)
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--lease", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    server = PgServer()
    url = server.fresh_url()
    engine = database.postgresql_engine(url, pool_size=1)
    ensure_tables(engine)
    processes: list[subprocess.Popen[str]] = []
    fair = -(-args.sources // args.instances)

    def start() -> subprocess.Popen[str]:
        process = subprocess.Popen([sys.executable, "-c", MEMBER, url, str(args.sources),
                                    str(args.lease)], stdout=subprocess.PIPE, text=True,
                                   env={**os.environ})
        processes.append(process)
        return process

    try:
        for _ in range(args.instances):
            start()
        for process in processes:  # the interpreters' start (imports) is not counted
            assert process.stdout is not None
            process.stdout.readline()
        began = time.monotonic()
        wait_until(lambda: len(holders(engine)) == args.sources)
        all_held = time.monotonic() - began
        wait_until(lambda: spread(holders(engine)) == sorted(
            [fair] * (args.sources % args.instances or args.instances)
            + [args.sources // args.instances] * (args.instances - (
                args.sources % args.instances or args.instances)), reverse=True)
            and len(holders(engine)) == args.sources)
        settled = time.monotonic() - began
        print(f"{args.sources} sources over {args.instances} instances, lease {args.lease:g} s: "
              f"all held {all_held:.1f} s after start, fair spread {spread(holders(engine))} "
              f"after {settled:.1f} s")
        takeovers, rebalances = [], []
        for _ in range(args.kills):
            alive = [p for p in processes if p.poll() is None]
            victim = rng.choice(alive)
            time.sleep(args.lease / 3 * rng.random())  # at a varying moment of its renewals
            found = holders(engine)
            lost = {s for s, h in found.items() if f":{victim.pid}:" in h}
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            takeovers.append(wait_until(lambda lost=lost, pid=victim.pid: all(
                s in (now := holders(engine)) and f":{pid}:" not in now[s] for s in lost)))
            newcomer = start()
            assert newcomer.stdout is not None
            newcomer.stdout.readline()
            rebalanced = time.monotonic()
            wait_until(lambda: len(holders(engine)) == args.sources
                       and max(spread(holders(engine))) <= fair
                       and len(spread(holders(engine))) == args.instances)
            rebalances.append(time.monotonic() - rebalanced)
        if takeovers:
            print(f"takeover after SIGKILL, {len(takeovers)} kills: median "
                  f"{statistics.median(takeovers):.2f} s, max {max(takeovers):.2f} s "
                  f"(target under {2 * args.lease:g} s); rebalance with the new instance: median "
                  f"{statistics.median(rebalances):.2f} s, max {max(rebalances):.2f} s")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout:
                process.stdout.close()
        engine.dispose()
        server.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
