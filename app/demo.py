"""`baton demo`: the whole loop on the built-in sandbox, in about half a minute, no credentials.

A scripted team works in the emulated Salesforce, Asana and Sheets while Baton runs its real
cycles against them through the real SDKs. The sandbox clock is shared and moved by the script,
so a ten-minute working morning (including a missed 5-minute speed-to-lead SLA) plays out at once.
"""
from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from baton.core import logs
from baton.kpi.compute import KPI_BY_NAME
from baton.core.config import Config, load_config
from baton.sandbox.environment import Sandbox, SandboxClock

DEMO_START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday morning
SHEET_TAB = "UTM Tracker"


@dataclass
class Cast:
    """The records the story follows, created before the baseline so they are 'old' to Baton."""

    leads: dict[str, str] = field(default_factory=dict)  # short name -> lead id
    tasks: dict[str, str] = field(default_factory=dict)  # short name -> task gid
    rows: dict[str, str] = field(default_factory=dict)  # short name -> key (Campaign ID)


def cast_the_story(sandbox: Sandbox) -> Cast:
    cast = Cast()
    sf = sandbox.salesforce
    sdr = sandbox.org.sdr_id
    leads = {
        "ada": {"FirstName": "Ada", "LastName": "Byron", "Company": "Analytical Engines Ltd",
                "Title": "Head of Growth", "Email": "ada.byron@analytical-engines.example",
                "LeadSource": "Webinar", "Webinar_Topic__c": "Attribution 101", "Consent__c": True},
        "grace": {"FirstName": "Grace", "LastName": "Hopper", "Company": "Cobol Systems",
                  "Email": "grace.hopper@cobol-systems", "LeadSource": "Webinar", "Consent__c": False},
        "alan": {"FirstName": "Alan", "LastName": "Turing", "Company": "Bletchley Analytics",
                 "Title": "CTO", "Email": "alan@bletchley-analytics.example",
                 "LeadSource": "Demo Request", "Consent__c": True},
    }
    for short, values in leads.items():
        cast.leads[short] = sf.create_record(
            "Lead", {**values, "Status": "Open - Not Contacted", "OwnerId": sdr})

    asana, project = sandbox.asana, sandbox.project_gid
    people = {u.name: gid for gid, u in asana.users.items()}
    tasks = {
        "winter": ("CMP-1201_email_winter-launch_v1_20261124", "Drafting", "Maya Ortiz", {
            "Campaign ID": "CMP-1201", "Channel": "email", "Visual brief": "Snowy hero, 600px, one CTA",
            "Landing URL": "https://acme.example/winter?utm_source=newsletter&utm_medium=email"
                           "&utm_campaign=cmp-1201-winter-launch"}),
        "partner": ("CMP-1202_emial_partner-webinar_v1_20261124", "Drafting", "Maya Ortiz", {
            "Campaign ID": "CMP-1202", "Channel": "email", "Visual brief": ""}),
        "carousel": ("CMP-1203_paid-social_launch-carousel_v2_20261124", "In Design", "Priya Nair", {
            "Campaign ID": "CMP-1203", "Channel": "paid-social", "Visual brief": "5 cards 1080x1080",
            "Landing URL": "https://acme.example/launch?utm_source=Meta&utm_medium=paid-social"
                           "&utm_campaign=cmp-1230-launch&utm_medium=cpc"}),
    }
    for short, (name, section, assignee, fields) in tasks.items():
        cast.tasks[short] = asana.create_task(project, name, section, fields,
                                              assignee=people.get(assignee))

    sheet = sandbox.sheets
    header = sheet.header(sandbox.spreadsheet_id, SHEET_TAB)
    rows = {
        "spring": ["CMP-1301", "email", "CMP-1301_email_spring-digest_v1_20261124",
                   "maya.ortiz@acme.example",
                   "https://acme.example/spring?utm_source=newsletter&utm_medium=email"
                   "&utm_campaign=cmp-1301-spring-digest", "Draft"],
        "retarget": ["CMP-1302", "display", "CMP-1302_display_retarget-banner_v1_20261124",
                     "priya.nair@acme.example",
                     "https://acme.example/demo?utm_source=GDN&utm_campaign=cmp-1302-retarget", "Draft"],
    }
    for short, cells in rows.items():
        sheet.insert_row(sandbox.spreadsheet_id, SHEET_TAB, 1,
                         [dict(zip(["Campaign ID", "Channel", "Asset", "Owner", "Landing URL", "Status"],
                                   cells, strict=True)).get(h, "") for h in header])
        cast.rows[short] = cells[0]
    return cast


