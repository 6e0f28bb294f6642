"""`baton status`: who acts on this state, and when each source last completed a cycle.

PostgreSQL (several instances): every instance (id, host, pid, heartbeat age), the sources each
holds (lease age and epoch, by the database's clock), and every source's last success. SQLite:
the process holding the state's lock and each source's last committed cycle. Read-only.
"""
from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from baton.app import exit_codes
from baton.app.state import open_store, state_location, state_password
from baton.core.config import Config, load_config
from baton.store import database
from baton.store.fleet import read_status
from baton.store.lock import lock_for


def command_status(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    status = _postgresql(config) if database.is_postgresql(state_location(config)) \
        else _sqlite(config)
    if args.format == "json":
        print(json.dumps(status, indent=2, default=str))
    else:
        print(render(status))
    return exit_codes.OK


def _postgresql(config: Config) -> dict[str, Any]:
    location = str(state_location(config))
    engine = database.postgresql_engine(location, state_password(config), pool_size=1)
    try:
        found = read_status(engine)
    finally:
        engine.dispose()
    live = {i["id"] for i in found["instances"] if i["live"]}
    holding = {lease["source"]: lease for lease in found["leases"] if lease["live"]}
    runs = {run["source"]: run for run in found["runs"]}
    sources = []
    for source in config.source:
        lease, run = holding.get(source.id), runs.get(source.id)
        sources.append({"source": source.id, "holder": lease["holder"] if lease else None,
                        "epoch": lease["epoch"] if lease else None,
                        "lease_age_s": lease["age_s"] if lease else None,
                        "last_success": run["last_success"] if run else None,
                        "last_success_age_s": run["age_s"] if run else None,
                        "interval_s": config.interval_for(source)})
    return {"state": database.describe(location), "kind": "postgresql",
            "instances": [{**i, "holds": sorted(s["source"] for s in sources
                                                if s["holder"] == i["id"])}
                          for i in found["instances"] if i["id"] in live],
            "sources": sources}


def _sqlite(config: Config) -> dict[str, Any]:
    location = state_location(config)
    holder = lock_for(location).holder()
    now = datetime.now(UTC)
    sources: list[dict[str, Any]] = []
    if isinstance(location, Path) and not location.exists():  # status creates no state
        return {"state": f"{location} (none yet)", "kind": "sqlite",
                "lock_holder": holder.describe() if holder else None,
                "sources": [{"source": s.id, "holder": None, "last_success": None,
                             "last_success_age_s": None, "interval_s": config.interval_for(s)}
                            for s in config.source]}
    store = open_store(config)
    try:
        for source in config.source:
            updated = store.last_cycle_at(source.id)
            sources.append({"source": source.id, "holder": holder.describe() if holder else None,
                            "last_success": updated.isoformat() if updated else None,
                            "last_success_age_s": round((now - updated).total_seconds(), 1)
                            if updated else None, "interval_s": config.interval_for(source)})
    finally:
        store.engine.dispose()
    return {"state": str(location), "kind": "sqlite",
            "lock_holder": holder.describe() if holder else None, "sources": sources}


def render(status: dict[str, Any]) -> str:
    lines = [f"state: {status['state']} ({status['kind']})"]
    if status["kind"] == "sqlite":
        lines.append(f"lock: {status['lock_holder'] or 'free (no Baton is writing this state)'}")
    else:
        lines.append(f"instances: {len(status['instances'])} live")
        for instance in status["instances"]:
            lines.append(f"  {instance['id']}  host {instance['host']} pid {instance['pid']}  "
                         f"heartbeat {instance['heartbeat_age_s']:.1f} s ago  holds "
                         f"{', '.join(instance['holds']) or 'nothing'}")
    lines.append("sources:")
    for source in status["sources"]:
        age = source["last_success_age_s"]
        last = "never" if age is None else f"{age:.0f} s ago"
        late = age is not None and age > 2 * source["interval_s"]
        held = ""
        if status["kind"] == "postgresql":
            held = (f"  held by {source['holder']} (epoch {source['epoch']}, "
                    f"{source['lease_age_s']:.0f} s)" if source["holder"] else "  UNHELD")
        lines.append(f"  {source['source']}  last success {last}"
                     f"{' (LATE: over twice its interval)' if late else ''}{held}")
    return "\n".join(lines)
