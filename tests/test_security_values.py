"""Hostile field values: SOQL literals are escaped, Sheets never gets a formula, and oversized or
odd text (megabytes, NUL, control characters, markdown/HTML) is bounded in what Baton writes and
stored safely in the state file; rule expressions cannot reach Python, end to end."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from baton.core.actions import Action, ActionKind
from tests.conftest import ROOT

QUOTES = "O'Brien \\ 'quoted' \\' back\\slash"
HOSTILE = ("<script>alert(1)</script> **bold** [link](javascript:x) \x00NUL\x07\x1b[31m"
           " ' \" \\ ={1+1} \u202e") * 3


def _runtime(box, tmp_path: Path, demo_config, rules: str, files: Sequence[str] = ()):
    from baton.connectors.retry import RetryPolicy
    from baton.app.runtime import open_runtime

    rule_dir = tmp_path / "rules"
    rule_dir.mkdir(exist_ok=True)
    (rule_dir / "gates.toml").write_text(rules)
    for name in files:
        (rule_dir / name).write_text((ROOT / "rules" / "demo" / name).read_text())
    config = demo_config.model_copy(update={
        "baton": demo_config.baton.model_copy(update={"rules": [str(rule_dir / "*.toml")]}),
        "asana": demo_config.asana.model_copy(update={"requests_per_minute": 1500})})
    configured, secrets = box.configure(config, tmp_path / "state.db")
    runtime = open_runtime(configured, secrets, retry=RetryPolicy(attempts=2, sleep=lambda s: None))
    return runtime, runtime.runner(clock=box.clock.now)


def _baton_rows(sf, sobject: str, field: str) -> list[dict]:
    return [r for r in sf.records(sobject) if "[baton:" in (r.get(field) or "")]


# --------------------------------------------------------------------------------- SOQL


def test_soql_literals_with_quotes_and_backslashes_are_escaped(make_sandbox, demo_config, tmp_path):
    box = make_sandbox("salesforce")
    sf = box.salesforce
    obrien = sf.create_record("User", {"FirstName": "Dana", "LastName": QUOTES,
                                       "Username": "dana@acme-demo.example",
                                       "Email": "dana@acme-demo.example"})
    queue = sf.create_record("Group", {"Name": f"Ops {QUOTES}", "DeveloperName": "Ops_Q",
                                       "Type": "Queue"})
    sf.create_record("GroupMember", {"GroupId": queue, "UserOrGroupId": obrien})
    rules = f'''
[[gate]]
id = "quoted-owner"
source = "salesforce:leads"
enters = "MQL"
checks = [{{ field = "Title", required = true }}]
on_fail = {{ comment = "Fix {{name}} of {{Company}}", task = {{ subject = "Fix {{name}}", body = "{{Company}}", owner = {json.dumps("user:Dana " + QUOTES)} }} }}

[[gate]]
id = "quoted-queue"
source = "salesforce:leads"
enters = "SQL"
checks = [{{ field = "Title", required = true }}]
on_fail = {{ task = {{ subject = "Fix {{name}}", body = "x", owner = {json.dumps("queue:Ops " + QUOTES)} }} }}
'''
    runtime, runner = _runtime(box, tmp_path, demo_config, rules)
    lead = sf.create_record("Lead", {"LastName": QUOTES, "Company": f"Acme {QUOTES}",
                                     "Status": "Open - Not Contacted"})
    runner.run_all()
    box.clock.advance(60)
    sf.update_record("Lead", lead, {"Status": "MQL"})
    box.clock.advance(30)
    runner.run_all()
    [task] = _baton_rows(sf, "Task", "Description")
    assert task["OwnerId"] == obrien and task["Subject"] == f"Fix {QUOTES}"
    [post] = _baton_rows(sf, "FeedItem", "Body")
    assert f"Acme {QUOTES}" in post["Body"]

    box.clock.advance(60)
    sf.update_record("Lead", lead, {"Status": "SQL"})
    box.clock.advance(30)
    runner.run_all()
    assert [t["OwnerId"] for t in _baton_rows(sf, "Task", "Description")] == [obrien, obrien]
    assert {e.state for e in runtime.store.ledger_entries()} == {"done"}

    # find_written (the crash-recovery lookup) with odd text in ids and keys: valid SOQL, no match
    connector = runtime.connectors["salesforce:leads"]
    written = [Action(e.key, ActionKind(e.kind), e.source, e.record_id, e.gate_id)
               for e in runtime.store.ledger_entries() if e.kind in ("task", "comment")]
    assert set(connector.find_written(written)) == {a.key for a in written}
    hostile = Action("k'1", ActionKind.TASK, "salesforce:leads", f"00Q' OR Name != '{QUOTES}",
                     "g")
    assert connector.find_written([hostile]) == {}


# --------------------------------------------------------------------------------- Sheets


def test_values_that_look_like_formulas_reach_sheets_as_text(make_sandbox, demo_config, tmp_path):
    box = make_sandbox("sheets")
    sheets, sid = box.sheets, box.spreadsheet_id
    rules = '''
[[gate]]
id = "qa"
source = "sheets:utm-tracker"
enters = "Ready for QA"
checks = [{ field = "Asset", pattern = '^CMP-' }]
on_fail = { comment = "Asset {Asset} / {Landing URL}", set = { "Baton" = "{Asset}" } }
'''
    _, runner = _runtime(box, tmp_path, demo_config, rules)
    runner.run_all()
    formulas = {"CMP-1106": "=1+1", "CMP-1113": "+SUM(A1:A9)", "CMP-1114": "-2+3",
                "CMP-1119": "@cmd|' /C calc'!A0", "CMP-1123": '=IMPORTXML("http://x","//a")'}
    for key, value in formulas.items():
        sheets.set_cell(sid, "UTM Tracker", "Campaign ID", key, "Asset", value)
        sheets.set_cell(sid, "UTM Tracker", "Campaign ID", key, "Status", "Ready for QA")
    box.clock.advance(30)
    runner.run_all()
    assert sheets.formula_cells(sid) == []
    header = sheets.header(sid, "UTM Tracker")
    rows = {r[0]: r for r in sheets.values(sid, "UTM Tracker")[1:]}
    for key, value in formulas.items():
        assert rows[key][header.index("Baton")] == value  # the text itself, not its result
        row = sheets.row_of(sid, "UTM Tracker", "Campaign ID", key)
        assert value in sheets.note(sid, "UTM Tracker", row, header.index("Status"))


# --------------------------------------------------------------------------------- sizes


def test_oversized_and_hostile_values_are_bounded_and_stored_safely(make_sandbox, demo_config,
                                                                    tmp_path):
    from baton.store import StateStore

    box = make_sandbox("salesforce", "asana")
    sf, asana = box.salesforce, box.asana
    huge = HOSTILE + "x" * 2_000_000 + HOSTILE
    rules = '''
[[gate]]
id = "big-lead"
source = "salesforce:leads"
enters = "MQL"
checks = [{ field = "Title", required = true }]
[gate.on_fail]
comment = "Topic: {Webinar_Topic__c}"
set = { "Title" = "{Webinar_Topic__c}" }
[gate.on_fail.task]
subject = "Blocked {Webinar_Topic__c}"
body = "{Webinar_Topic__c}"
owner = "queue:Data Remediation"

[[gate]]
id = "big-task"
source = "asana:content-calendar"
enters = "Ready for Design"
checks = [{ field = "Visual brief", required = true }]
[gate.on_fail]
comment = "Brief missing. URL: {Landing URL}"
set = { "Landing URL" = "{name} {Landing URL}" }
[gate.on_fail.task]
subject = "Fix {name} {Landing URL}"
body = "{Landing URL}"
owner = "owner"
'''
    runtime, runner = _runtime(box, tmp_path, demo_config, rules)
    lead = sf.create_record("Lead", {"LastName": "Big", "Company": "C", "Webinar_Topic__c": huge,
                                     "Status": "Open - Not Contacted"})
    task = next(g for g, t in asana.tasks.items() if t.name.startswith("CMP-1050_"))
    runner.run_all()
    box.clock.advance(60)
    sf.update_record("Lead", lead, {"Status": "MQL"})
    with asana.lock:  # a megabyte in a text field (the API refuses > 1,024; imports do not)
        cf = next(g for g, f in asana.custom_fields.items() if f.name == "Landing URL")
        asana.tasks[task].values[cf] = huge
    asana.move_task(task, "Ready for Design")
    box.clock.advance(30)
    runner.run_all()

    # Salesforce: the FeedItem and the Task are bounded and keep their marker; the Title the
    # field cannot hold fails alone, the rest of the batch is written.
    [post] = _baton_rows(sf, "FeedItem", "Body")
    [sf_task] = _baton_rows(sf, "Task", "Description")
    assert len(post["Body"]) <= 10_000 and len(sf_task["Description"]) <= 32_000
    assert len(sf_task["Subject"]) <= 255 and sf_task["Subject"].startswith("Blocked <script>")
    states = {e.kind: e for e in runtime.store.ledger_entries() if e.source == "salesforce:leads"}
    assert states["comment"].state == states["task"].state == "done"
    assert states["set_field"].state == "failed"
    assert "STRING_TOO_LONG" in states["set_field"].last_error
    assert len(states["set_field"].last_error) <= 2000

    # Asana: the comment and subtask are written; the text field write is cut to 1,024.
    comments = [c for c in asana.comments(task) if "[baton:" in c["text"]]
    subtasks = [s for s in asana.subtasks(task) if "[baton:" in (s.get("notes") or "")]
    assert len(comments) == 1 and len(subtasks) == 1
    states = {e.kind: e for e in runtime.store.ledger_entries()
              if e.source == "asana:content-calendar"}
    assert {e.state for e in states.values()} == {"done"}, states
    assert len(asana.tasks[task].values[cf]) <= 1024

    # The state file keeps the values as they were (NUL and all) and reopens cleanly.
    runtime.store.engine.dispose()
    reopened = StateStore.open(tmp_path / "state.db")
    [stored] = list(reopened.stored_records("salesforce:leads", lead))
    assert stored.fields["Webinar_Topic__c"] == huge
    evaluation = reopened.evaluations("salesforce:leads", lead)[0]
    assert len(json.dumps(evaluation.values, ensure_ascii=False, default=str)) < 100_000  # what `explain` shows is bounded too


# --------------------------------------------------------------------------------- CEL


def test_a_rule_expression_cannot_reach_python(make_sandbox, demo_config, tmp_path, capsys):
    """End to end through a rule file: Python-looking expressions are refused at load (`baton
    check`), and a hostile value is only ever data to the expression."""
    from baton.app.cli import main
    from baton.app.runtime import open_runtime

    box = make_sandbox("salesforce")
    sf = box.salesforce
    probe = tmp_path / "pwned"
    rule_dir = tmp_path / "rules"
    rule_dir.mkdir()
    attacks = [f"__import__('os').system('touch {probe}') == 0",
               "fields.__class__.__mro__[1].__subclasses__() == []",
               f"open('{probe}', 'w') != null",
               "exec('1') == 1"]
    for n, expr in enumerate(attacks):
        (rule_dir / f"a{n}.toml").write_text(
            f'[[gate]]\nid = "a{n}"\nsource = "salesforce:leads"\nenters = "MQL"\n'
            f'checks = [{{ expr = {json.dumps(expr)}, message = "x" }}]\n')
    config = demo_config.model_copy(update={"baton": demo_config.baton.model_copy(
        update={"rules": [str(rule_dir / "*.toml")]})})
    config_file = box.write_config(config, tmp_path / "baton.toml", tmp_path / "state.db")
    assert main(["--config", str(config_file), "check"]) == 1
    out = capsys.readouterr().out
    for n in range(len(attacks)):
        assert f"a{n}.toml" in out
    assert not probe.exists()

    # A valid expression over a value that is itself code: data, never run.
    for path in rule_dir.iterdir():
        path.unlink()
    (rule_dir / "ok.toml").write_text(
        '[[gate]]\nid = "ok"\nsource = "salesforce:leads"\nenters = "MQL"\n'
        'checks = [{ expr = "size(fields[\'Title\']) < 20", message = "Title too long" }]\n'
        'on_fail = { comment = "Title {Title}" }\n')
    configured, secrets = box.configure(config, tmp_path / "state.db")
    runtime = open_runtime(configured, secrets)
    runner = runtime.runner(clock=box.clock.now)
    lead = sf.create_record("Lead", {"LastName": "E", "Company": "C", "Status": "Open - Not Contacted",
                                     "Title": f"__import__('os').system('touch {probe}')"})
    runner.run_all()
    box.clock.advance(60)
    sf.update_record("Lead", lead, {"Status": "MQL"})
    box.clock.advance(30)
    runner.run_all()
    assert not probe.exists()
    [post] = _baton_rows(sf, "FeedItem", "Body")
    assert "__import__" in post["Body"]