@dataclass
class Scene:
    minute: float  # when it happens, minutes after the demo starts
    title: str
    act: Callable[[], None]


def script(sandbox: Sandbox, cast: Cast) -> list[Scene]:
    sf, asana, sheets = sandbox.salesforce, sandbox.asana, sandbox.sheets
    org = sandbox.org

    def lead(short: str, by: str | None = None, **changes: Any) -> Callable[[], None]:
        return lambda: sf.update_record("Lead", cast.leads[short], changes, by_user_id=by or org.sdr_id)

    def row(short: str, column: str, value: str) -> Callable[[], None]:
        return lambda: sheets.set_cell(sandbox.spreadsheet_id, SHEET_TAB, "Campaign ID",
                                       cast.rows[short], column, value)

    def both(*steps: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            for step in steps:
                step()
        return run

    return [
        Scene(1, "Marketing hands Ada Byron (complete) and Grace Hopper (no title, no consent, "
                 "no webinar topic, broken email) to sales as MQLs",
              both(lead("ada", Status="MQL"), lead("grace", Status="MQL"))),
        Scene(1.5, "Alan Turing becomes an MQL ...", lead("alan", Status="MQL")),
        Scene(3.5, "... and an SDR calls him two minutes later (both moves happen between two polls)",
              lead("alan", Status="Working - Contacted")),
        Scene(3.6, "Content: 'winter' and 'partner' (typo in the name, no brief) go to Ready for "
                   "Design; 'carousel' (bad UTMs; its campaign CMP-1203 is missing in Salesforce) goes "
                   "to Ready for Web",
              both(lambda: asana.move_task(cast.tasks["winter"], "Ready for Design"),
                   lambda: asana.move_task(cast.tasks["partner"], "Ready for Design"),
                   lambda: asana.move_task(cast.tasks["carousel"], "Ready for Web"))),
        Scene(3.7, "UTM tracker: 'spring' and 'retarget' (uppercase source, no medium) go to Ready for QA",
              both(row("spring", "Status", "Ready for QA"), row("retarget", "Status", "Ready for QA"))),
        Scene(5.0, "Lena (remediation) fixes Grace's record and hands her over again; the writer "
                   "fixes 'partner' and moves it to Ready for Design again; 'retarget' is fixed",
              both(lead("grace", by=org.remediation_id, Title="VP Engineering", Consent__c=True,
                        Email="grace.hopper@cobol-systems.example",
                        Webinar_Topic__c="Lead scoring in practice", Status="MQL"),
                   lambda: asana.rename_task(cast.tasks["partner"],
                                             "CMP-1202_email_partner-webinar_v1_20261124"),
                   lambda: asana.set_custom_field(cast.tasks["partner"], "Visual brief",
                                                  "Speaker cards and a date badge"),
                   lambda: asana.move_task(cast.tasks["partner"], "Ready for Design"),
                   row("retarget", "Landing URL", "https://acme.example/demo?utm_source=gdn"
                       "&utm_medium=display&utm_campaign=cmp-1302-retarget"),
                   row("retarget", "Status", "Draft"))),
        Scene(5.5, "... and 'retarget' goes back to Ready for QA", row("retarget", "Status", "Ready for QA")),
        Scene(6.5, "Nobody has called Ada yet (MQL at minute 1; the SLA is 5 minutes)", lambda: None),
        Scene(8.0, "An SDR calls Grace (3 minutes after her second MQL) and, late, Ada",
              both(lead("grace", Status="Working - Contacted"), lead("ada", Status="Working - Contacted"))),
        Scene(9.0, "Nothing happens: an idle cycle", lambda: None),
    ]


DEMO_CONFIG = Path(__file__).with_name("demo.toml")  # shipped as package data


def run_demo(config_path: Path | None = None, *, workdir: Path | None = None,
             scorecard: Path | None = None, keep: Path | None = None,
             out: Callable[[str], None] = print) -> int:
    """Play the scripted morning; returns 0 when every expected write-back was made.

    `keep`: a folder that keeps the state, a config for it and the scorecard afterwards."""
    import logging

    logs.configure("json", level=logging.ERROR)  # the story is told on stdout
    config = load_config(config_path or DEMO_CONFIG)
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        workdir = keep
    card = scorecard or (keep / "scorecard.html" if keep else Path("baton-demo-scorecard.html"))
    with tempfile.TemporaryDirectory(prefix="baton-demo-") as tmp:
        root = workdir or Path(tmp)
        clock = SandboxClock(DEMO_START)
        with Sandbox(root, clock=clock) as sandbox:
            code = _play(config, sandbox, root, card, out)
            if keep is not None:
                kept = sandbox.write_config(config, keep / "baton.toml", root / "state.db")
                _print_next(kept, out)
            return code


def _print_next(config: Path, out: Callable[[str], None]) -> None:
    out(f"\nKept in {config.parent}: the state (state.db), {config.name} (its config; the "
        "sandbox servers it names have stopped) and scorecard.html. Try:")
    for command in (f"baton test --config {config}    # the demo rules' tests",
                    f"baton report --config {config} --since 2026-11-23",
                    f'baton explain --config {config} "Grace Hopper"',
                    f"baton audit --config {config} --since 2026-11-23",
                    f"baton preview --config {config} mql-entry --since 2026-11-23",
                    f"baton preview --config {config} mql-seniority --since 2026-11-23"
                    "    # the shadow gate: what it would have written",
                    "baton sandbox    # live emulated tools to try run, backfill, doctor, /healthz"):
        out(f"  {command}")


def _play(config: Config, sandbox: Sandbox, root: Path, scorecard: Path,
          out: Callable[[str], None]) -> int:
    from baton.app.runtime import open_runtime

    cast = cast_the_story(sandbox)
    configured, secrets = sandbox.configure(config, root / "state.db")
    runtime = open_runtime(configured, secrets)
    runner = runtime.runner(clock=sandbox.clock.now)
    out(f"Baton demo: sandbox servers on 127.0.0.1 ({', '.join(sandbox.tools)}), "
        f"state in {root / 'state.db'}")
    out(f"Rules {runtime.rules.current().version}: "
        f"{', '.join(g.id for g in runtime.rules.current().gates)}\n")

    sandbox.reset_calls()
    runner.run_all()
    out(f"[09:00] Baseline: {_baseline_line(runner)}; API calls {_calls(sandbox)}; nothing written.")
    told: list[str] = []
    for scene in script(sandbox, cast):
        sandbox.clock.set(DEMO_START + timedelta(minutes=scene.minute))
        scene.act()
        told.append(f"[{_hhmm(sandbox.clock.now())}] {scene.title}")
        if scene.minute in (1.5, 3.6):
            continue  # the next scene happens before Baton's next poll
        sandbox.clock.advance(20)
        sandbox.reset_calls()
        reports = runner.run_all()
        for line in told:
            out(line)
        told.clear()
        for source_id, report in reports.items():
            if report is None:
                health = runner.health.get(source_id)
                out(f"    {source_id}: skipped ({health.last_error if health else 'paused'})")
                continue
            if report.transitions or report.written or report.failed:
                out(f"    {source_id}: {report.transitions} transition(s), {report.violations} "
                    f"violation(s), {report.written} write-back(s), {report.sla_breaches} SLA step(s)"
                    + (f", {report.failed} FAILED" if report.failed else ""))
                for line in report.planned:
                    out(f"      -> {_plain(line.split(' ', 2)[2])}")
        out(f"    API calls this cycle: {_calls(sandbox)}")
    out("")
    _print_written(sandbox, cast, out)
    _print_scorecard(configured, runtime.store, sandbox.clock.now(), scorecard, out)
    return 0


def _print_scorecard(config: Config, store: Any, now: datetime, path: Path,
                     out: Callable[[str], None]) -> None:
    from baton.kpi.commands import build_report
    from baton.kpi.render import render_html

    report = build_report(config, store, DEMO_START - timedelta(days=1), now + timedelta(seconds=1), now)
    out("\nHandoff Health Scorecard (this morning; `baton report` prints every KPI)")
    for name in SCORECARD_TILES:
        value = report.value(name)
        shown = "n/a" if value is None or value.value is None else _format(value.value, name)
        out(f"  {KPI_BY_NAME[name].title:<26} {shown:>9}   (n={value.count if value else 0})")
    for gate in report.shadow:  # shadow mode: a trial gate, apart from the KPIs
        out(f"  Shadow gate {gate.gate_id} (observe mode): would have failed {gate.would_fail} of "
            f"{gate.entries} entr(y/ies), written nothing; `baton preview {gate.gate_id}` shows what")
    path.write_text(render_html(report), encoding="utf-8")
    out(f"HTML scorecard written to {path.resolve()}")


SCORECARD_TILES = ("first_pass_yield", "rework_rounds", "speed_to_lead_median",
                   "speed_to_lead_within_target", "lead_acceptance_rate", "sla_compliance")


def _format(value: float, name: str) -> str:
    unit = KPI_BY_NAME[name].unit
    return {"%": f"{value:.1f} %", "min": f"{value:.1f} min"}.get(unit, f"{value:.2f}")


def _baseline_line(runner: Any) -> str:
    parts = []
    for source_id, health in runner.health.items():
        report = health.last_report
        parts.append(f"{source_id} {report.records_seen if report else '?'} records")
    return ", ".join(parts)


def _calls(sandbox: Sandbox) -> str:
    return ", ".join(f"{tool} {count}" for tool, count in sandbox.calls().items())


def _plain(planned: str) -> str:
    """A planned write-back as a person reads it: no internal ids."""
    return re.sub(r"\bclose (task|comment) \S+", r"close the \1 it opened", planned)


def _hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S")


def _print_written(sandbox: Sandbox, cast: Cast, out: Callable[[str], None]) -> None:
    sf = sandbox.salesforce
    users = {u["Id"]: u["Name"] for u in sf.records("User")}
    out("What the teams see now")
    out("  Salesforce Tasks written by Baton:")
    for task in sf.records("Task"):
        out(f"    - {task['Subject']!r} -> {users.get(task['OwnerId'], task['OwnerId'])} [{task['Status']}]")
    leads = {row["Id"]: row for row in sf.records("Lead")}
    for lead_id in cast.leads.values():
        out(f"  Lead {leads[lead_id]['Name']}: {leads[lead_id]['Status']}")
    out("  Asana:")
    for short, gid in cast.tasks.items():
        comments = [c for c in sandbox.asana.comments(gid)]
        subtasks = sandbox.asana.subtasks(gid)
        names = "".join(f" ({', '.join(repr(s['name']) for s in subtasks)})" if subtasks else "")
        out(f"    - {short}: section {sandbox.asana.section_of(gid)!r}, {len(comments)} comment(s), "
            f"{len(subtasks)} subtask(s){names}")
        for comment in comments:
            out("        " + comment["text"].replace("\n", "\n        "))
    notes = sorted(sandbox.sheets.notes(sandbox.spreadsheet_id, SHEET_TAB).items())
    out(f"  Sheets notes on the UTM Tracker: {len(notes) or 'none (the note on retarget was cleared when it passed)'}")
    for (r, c), note in notes:
        out(f"    - row {r + 1}, column {c + 1}: " + note.replace("\n", " | "))
