"""The benchmark's world: a sandbox seeded at scale, its config, and the status burst.

Shared by the benchmark processes (`benchmarks.serve`, `benchmarks.baton_side`) and by
`tests/test_benchmark_small.py`, which runs the same scenarios in-process with a few hundred
records and asserts the API-call counts.

Sources (ids as the benchmark's gates name them):
    salesforce:leads   the org's Lead object: `leads` scale leads and nothing else
    asana:scale        the scale project: `tasks` tasks spread over the six sections
    sheets:scale       the scale spreadsheet's tab "Scale": `rows` rows under a header

The burst moves `n` records of a source into a gated status at once, `failing` of them with a
value that fails the gate:
    salesforce  Open - Not Contacted -> MQL; failing leads have no marketing consent
                (gate mql-entry: a Task for the remediation queue + a bounce to Data Remediation)
    asana       -> Ready for Web with a Landing URL; failing URLs lack utm_source
                (gate bench-ready-for-web: one "Fix UTM" subtask each)
    sheets      -> Ready for QA; failing rows' Landing URL lacks utm_source
                (gate bench-utm-qa: a cell note each, all in one batchUpdate)
"""
from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from baton.core.config import Config, Secrets, load_config
from baton.sandbox import asana_seed, salesforce_seed, sheets_seed
from baton.sandbox.environment import Sandbox

ROOT = Path(__file__).resolve().parent.parent
BENCH_RULES = ROOT / "benchmarks" / "rules"
# (rule file, the source its gates and SLAs are for; None: for none, such as taxonomies)
RULES = [(ROOT / "rules" / "demo" / "taxonomy.toml", None),
         (ROOT / "rules" / "demo" / "salesforce-leads.toml", "salesforce:leads"),
         (ROOT / "rules" / "demo" / "sla.toml", "salesforce:leads"),
         (BENCH_RULES / "scale-utm.toml", None),
         (BENCH_RULES / "scale-asana.toml", "asana:scale"),
         (BENCH_RULES / "scale-sheets.toml", "sheets:scale")]

SOURCES: list[dict[str, Any]] = [
    {"id": "salesforce:leads", "tool": "salesforce", "object": "Lead", "status_field": "Status",
     "fields": ["Email", "Company", "Title", "LeadSource", "Consent__c", "Webinar_Topic__c"],
     "workflow": ["Open - Not Contacted", "MQL", "Data Remediation", "Working - Contacted", "SQL",
                  "Unqualified"]},
    {"id": "asana:scale", "tool": "asana", "project": asana_seed.SCALE_PROJECT_GID,
     "status": "section", "workflow": list(asana_seed.SECTIONS)},
    {"id": "sheets:scale", "tool": "sheets", "spreadsheet_id": sheets_seed.SCALE_ID,
     "tab": sheets_seed.SCALE_TAB, "key_column": "Campaign ID", "status_column": "Status",
     "baton_column": "Baton", "workflow": list(sheets_seed.STATUSES)},
]

# Throughput settings of a paid Asana plan; the free plan's 150/min would make the burst a
# rate-limit test. Sheets: the API's default per-user quota.
TOOL_SETTINGS = {"asana": {"requests_per_minute": 1500}, "sheets": {"requests_per_minute": 300}}


def seed(box: Sandbox, leads: int, tasks: int, rows: int, *, leads_loaded_now: bool = False
         ) -> None:
    """The people the demo gates write to, and the scale data. `box` is built with seed=False."""
    sf = box.salesforce
    create = sf.create_record
    maya = create("User", {"FirstName": "Maya", "LastName": "Chen", "Email": "maya.chen@acme-demo.example",
                           "Username": "maya.chen@acme-demo.example", "Title": "SDR Manager"})
    lena = create("User", {"FirstName": "Lena", "LastName": "Fischer", "ManagerId": maya,
                           "Username": "lena.fischer@acme-demo.example",
                           "Email": "lena.fischer@acme-demo.example"})
    queue = create("Group", {"Name": "Data Remediation", "DeveloperName": "Data_Remediation",
                             "Type": "Queue"})
    create("GroupMember", {"GroupId": queue, "UserOrGroupId": lena})
    salesforce_seed.seed_scale(sf, leads, loaded_now=leads_loaded_now)
    asana_seed.seed_scale(box.asana, tasks)
    sheets_seed.seed_scale(box.sheets, rows)


