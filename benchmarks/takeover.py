"""Takeover time of a PostgreSQL state's lease after a SIGKILL of its holder.

    python -m benchmarks.takeover [--kills 20] [--lease 15]

Each round starts a holder process (a `PgLease` renewing in the background), SIGKILLs it once it
holds the lease, and times how long a standby waiting with `acquire(wait=True)` takes to hold it
(epoch + 1). The expected figure is the lease's remaining time (at most one period; renewals every
third of it) plus the standby's poll (at most 1 s). Uses its own database, dropped at the end.
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

from baton.store.leases import PgLease
from tests.pg_helpers import PgServer

HOLDER = """
import sys, time
from baton.store.leases import PgLease
lease = PgLease(sys.argv[1], seconds=float(sys.argv[2]))
lease.acquire(wait=True)
print("held", lease.epoch, flush=True)
time.sleep(3600)
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--lease", type=float, default=15.0)
    args = parser.parse_args()
    server = PgServer()
    url = server.fresh_url()
    times: list[float] = []
    try:
        for _ in range(args.kills):
            holder = subprocess.Popen([sys.executable, "-c", HOLDER, url, str(args.lease)],
                                      stdout=subprocess.PIPE, text=True, env={**os.environ})
            assert holder.stdout is not None
            while not holder.stdout.readline().startswith("held"):  # after its log lines
                pass
            time.sleep(args.lease / 3 * (len(times) % 3) / 2)  # killed at varying lease ages
            holder.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            holder.wait()
            holder.stdout.close()
            standby = PgLease(url, seconds=args.lease, on_lost=lambda reason: None)
            standby.acquire(wait=True)
            times.append(time.monotonic() - killed)
            standby.release()  # a released lease is taken at once by the next holder
        print(f"takeover after SIGKILL, lease {args.lease:g} s, {len(times)} kills: "
              f"median {statistics.median(times):.2f} s, max {max(times):.2f} s")
    finally:
        server.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
