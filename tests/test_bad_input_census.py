"""The bad-input census (docs/bad-input-census.md), one row per case: the input, and a fragment of
exactly what the admin sees. Rule files and config.toml go through `baton check` / `baton run`
as an admin runs them; API payloads go through the real connectors against the sandbox and are
read from the log events a person would see (`source.poll_failed`, `sheets.bad_header`, ...).
No case may crash: each ends in a clear message and a defined exit code or a skipped cycle.
"""
from __future__ import annotations

import textwrap

import pytest
from structlog.testing import capture_logs

from baton.app.cli import main
from baton.app.runtime import open_runtime
from baton.connectors.retry import RetryPolicy

SOURCE = """
[[source]]
id = "salesforce:leads"
tool = "salesforce"
fields = ["Email", "Title"]
workflow = ["Open", "MQL"]
"""


def _gate(checks: str = '{ field = "Email", required = true }', gate_id: str = "g",
          source: str = "salesforce:leads") -> str:
    return textwrap.dedent(f"""
        [[gate]]
        id = "{gate_id}"
        source = "{source}"
        enters = "MQL"
        checks = [{checks}]
        """)


# (case id, rule file text, config text (the [baton] table is added), expected exit, fragments)
CHECK_CASES = [
    ("rules: malformed TOML", "[[gate]]\nid = 'g\n", "", 1,
     ["rules.toml: (file): expected valid TOML: Expected \"'\" (at end of document)"]),
    ("rules: unknown key", _gate() + 'colour = "red"\n', "", 1,
     ["rules.toml: gate[g].colour: unknown key"]),
    ("rules: bad regex", _gate('{ field = "Email", pattern = "([" }'), "", 1,
     ["gate[g].checks[1].pattern: expected a regular expression, found '([': unterminated"]),
    ("rules: regex needing backtracking", _gate("{ field = 'Email', pattern = '(a)\\1' }"), "", 1,
     ["gate[g].checks[1].pattern: expected a regular expression without backreferences or "
      "lookaround, found '(a)\\\\1', which uses a feature the linear-time engine cannot run: "
      "a backreference (\\1 …)"]),
    ("rules: CEL comprehensions nested too deep",
     _gate('{ expr = "fields.a.all(x, fields.a.all(y, fields.a.exists(z, z == 0)))", '
           'message = "m" }'), "", 1,
     ["gate[g].checks[1].expr: expected a valid CEL expression, found ",
      "comprehensions (all, exists, exists_one, filter, map) may nest at most 2 deep, found 3"]),
    ("rules: unknown taxonomy", _gate('{ field = "Email", taxonomy = "colours" }'), "", 1,
     ["gate[g].checks[1].taxonomy: unknown taxonomy 'colours'; defined: none"]),
    ("rules: CEL syntax error", _gate('{ expr = "fields[\'Email\'] ==", message = "m" }'), "", 1,
     ["gate[g].checks[1].expr: expected a valid CEL expression, found \"fields['Email'] ==\"",
      "Syntax error"]),
    ("rules: duplicate gate ids", _gate() + _gate(), "", 1,
     ["gate[g].id: expected a unique gate id, found 'g' already used in"]),
    ("rules: gate for an unconfigured source", _gate(source="hubspot:deals"), "", 1,
     ["gate g: source 'hubspot:deals' is not configured (known: salesforce:leads)"]),
    ("rules: status not in the workflow", _gate().replace('"MQL"', '"Won"'), "", 1,
     ["gate g: status 'Won' is not in the workflow of salesforce:leads"]),
    ("rules: no file matches", None, "", 1, ["baton.rules matches no rule file"]),
    ("config: malformed TOML", _gate(), "[baton\n", 2, ["config: ", "not valid TOML"]),
    ("config: unknown key", _gate(), "[baton]\ncolour = 1\n", 2,
     ["baton.colour: Extra inputs are not permitted"]),
    ("config: invalid value", _gate(), "[salesforce]\napi_share_limit = 2\n", 2,
     ["salesforce.api_share_limit: Input should be less than or equal to 1 (found 2)"]),
    ("config: unknown tool", _gate(), '[[source]]\nid = "x"\ntool = "hubspot"\n', 2,
     ["source[0]: Input tag 'hubspot' found using 'tool' does not match any of the expected "
      "tags: 'salesforce', 'asana', 'sheets'"]),
]


