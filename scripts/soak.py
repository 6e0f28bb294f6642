"""Crash soak: kill Baton with SIGKILL at random points of many cycles, restart it, and check that
every due write-back exists exactly once and every transition is logged exactly once.

    python scripts/soak.py --kills 1000 --seed 7        # a long run; prints the figures
    python scripts/soak.py --kills 200 --keep /tmp/soak # keep the state, configs and logs

The sandbox (Salesforce, Asana and Sheets emulators) runs in this process; Baton runs as separate
processes against it, exactly as `baton run` would. A process start costs about a second of
imports, so the processes are forked from a *zygote* that imported Baton once: each fork is a
fresh Baton process (its own connectors, sessions and SQLite connections) that begins at
`baton.app.cli.main(...)`. Kills come in three kinds:

    point   BATON_CRASH_AT=<named point> (core/faults.py), optionally after N passes
    timed   `baton run --once`, killed from outside at a random moment of its cycle
    loop    `baton run` (the real scheduler, 1 s intervals), killed after a random 0.3-1.5 s

A quarter of those runs have a *rival*: a second `baton run --once` on the same state, forked
from a second zygote at a random moment of the first one's life. Exactly one of the two may
write at a time (the state's writer lock); the other exits 75 (`rivals` counts who ran).

Between two Baton processes a scripted team moves records: leads into MQL with missing data,
Asana tasks into Ready for Design / Ready for Web with bad fields, sheet rows into Ready for QA.
At the end Baton runs a few times without crashes and `verify` compares the tools with the store.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from baton.app.exit_codes import STATE_LOCKED

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MARKER = re.compile(r"\[baton:([0-9a-f]+)\]")
SF, ASANA, SHEETS = "salesforce:leads", "asana:content-calendar", "sheets:utm-tracker"
GATE_FILES = ("asana-content.toml", "salesforce-leads.toml", "sheets-utm.toml", "taxonomy.toml")

# Leads that can never pass the MQL gate: no title, no consent, a webinar without a topic.
BAD_LEADS = [{"FirstName": f"Crash{n}", "LastName": "O'Test" if n % 3 == 0 else f"Lead{n}",
              "Company": f"Kill Nine {n} Ltd", "Email": f"crash{n}@example.com",
              "LeadSource": "Webinar", "Consent__c": False, "Status": "Open - Not Contacted"}
             for n in range(12)]
# Asana tasks (by Campaign ID) that fail "ready-for-design" (no brief / bad name) or
# "ready-for-web" (bad UTM); sheet rows that fail "utm-qa".
DESIGN_FAILS = ["CMP-1045", "CMP-1047", "CMP-1050", "CMP-1055", "CMP-1060", "CMP-1065", "CMP-1066",
                "CMP-1071"]
WEB_FAILS = ["CMP-1048", "CMP-1049", "CMP-1057", "CMP-1062", "CMP-1067"]
SHEET_FAILS = ["CMP-1104", "CMP-1105", "CMP-1106", "CMP-1107", "CMP-1108", "CMP-1122", "CMP-1125"]


# ------------------------------------------------------------------------------------ the zygote

ZYGOTE = r"""
import json, os, signal, sys, time
sys.path.insert(0, sys.argv[1])
import baton.app.cli  # noqa: F401  (the expensive imports, once)
import baton.connectors.salesforce, baton.connectors.asana, baton.connectors.sheets  # noqa: F401
import googleapiclient.discovery  # noqa: F401

def child(request):
    fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.environ.update(request.get("env", {}))
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    code = 70
    try:
        code = baton.app.cli.main(request["argv"])
    except BaseException as error:  # noqa: BLE001 - reported through the exit code and the log
        import traceback
        traceback.print_exc()
        code = getattr(error, "code", 70) if isinstance(error, SystemExit) else 70
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(code or 0))

for line in sys.stdin:
    request = json.loads(line)
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        child(request)
    kill_after = request.get("kill_after")
    status = None
    if kill_after is not None:
        deadline = started + max(0.0, kill_after)
        while status is None and time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            status = status if done else None
            time.sleep(0.002)
        if status is None:  # not reaped yet, so the pid is still this child's
            os.kill(pid, signal.SIGKILL)
    if status is None:
        _, status = os.waitpid(pid, 0)
    print(json.dumps({"code": os.waitstatus_to_exitcode(status),
                      "seconds": time.monotonic() - started}), flush=True)
