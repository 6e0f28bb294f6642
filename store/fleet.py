"""What `baton status` reads of the instances of a PostgreSQL state (read-only, one connection)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import text


def read_status(engine: Any) -> dict[str, Any]:
    """For `baton status`: the instances, every source lease and every source's last success,
    with ages by the database's clock (read-only; empty lists on a state no instance joined)."""
    with engine.connect() as connection:
        if connection.execute(text("SELECT to_regclass('baton_instances')")).scalar() is None:
            return {"instances": [], "leases": [], "runs": []}
        found = {
            "instances": connection.execute(text("""
                SELECT id, host, pid, started_at, extract(epoch FROM now() - heartbeat_at),
                       expires_at > now() FROM baton_instances ORDER BY id""")).all(),
            "leases": connection.execute(text("""
                SELECT substr(name, 8), holder, epoch, extract(epoch FROM now() - acquired_at),
                       expires_at > now() FROM baton_leases WHERE name LIKE 'source:%'
                ORDER BY name""")).all(),
            "runs": connection.execute(text("""
                SELECT source, holder, last_success_at, extract(epoch FROM now() - last_success_at)
                FROM baton_source_runs ORDER BY source""")).all(),
        }
    return {
        "instances": [{"id": r[0], "host": r[1], "pid": r[2], "started_at": r[3].isoformat(),
                       "heartbeat_age_s": round(float(r[4]), 1), "live": bool(r[5])}
                      for r in found["instances"]],
        "leases": [{"source": r[0], "holder": r[1], "epoch": int(r[2]),
                    "age_s": round(float(r[3]), 1), "live": bool(r[4])} for r in found["leases"]],
        "runs": [{"source": r[0], "holder": r[1], "last_success": r[2].isoformat(),
                  "age_s": round(float(r[3]), 1)} for r in found["runs"]],
    }