@pytest.mark.parametrize(("case", "rules", "config", "code", "fragments"), CHECK_CASES,
                         ids=[c[0] for c in CHECK_CASES])
def test_baton_check_names_the_problem(tmp_path, capsys, case, rules, config, code, fragments):
    rule_glob = str(tmp_path / "rules" / "*.toml")
    (tmp_path / "rules").mkdir()
    if rules is not None:
        (tmp_path / "rules" / "rules.toml").write_text(rules)
    baton = f'[baton]\nrules = ["{rule_glob}"]\n'
    if config.startswith("[baton\n"):  # the whole file is the broken text
        text = config
    elif config.startswith("[baton]\n"):  # more keys for the [baton] table
        text = baton + config.removeprefix("[baton]\n") + SOURCE
    else:
        text = baton + config + SOURCE
    config_file = tmp_path / "config.toml"
    config_file.write_text(text)
    assert main(["--config", str(config_file), "check"]) == code
    out = capsys.readouterr()
    seen = out.out + out.err
    for fragment in fragments:
        assert fragment in seen, seen


# --------------------------------------------------------------------------- secrets (baton run)

def test_a_missing_secret_is_named_with_where_it_was_looked_for(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ASANA_ACCESS_TOKEN", raising=False)
    rules = tmp_path / "rules.toml"
    rules.write_text(_gate(source="asana:p"))
    config = tmp_path / "config.toml"
    config.write_text(f'[baton]\nrules = ["{rules}"]\nstate = "{tmp_path / "s.db"}"\n'
                      '[[source]]\nid = "asana:p"\ntool = "asana"\nproject = "1"\n')
    assert main(["--config", str(config), "run", "--once"]) == 2
    err = capsys.readouterr().err
    assert ("configuration error: ASANA_ACCESS_TOKEN is not set (needed for the Asana connector); "
            "set it in the environment or in the secrets file named by baton.secrets_file") in err


@pytest.mark.parametrize(("content", "fragment"), [
    (None, "No such file or directory"),
    ("dir", "Is a directory"),
    ("ASANA_ACCESS_TOKEN\n", "line 1: expected KEY=VALUE"),
], ids=["missing", "a directory", "no equals sign"])
def test_an_unreadable_secrets_file_is_a_configuration_error(tmp_path, capsys, content, fragment):
    secrets = tmp_path / "baton.secrets"
    if content == "dir":
        secrets.mkdir()
    elif content is not None:
        secrets.write_text(content)
    rules = tmp_path / "rules.toml"
    rules.write_text(_gate())
    config = tmp_path / "config.toml"
    config.write_text(f'[baton]\nrules = ["{rules}"]\nstate = "{tmp_path / "s.db"}"\n'
                      f'secrets_file = "{secrets}"\n' + SOURCE)
    assert main(["--config", str(config), "run", "--once"]) == 2
    err = capsys.readouterr().err
    assert f"configuration error: secrets file {secrets}" in err and fragment in err
    assert "ASANA_ACCESS_TOKEN" not in err.split("line")[0] or content != "ASANA_ACCESS_TOKEN\n"


# --------------------------------------------------------------------------- API payloads

def _run(box, demo_config, tmp_path, config=None, cycles: int = 1) -> list[dict]:
    configured, secrets = box.configure(config or demo_config, tmp_path / "state.db")
    runtime = open_runtime(configured, secrets,
                                  retry=RetryPolicy(attempts=2, sleep=lambda s: None))
    runner = runtime.runner(clock=box.clock.now)
    with capture_logs() as events:
        for _ in range(cycles):
            runner.run_all()
            box.clock.advance(60)
    return events


def _messages(events, *names) -> str:
    return "\n".join(f"{e['event']}: {e.get('error') or e.get('reason') or ''}"
                     for e in events if e["event"] in names)


def test_salesforce_invalid_field_on_a_configured_field(make_sandbox, demo_config, tmp_path):
    box = make_sandbox("salesforce")
    source = demo_config.source[0].model_copy(update={"fields": [*demo_config.source[0].fields, "Bogus__c"]})
    config = demo_config.model_copy(update={"source": [source]})
    seen = _messages(_run(box, config, tmp_path), "source.poll_failed")
    assert "PayloadError: Salesforce query: HTTP 400 INVALID_FIELD: \nSELECT Id," in seen, seen
    assert "No such column 'Bogus__c' on entity 'Lead'." in seen, seen


def test_asana_402_premium_feature(make_sandbox, demo_config, tmp_path):
    box = make_sandbox("asana")
    box.asana.faults.add("get_events", times=5, status=402, body={"errors": [{
        "message": "This feature is only available to premium users."}]})
    seen = _messages(_run(box, demo_config, tmp_path), "source.poll_failed")
    assert ("SourceError: Asana GET /events: HTTP 402 This feature is only available to premium "
            "users. (a premium Asana feature)") in seen, seen


def test_sheets_tab_that_does_not_exist(make_sandbox, demo_config, tmp_path):
    box = make_sandbox("sheets")
    source = demo_config.source[2].model_copy(update={"tab": "UTM Tracker 2026"})
    config = demo_config.model_copy(update={"source": [source]})
    seen = _messages(_run(box, config, tmp_path), "source.poll_failed")
    assert ("no tab named 'UTM Tracker 2026' (tabs: Read me, UTM Tracker)") in seen, seen


def test_sheet_with_duplicate_keys_blank_headers_and_stray_values(make_sandbox, demo_config,
                                                                  tmp_path):
    box = make_sandbox("sheets")
    sheets, sid = box.sheets, box.spreadsheet_id
    sheets.add_spreadsheet(sid, "Tracker", {"UTM Tracker": [
        ["Campaign ID", "", "Status", "Status", "Asset"],
        ["CMP-1", "x", "Draft", "Live", "a"],
        ["CMP-1", "", "Ready for QA", "", "b"],
        ["", "", "Draft", "", "c"],
    ]})
    events = _run(box, demo_config.model_copy(update={"source": [demo_config.source[2]]}),
                  tmp_path)
    seen = _messages(events, "sheets.bad_header", "sheets.bad_row", "source.poll_failed")
    for fragment in ("sheets.bad_header: blank or merged header cell; the column is ignored",
                     "sheets.bad_header: duplicate header; column C is used",
                     "sheets.bad_row: duplicate key; row 2 is used",
                     "sheets.bad_row: no 'Campaign ID'; the row is skipped",
                     "sheets.bad_row: values in columns without a header (B, D) are ignored"):
        assert fragment in seen, seen
    assert "source.poll_failed" not in seen  # the good rows are still read


def test_sheet_without_the_key_column(make_sandbox, demo_config, tmp_path):
    box = make_sandbox("sheets")
    box.sheets.add_spreadsheet(box.spreadsheet_id, "Tracker", {"UTM Tracker": [
        ["Campaign", "Status"], ["CMP-1", "Draft"]]})
    seen = _messages(_run(box, demo_config.model_copy(update={"source": [demo_config.source[2]]}),
                          tmp_path), "source.poll_failed")
    assert "no column 'Campaign ID' in the header row (found: 'Campaign', 'Status')" in seen, seen


@pytest.mark.parametrize(("tool", "route", "raw", "fragment"), [
    ("salesforce", "query", b'{"totalSize": 3, "done": true, "records": [{"Id"',
     "TransientError: Salesforce query: unreadable answer (JSONDecodeError)"),
    ("asana", "get_events", b'{"data": [{"gid"',
     "TransientError: Asana GET /events: the answer was not a JSON object"),
    ("sheets", "drive_files_get", b'{"version": ',
     "TransientError: spreadsheet 1BatonSandboxUtmTracker0000000000000000000A tab 'UTM Tracker': "
     "drive files.get: malformed response body"),
], ids=["salesforce", "asana", "sheets"])
def test_a_truncated_json_body(make_sandbox, demo_config, tmp_path, tool, route, raw, fragment):
    box = make_sandbox(tool)
    getattr(box, tool).faults.add(route, times=10, status=200, raw=raw)
    source = next(s for s in demo_config.source if s.tool == tool)
    seen = _messages(_run(box, demo_config.model_copy(update={"source": [source]}), tmp_path),
                     "source.poll_failed")
    assert fragment in seen, seen