def make_sandbox(workdir: Path, leads: int, tasks: int, rows: int, *,
                 leads_loaded_now: bool = False, **kwargs: Any) -> Sandbox:
    box = Sandbox(workdir, seed=False, **kwargs)
    seed(box, leads, tasks, rows, leads_loaded_now=leads_loaded_now)
    return box


def bench_config(overrides: Mapping[str, Mapping[str, Any]], state: Path,
                 only: Collection[str] | None = None) -> Config:
    """config.toml with the scale sources and the benchmark's rules, pointed at a sandbox;
    `only`: just these sources, and the rule files for them (Baton refuses a gate whose source
    is not configured)."""
    base = load_config(ROOT / "config.toml")
    tools = {tool: getattr(base, tool).model_copy(update={**TOOL_SETTINGS.get(tool, {}), **values})
             for tool, values in overrides.items()}
    sources = [s for s in SOURCES if only is None or s["id"] in only]
    rules = [str(p) for p, source in RULES if source is None or only is None or source in only]
    baton = base.baton.model_copy(update={"state": str(state), "secrets_file": "",
                                          "rules": rules})
    return Config.model_validate({**base.model_dump(exclude={"baton", "source", *tools}),
                                  **{t: s.model_dump() for t, s in tools.items()},
                                  "baton": baton.model_dump(), "source": sources, "path": base.path})


def bench_secrets(env: Mapping[str, str]) -> Secrets:
    return Secrets(environ={**os.environ, **env})


# -- the burst


PASSING_URL = ("https://www.northwind-analytics.com/burst/{n}?utm_source=linkedin"
               "&utm_medium=paid-social&utm_campaign=cmp-{n}")
FAILING_URL = "https://www.northwind-analytics.com/burst/{n}?utm_medium=paid-social&utm_campaign=cmp-{n}"


def burst(box: Sandbox, sizes: Mapping[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """Move (changed, failing) records per tool into the gated status; returns what was done."""
    done = {}
    for tool, (changed, failing) in sizes.items():
        done[tool] = {"salesforce": _burst_salesforce, "asana": _burst_asana,
                      "sheets": _burst_sheets}[tool](box, changed, failing)
    return done


def _burst_salesforce(box: Sandbox, changed: int, failing: int) -> tuple[int, int]:
    sf = box.salesforce
    with sf.lock:
        ids = [r["Id"] for r in sf._tables["Lead"].values()
               if r.get("Status") == "Open - Not Contacted" and not r.get("IsDeleted")][:changed]
    for index, lead in enumerate(ids):
        sf.update_record("Lead", lead, {
            "Status": "MQL", "Title": "VP Marketing", "LeadSource": "Content Download",
            "Consent__c": index >= failing})
    return len(ids), min(failing, len(ids))


def _burst_asana(box: Sandbox, changed: int, failing: int) -> tuple[int, int]:
    asana = box.asana
    gids = [gid for gid in list(asana.tasks)
            if asana.section_of(gid, asana_seed.SCALE_PROJECT_GID) not in ("Ready for Web", "Live")
            and asana_seed.SCALE_PROJECT_GID in asana.tasks[gid].memberships][:changed]
    for index, gid in enumerate(gids):
        template = FAILING_URL if index < failing else PASSING_URL
        asana.set_custom_field(gid, "Landing URL", template.format(n=1000 + index % 9000))
        asana.move_task(gid, "Ready for Web", project_gid=asana_seed.SCALE_PROJECT_GID)
    return len(gids), min(failing, len(gids))


def _burst_sheets(box: Sandbox, changed: int, failing: int) -> tuple[int, int]:
    sheets = box.sheets
    with sheets.lock:
        book = sheets.books[sheets_seed.SCALE_ID]
        sheet = book.sheet(sheets_seed.SCALE_TAB)
        header = [c.value if c else None for c in sheet.rows[0]]
        status, url = header.index("Status"), header.index("Landing URL")
        rows = [i for i in range(1, len(sheet.rows))
                if sheet.rows[i] and sheet.cell(i, status) is not None
                and sheet.cell(i, status).value != "Ready for QA"][:changed]
        for index, row in enumerate(rows):
            sheet.ensure(row, status).value = "Ready for QA"
            if index < failing:
                sheet.ensure(row, url).value = FAILING_URL.format(n=1000 + row % 9000)
        sheets._touch(book)
    return len(rows), min(failing, len(rows))


def totals(calls: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    return {tool: sum(routes.values()) for tool, routes in calls.items()}