"""


class Zygote:
    """A Python process that has imported Baton once and forks a fresh Baton per request."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE, str(ROOT)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})

    def run(self, argv: list[str], log: Path, env: dict[str, str] | None = None,
            kill_after: float | None = None, timeout: float = 60.0) -> tuple[int, float]:
        """(exit code, seconds); -9 when the process was killed."""
        assert self._process.stdin and self._process.stdout
        request = {"argv": argv, "log": str(log), "env": env or {}, "kill_after": kill_after}
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        ready, _, _ = select.select([self._process.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"a Baton process did not finish within {timeout} s: {argv}")
        answer = json.loads(self._process.stdout.readline())
        return int(answer["code"]), float(answer["seconds"])

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


# ------------------------------------------------------------------------------------ the team


@dataclass
class Team:
    """Moves records between Baton's runs, like people would (seeded, so a run can be replayed)."""

    box: Any
    store_path: Path
    rng: random.Random
    leads: list[str] = field(default_factory=list)
    tasks: dict[str, str] = field(default_factory=dict)  # Campaign ID -> task gid
    sheet_moves: list[tuple[str, str]] = field(default_factory=list)  # (row key, new status)
    moves: Counter[str] = field(default_factory=Counter)

    def prepare(self) -> None:
        """Before the baseline: the leads that will enter MQL with missing data."""
        self.leads = [self.box.salesforce.create_record("Lead", dict(lead)) for lead in BAD_LEADS]
        asana = self.box.asana
        for gid, task in asana.tasks.items():
            match = re.match(r"(CMP-\d{4})_", task.name)
            if match and self.box.project_gid in task.memberships:
                self.tasks[match.group(1)] = gid

    def act(self) -> None:
        if self.rng.random() < 0.7:
            self._move_lead()
        if self.rng.random() < 0.6:
            self._move_task()
        if self.rng.random() < 0.5:
            self._move_row()

    def _move_lead(self) -> None:
        sf = self.box.salesforce
        rows = {r["Id"]: r for r in sf.records("Lead") if r["Id"] in self.leads}
        # Salesforce keeps whole seconds: A -> B -> A within one second is invisible to anyone
        # (same SystemModstamp, same values), so a lead moves only when its last change is over
        # a second old. Baton's bounce and the move before it may still share a second.
        quiet = self.box.clock.now() - timedelta(seconds=1.05)
        candidates = [i for i, r in rows.items()
                      if _aware(r["SystemModstamp"]) < quiet and r["Status"] != "MQL"]
        if not candidates:
            return
        lead = self.rng.choice(candidates)
        status = rows[lead]["Status"]
        target = "MQL" if status != "Data Remediation" or self.rng.random() < 0.7 \
            else "Working - Contacted"
        sf.update_record("Lead", lead, {"Status": target})
        self.moves[f"lead->{target}"] += 1

    def _move_task(self) -> None:
        asana = self.box.asana
        if self.rng.random() < 0.6:
            key = self.rng.choice(DESIGN_FAILS)
            section = asana.section_of(self.tasks[key], self.box.project_gid)
            target = "Ready for Design" if section != "Ready for Design" else "Drafting"
        else:
            key = self.rng.choice(WEB_FAILS)
            section = asana.section_of(self.tasks[key], self.box.project_gid)
            target = "Ready for Web" if section != "Ready for Web" else "In Design"
        asana.move_task(self.tasks[key], target, project_gid=self.box.project_gid)
        self.moves[f"task->{target}"] += 1

    def _move_row(self) -> None:
        """A row moves only once Baton has recorded its current status: a sheet keeps no
        history, so two moves between two polls would be one change for anyone."""
        from baton.store import StateStore

        sheets, sid = self.box.sheets, self.box.spreadsheet_id
        header = sheets.header(sid, "UTM Tracker")
        key_col, status_col = header.index("Campaign ID"), header.index("Status")
        current = {row[key_col]: row[status_col] for row in sheets.values(sid, "UTM Tracker")[1:]
                   if len(row) > status_col}
        store = StateStore.open(self.store_path)
        try:
            known = {r.record_id: r.status for r in store.stored_records(SHEETS)}
        finally:
            store.engine.dispose()
        ready = [k for k in SHEET_FAILS if known.get(k) == current.get(k)]
        if not ready:
            return
        key = self.rng.choice(ready)
        target = "Draft" if current[key] == "Ready for QA" else "Ready for QA"
        sheets.set_cell(sid, "UTM Tracker", "Campaign ID", key, "Status", target)
        self.sheet_moves.append((key, target))
        self.moves[f"row->{target}"] += 1


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ------------------------------------------------------------------------------------ the soak


@dataclass
class SoakResult:
    kills: Counter[str] = field(default_factory=Counter)
    runs: int = 0
    clean_runs: int = 0
    unexpected_exits: list[tuple[int, str]] = field(default_factory=list)
    rivals: Counter[str] = field(default_factory=Counter)  # "refused" (exit 75) or "ran"
    seconds: float = 0.0
    team_moves: Counter[str] = field(default_factory=Counter)
    checks: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def total_kills(self) -> int:
        return sum(self.kills.values())

    def summary(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.kills.items()))
        return (f"{self.total_kills} kills ({kinds}) in {self.runs} Baton processes, "
                f"{self.seconds:.1f} s; rivals {dict(self.rivals)}; team moves {dict(self.team_moves)}; checked {self.checks}; "
                f"problems: {len(self.problems)}")


