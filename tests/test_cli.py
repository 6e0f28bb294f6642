"""The CLI as an admin uses it: check, report (every format), audit, map, explain, backfill,
report --to-sheet. Run in-process through `daemon.main` against the sandbox and a demo state."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from baton.app.cli import main
from baton.app.demo import run_demo
from baton.sandbox.environment import Sandbox, SandboxClock
from baton.store import StateStore
from tests.conftest import ROOT, START


@pytest.fixture(scope="module")
def demo_state(tmp_path_factory):
    """The demo's state file, and a config that reads it."""
    root = tmp_path_factory.mktemp("demo")
    run_demo(ROOT / "config.toml", workdir=root / "work", scorecard=root / "card.html", out=lambda _: None)
    text = (ROOT / "config.toml").read_text().replace(
        'state = ".baton/state.db"', f'state = "{root / "work" / "state.db"}"').replace(
        'rules = ["rules/demo/*.toml"]', f'rules = ["{ROOT}/rules/demo/*.toml"]')
    config = root / "config.toml"
    config.write_text(text)
    return config


def test_check_passes_on_the_shipped_config_and_lists_every_problem_otherwise(tmp_path, capsys):
    assert main(["check", "--config", str(ROOT / "config.toml")]) == 0
    assert "OK: 4 source(s), 6 gate(s)" in capsys.readouterr().out  # + campaigns, + shadow gate (issue #16)

    rules = tmp_path / "rules.toml"
    rules.write_text('[[gate]]\nid = "g"\nsource = "hubspot:deals"\nenters = "Won"\n'
                     'checks = [{ field = "Amount", pattern = "([" }]\n')
    config = tmp_path / "config.toml"
    config.write_text(f'[baton]\nrules = ["{rules}"]\n')
    assert main(["check", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "gate[g].checks[1].pattern" in out and str(rules) in out


def test_check_names_an_sla_status_outside_the_workflow(tmp_path, capsys):
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in ("taxonomy.toml", "salesforce-leads.toml"):
        (rules / name).write_text((ROOT / "rules" / "demo" / name).read_text())
    (rules / "sla.toml").write_text((ROOT / "rules" / "demo" / "sla.toml").read_text().replace(
        '"Working - Contacted"', '"Contacted"'))
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text().replace(
        'rules = ["rules/demo/*.toml"]', f'rules = ["{rules}/*.toml"]'))
    assert main(["check", "--config", str(config)]) == 1
    assert "sla speed-to-lead: status 'Contacted' is not in the workflow of salesforce:leads" in \
        capsys.readouterr().out


def test_check_names_a_field_the_salesforce_source_does_not_fetch(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text().replace('"Title", ', "").replace(
        'rules = ["rules/demo/*.toml"]', f'rules = ["{ROOT}/rules/demo/*.toml"]'))
    assert main(["check", "--config", str(config)]) == 1
    assert "gate mql-entry: reads 'Title', which salesforce:leads does not fetch" in capsys.readouterr().out


def test_check_reports_a_broken_config_with_its_key_path(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[salesforce]\napi_share_limit = 2\n[[source]]\nid = 'x'\ntool = 'jira'\n")
    result = subprocess.run([sys.executable, str(ROOT / "daemon.py"), "check", "--config", str(config)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "salesforce.api_share_limit" in result.stderr and "source[0]" in result.stderr


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "html"])
def test_report_formats(demo_state, tmp_path, capsys, fmt):
    out = tmp_path / f"report.{fmt}"
    assert main(["report", "--config", str(demo_state), "--since", "2026-11-20",
                 "--until", "2026-11-25", "--format", fmt, "--out", str(out)]) == 0
    text = out.read_text()
    if fmt == "json":
        data = json.loads(text)
        # issue 14: on the SLA's own entries (Grace from her passing re-entry) the median is 3.0
        assert any(v["kpi"] == "speed_to_lead_median" and v["value"] == 3.0 for v in data["values"])
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert any(r["kpi"] == "first_pass_yield" for r in rows)
    elif fmt == "html":
        assert text.startswith("<!DOCTYPE html>") and "Handoff Health Scorecard" in text
    else:
        assert "First-pass yield" in text and "Speed-to-lead" in text


def test_audit_map_and_explain(demo_state, capsys):
    assert main(["audit", "--config", str(demo_state), "--sample", "5", "--seed", "1",
                 "--since", "3650d"]) == 0
    audit = capsys.readouterr().out
    assert "mql-entry" in audit or "ready-for-design" in audit
    assert main(["map", "--config", str(demo_state)]) == 0
    assert capsys.readouterr().out.startswith("flowchart LR")

    from baton.store import StateStore
    store = StateStore.open(demo_state.parent / "work" / "state.db")
    grace = next(r for r in store.stored_records("salesforce:leads") if r.name == "Grace Hopper")
    assert main(["explain", "--config", str(demo_state), grace.record_id]) == 0
    explained = capsys.readouterr().out
    assert "gate mql-entry FAILED" in explained and "gate mql-entry passed" in explained
    assert "write-back task [mql-entry]: done" in explained
    assert main(["explain", "--config", str(demo_state), "nope"]) == 1


def test_preview_evaluates_a_gate_on_current_records_and_replays_history(demo_state, capsys):
    assert main(["preview", "--config", str(demo_state), "mql-entry", "--since", "3650d"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Gate mql-entry (salesforce:leads, entering 'MQL')")
    assert "Replay: it would have fired" in out and "Now:" in out
    assert main(["preview", "--config", str(demo_state), "nope"]) == 1


def test_backfill_fills_history_without_writing_and_report_writes_a_raw_kpi_tab(tmp_path, demo_config, capsys):
    with Sandbox(tmp_path / "box", clock=SandboxClock(START), tools=("salesforce", "sheets")) as box:
        lead = box.org.lead_ids[0]
        box.clock.advance(60)
        box.salesforce.update_record("Lead", lead, {"Status": "Working - Contacted"})
        box.clock.advance(60)
        box.salesforce.update_record("Lead", lead, {"Status": "SQL"})
        config = box.write_config(demo_config, tmp_path / "baton.toml", tmp_path / "state.db")
        tasks_before = len(box.salesforce.records("Task"))
        assert main(["backfill", "--config", str(config), "--since", "3650d"]) == 0
        out = capsys.readouterr().out
        assert "salesforce:leads: 2 transition(s) backfilled" in out
        assert len(box.salesforce.records("Task")) == tasks_before  # no write-backs
        assert main(["backfill", "--config", str(config), "--since", "3650d"]) == 0
        assert "salesforce:leads: 0 transition(s)" in capsys.readouterr().out  # idempotent

        sheet = box.spreadsheet_id
        assert main(["report", "--config", str(config), "--since", "3650d",
                     "--to-sheet", f"{sheet}!Baton KPIs"]) == 0
        values = box.sheets.values(sheet, "Baton KPIs")
        assert values[0][0] and len(values) > 5
        assert box.sheets.formula_cells(sheet) == []
        # Its own tab again: replaced. A tab a source watches, or one holding a team's data: refused.
        assert main(["report", "--config", str(config), "--since", "3650d",
                     "--to-sheet", f"{sheet}!Baton KPIs"]) == 0
        capsys.readouterr()
        team_rows = box.sheets.values(sheet, "UTM Tracker")
        assert main(["report", "--config", str(config), "--to-sheet", f"{sheet}!UTM Tracker"]) == 2
        assert "Baton watches" in capsys.readouterr().err
        assert box.sheets.values(sheet, "UTM Tracker") == team_rows
        from baton.app.runtime import load_secrets
        from baton.connectors.sheets import write_rows
        from baton.core.config import load_config
        loaded = load_config(config)
        write_rows(loaded.sheets, load_secrets(loaded), sheet, "Budget", [["Owner", "Spend"], ["Ada", "12"]])
        assert main(["report", "--config", str(config), "--to-sheet", f"{sheet}!Budget"]) == 2
        assert "holds data Baton did not write" in capsys.readouterr().err
        assert box.sheets.values(sheet, "Budget") == [["Owner", "Spend"], ["Ada", "12"]]


# -- run refuses what check rejects ------------------------------------------------------------

def test_run_refuses_to_start_on_any_problem_check_reports(tmp_path, capsys):
    rules = tmp_path / "rules.toml"
    rules.write_text('[[gate]]\nid = "g"\nsource = "hubspot:deals"\nenters = "Won"\n'
                     'checks = [{ field = "Amount", required = true }]\n')
    config = tmp_path / "config.toml"
    config.write_text(f'[baton]\nrules = ["{rules}"]\nstate = "{tmp_path / "state.db"}"\n'
                      '[[source]]\nid = "salesforce:leads"\ntool = "salesforce"\n')
    problem = "gate g: source 'hubspot:deals' is not configured (known: salesforce:leads)"
    assert main(["check", "--config", str(config)]) == 1
    assert problem in capsys.readouterr().out
    assert main(["run", "--once", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "not starting: 1 problem(s) in the configuration" in err and problem in err
    assert not (tmp_path / "state.db").exists()  # nothing was opened, nothing polled


# -- the state file and its exit codes ---------------------------------------------------------

def _config_for(tmp_path, state):
    rules = tmp_path / "rules.toml"
    rules.write_text('[[gate]]\nid = "g"\nsource = "salesforce:leads"\nenters = "MQL"\n'
                     'checks = [{ field = "Email", required = true }]\n')
    config = tmp_path / "config.toml"
    config.write_text(f'[baton]\nrules = ["{rules}"]\nstate = "{state}"\n'
                      '[[source]]\nid = "salesforce:leads"\ntool = "salesforce"\nfields = ["Email"]\n')
    return config


@pytest.mark.parametrize("command", [["run", "--once"], ["report"], ["explain", "00Q1"],
                                     ["backfill"]])
def test_a_state_that_cannot_be_used_exits_65_with_one_line_and_no_traceback(tmp_path, capsys, command):
    state = tmp_path / "state.db"
    state.write_bytes(b"")  # zero-length: refused, not silently re-baselined
    assert main([*command, "--config", str(_config_for(tmp_path, state))]) == 65
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"state file {state} is empty (0 bytes)") and "\n" not in err
    assert "baton reset-state" in err and state.read_bytes() == b""


def test_a_read_only_state_exits_73(tmp_path, capsys):
    state = tmp_path / "state.db"
    StateStore.open(state).engine.dispose()
    state.chmod(0o444)
    assert main(["report", "--config", str(_config_for(tmp_path, state))]) == 73
    assert "is read-only (mode 0444)" in capsys.readouterr().err


def test_reset_state_moves_the_state_and_its_journal_aside_and_never_deletes(tmp_path, capsys):
    state = tmp_path / "state.db"
    state.write_bytes(b"not a database at all")
    (tmp_path / "state.db-wal").write_bytes(b"journal")
    config = _config_for(tmp_path, state)
    assert main(["report", "--config", str(config)]) == 65
    assert "is not a SQLite database" in capsys.readouterr().err
    assert main(["reset-state", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    [moved] = [p for p in tmp_path.iterdir() if p.name.startswith("state.db.moved-") and
               not p.name.endswith(("-wal", "-shm"))]
    assert f"Moved {state} to {moved}" in out and "new baseline" in out
    assert moved.read_bytes() == b"not a database at all"
    assert moved.with_name(moved.name + "-wal").read_bytes() == b"journal"
    assert not state.exists() and not (tmp_path / "state.db-wal").exists()
    # report no longer creates a state (issue 13): it refuses; a run would make the new one
    assert main(["report", "--config", str(config), "--format", "json"]) == 1
    assert not state.exists()
    StateStore.open(state)  # the new state, as the next `baton run` takes it
    assert main(["reset-state", "--config", str(config)]) == 0
    kept = [p.name for p in tmp_path.iterdir() if re.fullmatch(r"state\.db\.moved-\d{8}T\d{6}Z(-\d+)?", p.name)]
    assert len(kept) == 2, kept  # the second reset kept the first one's file


def test_a_secrets_file_others_can_read_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SALESFORCE_CLIENT_ID", raising=False)
    secrets = tmp_path / "baton.secrets"
    secrets.write_text("SALESFORCE_CLIENT_ID=x\n")
    secrets.chmod(0o644)
    config = _config_for(tmp_path, tmp_path / "state.db")
    config.write_text(config.read_text().replace("[baton]\n", f'[baton]\nsecrets_file = "{secrets}"\n'))
    assert main(["run", "--once", "--config", str(config)]) == 2
    assert (f"configuration error: secrets file {secrets} is readable by group or others (mode "
            f"0644); it holds credentials: run `chmod 600 {secrets}`") in capsys.readouterr().err
    secrets.chmod(0o600)
    main(["run", "--once", "--config", str(config)])
    assert "readable by group or others" not in capsys.readouterr().err


# -- one writer per state (real processes) -------------------------------------------------------

def _baton(config, *args, **popen):
    command = [sys.executable, str(ROOT / "daemon.py"), "--config", str(config), *args]
    return subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def _holding(lock, process, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lock.exists() and f'"pid": {process.pid}' in lock.read_text():
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("the first baton never took the state lock")


def test_a_second_writer_is_refused_and_a_killed_holder_frees_the_state_at_once(
        make_sandbox, demo_config, tmp_path, capsys):
    box = make_sandbox("salesforce", frozen=False)
    state = tmp_path / "state.db"
    config = box.write_config(demo_config, tmp_path / "baton.toml", state)
    lock = tmp_path / "state.db.lock"
    first = _baton(config, "run")
    try:
        _holding(lock, first)
        second = _baton(config, "run", "--once")
        _, err = second.communicate(timeout=60)
        assert second.returncode == 75
        assert err.strip().count("\n") == 0, err
        assert f"state {state} is in use by another Baton (pid {first.pid} on " \
               f"{socket.gethostname()} since " in err and "--wait-for-lock" in err
        # reading does not need the lock
        assert main(["report", "--config", str(config), "--format", "json"]) == 0
        capsys.readouterr()

        waiter = _baton(config, "run", "--once", "--wait-for-lock")
        time.sleep(3)
        assert waiter.poll() is None  # waiting, not refused
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        _, err = waiter.communicate(timeout=60)
        assert waiter.returncode == 0, err

        started = time.monotonic()
        third = _baton(config, "run", "--once")
        _, err = third.communicate(timeout=60)
        assert third.returncode == 0, err
        assert time.monotonic() - started < 30
    finally:
        for process in (first,):
            if process.poll() is None:
                process.kill()
                process.wait()


# -- a CLI that behaves: one line on stderr, documented exit codes, no silent empty state -------

def _cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "baton.app.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **env}, cwd=ROOT)


def test_version_and_every_subcommand_help_shows_the_common_options():
    from baton.app.cli import build_parser, version
    result = _cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"baton {version()}"
    assert version() != "unknown"
    commands = build_parser()._subparsers._group_actions[0].choices  # noqa: SLF001
    for name, sub in commands.items():
        assert "--config CONFIG" in sub.format_help(), name
    assert "exit codes: 0 ok, 1 problems found, 2 usage or configuration" in \
        build_parser().format_help()


@pytest.mark.parametrize("args, message", [
    (["report", "--since", "banana"], "baton report: argument --since: expected '30d', "
                                      "'YYYY-MM-DD' or an ISO datetime, found 'banana'"),
    (["report", "--since", "2999-01-01"], "baton report: argument --since: '2999-01-01' is in "
                                          "the future"),
    (["audit", "--since", "soon"], "baton audit: argument --since: expected"),
    (["backfill", "--since", "banana"], "baton backfill: argument --since: expected"),
])
def test_a_bad_moment_is_one_line_on_stderr_and_exit_2(args, message):
    result = _cli(*args)
    assert result.returncode == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_out_into_a_missing_folder_is_one_line(demo_state, tmp_path, capsys):
    target = tmp_path / "nope" / "report.html"
    assert main(["report", "--config", str(demo_state), "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err == (f"baton: --out {target}: the folder {target.parent} does not exist; create "
                   "it first or name another file\n")


@pytest.mark.parametrize("command", [["report"], ["audit"], ["explain", "00Q1"],
                                     ["preview", "mql-entry"]])
def test_read_commands_refuse_to_create_a_state_or_read_an_empty_one(tmp_path, capsys, command):
    state = tmp_path / "state.db"
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text().replace(
        'state = ".baton/state.db"', f'state = "{state}"').replace(
        'rules = ["rules/demo/*.toml"]', f'rules = ["{ROOT}/rules/demo/*.toml"]'))
    assert main([*command, "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"baton: no state at {state}: `baton {command[0]}` reads what "
                          "`baton run` recorded") and "run `baton run --once` first" in err
    assert not state.exists()  # nothing was created
    StateStore.open(state)  # an empty state, as an interrupted first run leaves it
    assert main([*command, "--config", str(config)]) == 1
    assert capsys.readouterr().err.startswith(f"baton: the state at {state} is empty")


def test_explain_takes_an_id_a_url_or_a_name_and_lists_matches(demo_state, capsys):
    store = StateStore.open(demo_state.parent / "work" / "state.db")
    grace = next(r for r in store.stored_records("salesforce:leads") if r.name == "Grace Hopper")
    url = f"https://acme.my.salesforce.com/lightning/r/Lead/{grace.record_id}/view"
    for reference in (grace.record_id, url, "grace hopper"):
        assert main(["explain", "--config", str(demo_state), reference]) == 0, reference
        assert "gate mql-entry FAILED" in capsys.readouterr().out
    assert main(["explain", "--config", str(demo_state), "CMP-12"]) == 1  # several tasks
    captured = capsys.readouterr()
    assert re.match(r"\d+ records match 'CMP-12'; explain one of them by its id:", captured.err)
    assert captured.out == ""
    assert main(["explain", "--config", str(demo_state), "nobody at all"]) == 1
    assert capsys.readouterr().err.startswith("baton: no record 'nobody at all' in the state")
    assert main(["preview", "--config", str(demo_state), "nope"]) == 1
    assert capsys.readouterr().err.startswith("baton: no gate 'nope'; the rule files define: ")


def test_piping_into_head_is_not_an_error(demo_state):
    command = (f"{sys.executable} -m baton.app.cli report --config {demo_state} --since 3650d "
               "--format csv | head -n 1")
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True,
                            text=True)
    assert result.stdout.startswith("kpi") or result.stdout.count("\n") == 1
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
    assert result.returncode == 0, result.stderr


def test_an_unshared_to_sheet_is_one_line(tmp_path, demo_config, capsys):
    with Sandbox(tmp_path / "box", clock=SandboxClock(START), tools=("salesforce", "sheets")) as box:
        config = box.write_config(demo_config, tmp_path / "baton.toml", tmp_path / "state.db")
        assert main(["run", "--once", "--config", str(config)]) == 0
        capsys.readouterr()
        box.sheets.share_only_with(box.spreadsheet_id, {"someone@else.example"})
        assert main(["report", "--config", str(config),
                     "--to-sheet", f"{box.spreadsheet_id}!Baton KPIs"]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"baton: --to-sheet {box.spreadsheet_id}!Baton KPIs: the KPI tab "
                              "could not be written (")
        assert "share the spreadsheet with the service account's email as Editor" in err
        assert err.count("\n") == 1 and "Traceback" not in err


def test_no_color_turns_the_pretty_logs_plain(monkeypatch):
    import structlog

    from baton.core import logs

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    for no_color, coloured in (("", True), ("1", False)):
        stream = Tty()
        monkeypatch.setenv("NO_COLOR", no_color)
        logs.configure("pretty", stream=stream)
        structlog.get_logger().info("demo.event", source="x")
        assert ("\x1b[" in stream.getvalue()) is coloured


def test_baton_sandbox_serves_the_tools_in_the_foreground_with_a_config(tmp_path, capsys):
    process = subprocess.Popen([sys.executable, "-m", "baton.app.cli", "sandbox", "--dir",
                                str(tmp_path / "box")], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        lines = []
        while not lines or not lines[-1].startswith("Ctrl-C"):
            line = process.stdout.readline()
            assert line, process.stderr.read()
            lines.append(line.strip())
        assert [line.split()[0] for line in lines[:4]] == ["salesforce", "asana", "sheets", "config"]
        assert all(line.split()[1].startswith("https://127.0.0.1:") for line in lines[:3])
        config = lines[3].split()[1]
        assert f"baton doctor --config {config}" in lines
        assert main(["doctor", "--config", config]) == 0
        assert capsys.readouterr().out.rstrip().endswith("all checks passed")
        assert main(["run", "--once", "--config", config]) == 0
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 0 and "sandbox stopped" in out


def test_audit_and_explain_show_the_owner_by_name(demo_state, capsys):
    """Asana gives the assignee's name with the task: audit and explain show it beside the id."""
    assert main(["audit", "--config", str(demo_state), "--sample", "50", "--since", "3650d"]) == 0
    audit = capsys.readouterr().out
    assert "owner: " in audit
    named = [line for line in audit.splitlines() if line.strip().startswith("owner: ") and "(" in line]
    assert named, audit[-2000:]
    assert re.search(r"owner: [A-Z][a-z]+ [A-Z][a-z]+ \(\d+\)", "\n".join(named)), named
    # explain, by the task's name, says the same
    from baton.store import StateStore
    from baton.core.config import load_config
    store = StateStore.open(load_config(demo_state).resolve(load_config(demo_state).baton.state))
    task = next(r for r in store.stored_records("asana:content-calendar")
                if r.fields.get("assignee_name"))
    assert main(["explain", "--config", str(demo_state), task.record_id]) == 0
    assert f"owner {task.fields['assignee_name']} ({task.owner})" in capsys.readouterr().out