def soak(workdir: Path, *, kills: int = 200, seed: int = 1, max_seconds: float = 600.0,
         log: Any = None) -> SoakResult:
    """Run the soak in `workdir`; the result lists every problem `verify` found."""
    from baton.core.config import load_config
    from baton.core.faults import POINTS
    from baton.sandbox.environment import Sandbox, SandboxClock

    rng = random.Random(seed)
    result = SoakResult()
    started = time.monotonic()
    box = Sandbox(workdir / "sandbox", clock=SandboxClock(frozen=False)).start()
    zygote, rival_zygote = Zygote(), Zygote()
    try:
        demo = load_config(ROOT / "config.toml")
        rules = [str(ROOT / "rules" / "demo" / name) for name in GATE_FILES]
        config = demo.model_copy(update={
            "baton": demo.baton.model_copy(update={"rules": rules, "log_format": "json",
                                                   "interval_seconds": 1}),
            "source": [s.model_copy(update={"interval_seconds": 1}) for s in demo.source],
        })
        state = workdir / "state.db"
        config_file = box.write_config(config, workdir / "baton.toml", state)
        logs = workdir / "logs"
        logs.mkdir(exist_ok=True)
        once = ["--config", str(config_file), "run", "--once"]
        loop = ["--config", str(config_file), "run"]
        team = Team(box, state, rng)
        team.prepare()

        def run(argv: list[str], kind: str, rival: bool = False, **kwargs: Any) -> int:
            result.runs += 1
            if rival:
                racer = threading.Thread(target=race, args=(logs / f"{result.runs:05d}-rival.log",
                                                             rng.uniform(0.0, 0.4)))
                racer.start()
            code, seconds = zygote.run(argv, logs / f"{result.runs:05d}-{kind}.log", **kwargs)
            if rival:
                racer.join()
            if code == STATE_LOCKED:
                result.rivals["refused"] += 1
            elif code == -signal.SIGKILL:
                result.kills[kind] += 1
            elif code != 0:
                result.unexpected_exits.append((code, f"{result.runs:05d}-{kind}.log"))
            else:
                result.clean_runs += 1
            durations.append(seconds) if code == 0 and kind == "clean" else None
            return code

        def race(log_file: Path, delay: float) -> None:
            time.sleep(delay)
            code, _ = rival_zygote.run(once, log_file)
            if code == STATE_LOCKED:
                result.rivals["refused"] += 1
            elif code == 0:
                result.rivals["ran"] += 1
            else:
                result.unexpected_exits.append((code, log_file.name))

        durations: list[float] = []
        assert run(once, "clean") == 0, _tail(logs)  # the baseline
        time.sleep(1.1)  # team changes start in a later second than anything the seed did
        t0 = datetime.now(UTC).replace(microsecond=0)
        while result.total_kills < kills and time.monotonic() - started < max_seconds:
            team.act()
            roll = rng.random()
            typical = sorted(durations)[len(durations) // 2] if durations else 0.5
            if roll < 0.45:
                point = rng.choice(POINTS)
                skip = rng.choice((0, 0, 0, 1, 2))
                run(once, f"point:{point}", env={"BATON_CRASH_AT": point,
                                                  "BATON_CRASH_SKIP": str(skip)})
            elif roll < 0.85:
                run(once, "timed", rival=rng.random() < 0.25,
                    kill_after=rng.uniform(0.0, typical * 1.2))
            elif roll < 0.93:
                run(loop, "loop", kill_after=rng.uniform(0.3, 1.5))
            else:
                run(once, "clean")
        # The team stops; Baton finishes what the crashes left.
        for _ in range(4):
            run(once, "clean")
        result.team_moves = team.moves
        verify(box, state, t0, team.sheet_moves, result)
    finally:
        zygote.close()
        rival_zygote.close()
        box.stop()
        result.seconds = time.monotonic() - started
    if log:
        print(result.summary(), file=log)
    return result


def _tail(logs: Path) -> str:
    files = sorted(logs.glob("*.log"))
    return files[-1].read_text()[-3000:] if files else ""


# ------------------------------------------------------------------------------------ verify


def verify(box: Any, state: Path, t0: datetime, sheet_moves: list[tuple[str, str]],
           result: SoakResult) -> None:
    """Exactly once, in the tools and in the store; every problem goes to result.problems."""
    from sqlalchemy import func, select

    from baton.store import StateStore, schema

    problems = result.problems
    store = StateStore.open(state)
    ledger = store.ledger_entries()
    by_key = {e.key: e for e in ledger}
    for entry in ledger:
        if entry.state != "done":
            problems.append(f"ledger {entry.key} {entry.source} {entry.kind} is "
                            f"{entry.state}: {entry.last_error}")

    # 1. write-backs: each marker once in the tools, each done comment/task in the tools
    found: Counter[str] = Counter()
    where: dict[str, str] = {}
    sf = box.salesforce
    for sobject, text_field in (("Task", "Description"), ("FeedItem", "Body")):
        for row in sf.records(sobject):
            for key in MARKER.findall(row.get(text_field) or ""):
                found[key] += 1
                where[key] = f"Salesforce {sobject}"
    asana = box.asana
    for gid, task in list(asana.tasks.items()):
        if box.project_gid not in getattr(task, "memberships", {}):
            continue
        for story in asana.comments(gid):
            for key in MARKER.findall(story.get("text") or ""):
                found[key] += 1
                where[key] = "Asana comment"
        for subtask in asana.subtasks(gid):
            for key in MARKER.findall(subtask.get("notes") or ""):
                found[key] += 1
                where[key] = "Asana subtask"
    for note in box.sheets.notes(box.spreadsheet_id, "UTM Tracker").values():
        for key in MARKER.findall(note):
            found[key] += 1
            where[key] = "Sheets note"
    for key, count in found.items():
        if count != 1:
            problems.append(f"{where[key]} with marker {key} exists {count} times")
        if key not in by_key:
            problems.append(f"{where[key]} with marker {key} has no ledger entry (an orphan write)")
    due = [e for e in ledger if e.kind in ("comment", "task")]
    for entry in due:
        if found[entry.key] != 1 and entry.state == "done":
            problems.append(f"ledger {entry.kind} {entry.key} for {entry.record_id} "
                            f"({entry.source}) is done but the tool has it "
                            f"{found[entry.key]} times")

    # 2. transitions: none twice, none missing against the tools' own history
    t = schema.transitions.c
    with store.engine.connect() as connection:
        twice = connection.execute(
            select(t.source, t.record_id, t.to_status, t.at, func.count())
            .group_by(t.source, t.record_id, t.to_status, t.at).having(func.count() > 1)).all()
    problems.extend(f"transition logged {n} times: {s} {r} -> {to} at {at}"
                    for s, r, to, at, n in twice)
    logged = [x for x in store.transitions() if x.at >= t0]
    sf_logged = Counter((x.record_id, x.to_status, x.at.replace(microsecond=0))
                        for x in logged if x.source == SF)
    sf_history = Counter((h["LeadId"], h["NewValue"], _aware(h["CreatedDate"]).replace(microsecond=0))
                         for h in sf.records("LeadHistory")
                         if h["Field"] == "Status" and _aware(h["CreatedDate"]) >= t0)
    _compare("Salesforce", sf_history, sf_logged, problems)
    sections = {gid: s.name for gid, s in asana.sections.items()}
    asana_history: Counter[tuple[str, str, datetime]] = Counter()
    for gid, task in list(asana.tasks.items()):
        for story in task.stories:
            if story.get("resource_subtype") == "section_changed" \
                    and story.get("project") == box.project_gid and story["created_at"] >= t0:
                at = story["created_at"].astimezone(UTC)
                asana_history[(gid, sections[story["new_section"]],
                               at.replace(microsecond=at.microsecond // 1000 * 1000))] += 1
    asana_logged = Counter((x.record_id, x.to_status, x.at) for x in logged if x.source == ASANA)
    _compare("Asana", asana_history, asana_logged, problems)
    sheet_logged: dict[str, list[str]] = {}
    for x in logged:
        if x.source == SHEETS:
            sheet_logged.setdefault(x.record_id, []).append(x.to_status)
    sheet_expected: dict[str, list[str]] = {}
    for key, status in sheet_moves:
        sheet_expected.setdefault(key, []).append(status)
    if sheet_logged != sheet_expected:
        problems.append(f"Sheets transitions {sheet_logged} != the team's moves {sheet_expected}")

    # 3. every gated entry was evaluated once, every failed one planned its write-backs
    # (the demo's shadow gate, mql-seniority, is recorded beside them and must write nothing)
    shadow = [e for e in store.evaluations() if e.observed]
    evaluations = [e for e in store.evaluations() if not e.observed]
    evaluated = Counter(e.transition_key for e in evaluations)
    gated = {(SF, "MQL"), (ASANA, "Ready for Design"), (ASANA, "Ready for Web"),
             (SHEETS, "Ready for QA")}
    with store.engine.connect() as connection:
        rows = connection.execute(select(t.key, t.source, t.record_id, t.to_status, t.at,
                                         t.recorded_at).where(t.at >= t0)).all()
    # gates run for the status a record is in when Baton looks; a hop it had already left
    # (A -> gated -> B between two polls) is history, not a handoff to check
    last_hop = {}
    for key, source, record_id, _to, _at, recorded_at in sorted(rows, key=lambda r: r[4]):
        last_hop[(source, record_id, recorded_at)] = key
    for key, source, record_id, to_status, at, recorded_at in rows:
        if (source, to_status) in gated and last_hop[(source, record_id, recorded_at)] == key \
                and evaluated[key] != 1:
            problems.append(f"{source} {record_id} -> {to_status} at {at} evaluated "
                            f"{evaluated[key]} times")

    # 4. the store ends where the tools are
    final = {SF: {r["Id"]: r["Status"] for r in sf.records("Lead")},
             ASANA: {gid: asana.section_of(gid, box.project_gid) for gid, task in
                     asana.tasks.items() if box.project_gid in task.memberships},
             SHEETS: {}}
    sheet_rows = box.sheets.values(box.spreadsheet_id, "UTM Tracker")
    key_col, status_col = sheet_rows[0].index("Campaign ID"), sheet_rows[0].index("Status")
    final[SHEETS] = {row[key_col]: row[status_col] for row in sheet_rows[1:]
                     if len(row) > status_col and row[key_col]}
    for source, statuses in final.items():
        stored = {r.record_id: r.status for r in store.stored_records(source)}
        for record_id, status in statuses.items():
            if stored.get(record_id) != status:
                problems.append(f"{source} {record_id} is {status!r} in the tool, "
                                f"{stored.get(record_id)!r} in the store")
    planned = {(e.transition_key, e.gate_id) for e in ledger}
    tasked = {(e.record_id, e.gate_id) for e in ledger if e.kind == "task"}
    for e in evaluations:
        # a failed gate plans nothing only when its earlier task is still open (no new one)
        if not e.passed and (e.transition_key, e.gate_id) not in planned \
                and (e.record_id, e.gate_id) not in tasked:
            problems.append(f"failed gate {e.gate_id} on {e.record_id} planned nothing")
    shadow_writes = {e.gate_id for e in ledger} & {e.gate_id for e in shadow}
    problems.extend(f"shadow gate {gate} has ledger entries" for gate in sorted(shadow_writes))
    store.engine.dispose()
    result.checks = {"markers": len(found), "ledger": len(ledger), "transitions": len(logged),
                     "sf_history": sum(sf_history.values()),
                     "asana_history": sum(asana_history.values()),
                     "sheet_moves": len(sheet_moves), "evaluations": len(evaluations)}


def _compare(tool: str, history: Counter[Any], logged: Counter[Any], problems: list[str]) -> None:
    for item, count in logged.items():
        if count > 1:
            problems.append(f"{tool} transition logged {count} times: {item}")
    for item in history.keys() - logged.keys():
        problems.append(f"{tool} history has {item}, the transition log does not")
    for item in logged.keys() - history.keys():
        problems.append(f"{tool} transition log has {item}, the tool's history does not")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--max-seconds", type=float, default=3600.0)
    parser.add_argument("--keep", type=Path, default=None, help="a folder to keep state and logs in")
    args = parser.parse_args(argv)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="baton-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"seed {args.seed}, workdir {workdir}")
    result = soak(workdir, kills=args.kills, seed=args.seed, max_seconds=args.max_seconds,
                  log=sys.stdout)
    for problem in result.problems[:50]:
        print(f"  PROBLEM {problem}")
    for code, name in result.unexpected_exits[:20]:
        print(f"  EXIT {code}: {workdir / 'logs' / name}")
    if not args.keep and not result.problems:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if result.problems or result.unexpected_exits else 0


if __name__ == "__main__":
    sys.exit(main())
