"""Loading rule files: every invalid snippet names its file, key path and expectation (a table);
valid snippets load; problems are collected across files; definitions cross files."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from baton.core.owners import OwnerKind
from baton.rules import RuleFileError, RuleSet, load_rule_set

TAXONOMY = """
[taxonomy.channel]
values = ["email", "paid-social"]
"""


def gate(checks: str = '{ field = "Email", required = true }', extra: str = "",
         gate_id: str = "g") -> str:
    return textwrap.dedent(f"""
        [[gate]]
        id = "{gate_id}"
        source = "salesforce:leads"
        enters = "MQL"
        checks = [{checks}]
        """) + textwrap.dedent(extra)


def write(tmp_path: Path, text: str, name: str = "rules.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(tmp_path: Path, *texts: str) -> list:
    paths = [write(tmp_path, text, f"f{index}.toml") for index, text in enumerate(texts)]
    with pytest.raises(RuleFileError) as caught:
        load_rule_set(paths)
    return caught.value.problems


INVALID = [
    # (snippet, key path, part of the message)
    (gate("""{ field = "Campaign ID", pattern = '^CMP-(\\d{4}$' }"""),
     "gate[g].checks[1].pattern",
     "expected a regular expression, found '^CMP-(\\\\d{4}$': missing ), unterminated subpattern"),
    (gate('{ field = "Email", required = true, requird = true }'),
     "gate[g].checks[1].requird", "unknown key; expected one of: id, field, message, when"),
    (gate('{ field = "Email" }'), "gate[g].checks[1]",
     "expected one of the check keys required, pattern, allowed"),
    (gate('{ field = "X", pattern = "a", allowed = ["a"] }'), "gate[g].checks[1]",
     "expected one kind of check, found pattern and allowed"),
    (TAXONOMY + gate('{ field = "Channel", taxonomy = "chanel" }'), "gate[g].checks[1].taxonomy",
     "unknown taxonomy 'chanel'; defined: channel"),
    (gate('{ field = "name", naming = "asset-name" }'), "gate[g].checks[1].naming",
     "unknown naming template 'asset-name'; defined: none"),
    (gate('{ field = "Landing URL", utm = "links" }'), "gate[g].checks[1].utm",
     "unknown UTM taxonomy 'links'"),
    (gate("""{ expr = "fields['a'] >", message = "m" }"""), "gate[g].checks[1].expr",
     "expected a valid CEL expression, found \"fields['a'] >\": "),
    (gate('{ expr = "feilds.a == 1", message = "m" }'), "gate[g].checks[1].expr",
     "unknown name 'feilds'; expressions can use fields, record, now"),
    (gate('{ expr = "true" }'), "gate[g].checks[1].message", "expected this key, found nothing"),
    (gate().replace('enters = "MQL"', "enters = 5"), "gate[g].enters", "expected text, found 5"),
    (gate().replace('source = "salesforce:leads"', ""), "gate[g].source",
     "expected this key, found nothing"),
    ('[gate2]\nid = "x"\n', "gate2",
     "unknown table; expected one of: taxonomy, naming, utm, gate, calendar, sla"),
    ('[gate]\nid = "x"\n', "gate", "expected [[gate]] tables (note the double brackets)"),
    (gate() + gate(), "gate[g].id", "expected a unique gate id, found 'g' already used in"),
    (gate(extra='on_fail = { comment = "Fix {failures" }'), "gate[g].on_fail.comment",
     "expected a closing '}' for the '{' at character 5"),
    (gate('{ field = "Email", required = true, message = "Email} missing" }'),
     "gate[g].checks[1].message", "found a '}' without its '{'"),
    (gate(extra='on_fail = { comment = "{}" }'), "gate[g].on_fail.comment",
     "expected a placeholder name"),
    (gate(extra='on_fail = { task = { owner = "bob" } }'), "gate[g].on_fail.task.owner",
     "expected 'owner', 'manager', 'user:<id, email or name>' or 'queue:<name>', found 'bob'"),
    (gate(extra='on_fail = { move_to = "MQL" }'), "gate[g].on_fail.move_to",
     "expected a status other than the one this gate guards, found 'MQL'"),
    (gate(extra="on_fail = {}"), "gate[g].on_fail",
     "expected at least one of comment, task, move_to or set"),
    (gate(extra='on_fail = { comment = 3 }'), "gate[g].on_fail.comment",
     "expected true, false or a message template, found 3"),
    (gate(extra='on_fail = { bounce = "Drafting" }'), "gate[g].on_fail.bounce",
     "unknown key; expected one of: comment, task, move_to, set"),
    (gate('{ field = "Email", required = false }'), "gate[g].checks[1].required",
     "expected true, found false"),
    (gate('{ field = "S", min_length = 9, max_length = 3 }'), "gate[g].checks[1]",
     "expected min_length <= max_length, found 9 > 3"),
    (gate('{ field = "S", max_length = 0 }'), "gate[g].checks[1].max_length",
     "expected a number greater than or equal to 1, found 0"),
    (gate('{ field = "W", required = true, when = { field = "L", equals = "a", present = true } }'),
     "gate[g].checks[1].when", "expected exactly one of equals, in or present, found equals and present"),
    (gate('{ field = "W", required = true, when = { field = "L", equals = ["a"] } }'),
     "gate[g].checks[1].when.equals", "expected text, a number or true/false, found a list"),
    (gate('{ field = "W", required = true, optional = true }'), "gate[g].checks[1]",
     "expected either required = true or optional = true, found both"),
    (gate('{ field = "C", pattern = "CMP-\\\\d{4}", example = "CMP-12" }'),
     "gate[g].checks[1].example", "expected an example matching the pattern, found 'CMP-12'"),
    (gate(""), "gate[g].checks", "expected at least 1 item(s), found none"),
    (gate('"Email"'), "gate[g].checks[1]", "expected a table, found 'Email'"),
    (gate('{ field = 5, required = true }'), "gate[g].checks[1].field", "expected text, found 5"),
    (gate('{ field = "  ", required = true }'), "gate[g].checks[1].field", "expected non-empty text"),
    (gate(gate_id="my gate"), "gate[my gate].id", "expected letters, digits, '-', '_', '.' or ':'"),
    (gate().replace('id = "g"', ""), "gate[1].id", "expected this key, found nothing"),
    (gate().replace('enters = "MQL"', 'enters = "MQL"\nfrom = 5'), "gate[g].from",
     "expected a list, found 5"),
    ("[taxonomy.channel]\nvalues = [\"a\", \"b\", \"a\"]\n", "taxonomy.channel.values",
     "expected each value once, found 'a' twice"),
    ("[taxonomy.channel]\nvalues = []\n", "taxonomy.channel.values",
     "expected at least 1 item(s), found none"),
    ("[taxonomy.channel]\nvalues = [\"a\"]\nlabels = { b = \"B\" }\n", "taxonomy.channel.labels",
     "expected labels for listed values only, found 'b'"),
    ("[taxonomy.channel]\nvalue = [\"a\"]\n", "taxonomy.channel.value",
     "unknown key; expected one of: values, labels, description"),
    ('[naming.n]\ntemplate = "{a}_{b}"\nparts = { c = { pattern = "x" } }\n', "naming.n.parts.c",
     "'c' is not a part of the template '{a}_{b}' (its parts: a, b)"),
    ('[naming.n]\ntemplate = "{a}_{d}"\nparts = { d = { date = "%Y%Q" } }\n', "naming.n.parts.d.date",
     "expected a date format using %Y %y %m %d %H %M %S %j, found '%Q'"),
    ('[naming.n]\ntemplate = "{a}_{a}"\n', "naming.n.template", "the part {a} appears twice"),
    ('[naming.n]\ntemplate = "plain"\n', "naming.n.template", "expected at least one {part}"),
    ('[naming.n]\ntemplate = "{a}_{b"\n', "naming.n.template", "expected a closing '}'"),
    ('[naming.n]\ntemplate = "{a}_{b}"\nparts = { a = { pattern = "(" } }\n',
     "naming.n.parts.a.pattern", "expected a regular expression, found '('"),
    ('[naming.n]\ntemplate = "{a}_{b}"\nparts = { a = { pattern = "x", values = ["x"] } }\n',
     "naming.n.parts.a", "expected one of pattern, taxonomy, values or date, found pattern and values"),
    ('[naming.n]\ntemplate = "{a}_{b}"\nparts = { a = { taxonomy = "nope" } }\n',
     "naming.n.parts.a.taxonomy", "unknown taxonomy 'nope'"),
    ('[naming.n]\ntemplate = "{a}_{n}"\nexample = "x_y"\nparts = { n = { pattern = "\\\\d+" } }\n',
     "naming.n.example", "expected an example following '{a}_{n}', found 'x_y'"),
    ('[utm.u.params.utm_campaign]\npattern = "cmp-\\\\d{4}"\ngroup_equals = { number = "Campaign ID" }\n',
     "utm.u.params.utm_campaign.group_equals.number",
     "expected the pattern to have a group named 'number' (write (?P<number>…))"),
    ('[utm.u.params.utm_campaign]\ngroup_equals = { number = "Campaign ID" }\n',
     "utm.u.params.utm_campaign.group_equals.number", "found no pattern"),
    ('[utm.u.params.utm_source]\ntaxonomy = "sources"\n', "utm.u.params.utm_source.taxonomy",
     "unknown taxonomy 'sources'; defined: none"),
    ('[utm.u.params.utm_source]\npattern = "[a-"\n', "utm.u.params.utm_source.pattern",
     "expected a regular expression"),
    ('[utm.u]\nrequired = "utm_source"\n', "utm.u.required", "expected a list, found 'utm_source'"),
    ('[utm.u]\nlowercase = "yes"\n', "utm.u.lowercase", "expected true or false, found 'yes'"),
    ("[[gate]]\nid = \"g\"\nsource = \"s\n", "line 3", "expected valid TOML"),
    ('[[sla]]\nid = "s"\nsource = "salesforce:leads"\nstarts = "MQL"\nreach = ["Working"]\n'
     'within = "5m"\nafter_gate = "nope"\n', "sla[s].after_gate", "unknown gate 'nope'"),
    # calendars and SLAs: the same schema, key paths and words as gates
    ('[calendar.sdr]\ntimezone = "Mars/Olympus"\n', "calendar.sdr.timezone",
     "expected an IANA time zone like 'Europe/Berlin', found 'Mars/Olympus'"),
    ('[calendar.sdr]\ndays = ["mon", "fun"]\n', "calendar.sdr.days[2]",
     "expected one of mon, tue, wed, thu, fri, sat, sun, found 'fun'"),
    ('[calendar.sdr]\nhours = "9-5"\n', "calendar.sdr.hours", "expected 'HH:MM-HH:MM', found '9-5'"),
    ('[calendar.sdr]\nhours = "09:00-08:00"\n', "calendar.sdr.hours",
     "expected the closing time after the opening time"),
    ('[calendar.sdr]\nholidays = ["xmas"]\n', "calendar.sdr.holidays[1]",
     "expected YYYY-MM-DD, found 'xmas'"),
    ('[calendar.sdr]\ncolour = 1\n', "calendar.sdr.colour",
     "unknown key; expected one of: timezone, days, hours, holidays, country, subdivision, description"),
    ('[[sla]]\nid = "s"\nsource = "x"\nstarts = "MQL"\nreach = ["W"]\nwithin = "5 minutes"\n',
     "sla[s].within", "expected a duration like '5m', '4h', '2d' or '1h30m', found '5 minutes'"),
    ('[[sla]]\nid = "s"\nsource = "x"\nstarts = "MQL"\nwithin = "5m"\n', "sla[s].reach",
     "expected the statuses that meet the SLA (or or_leave = true), found none"),
    ('[[sla]]\nid = "s"\nsource = "x"\nstarts = "MQL"\nreach = ["W"]\nwithin = "5m"\n'
     'calendar = "nope"\n', "sla[s].calendar", "unknown calendar 'nope'; defined: none"),
    ('[[sla]]\nsource = "x"\nstarts = "MQL"\nreach = ["W"]\nwithin = "5m"\n', "sla[1].id",
     "expected this key, found nothing"),
    ('[[sla]]\nid = "s"\nsource = "x"\nstarts = "MQL"\nreach = ["W"]\nwithin = "5m"\n'
     'escalate = [{ after = "5m" }]\n', "sla[s].escalate[1]",
     "expected at least one of task, comment, reassign or notify"),
    ('[[sla]]\nid = "s"\nsource = "x"\nstarts = "MQL"\nreach = ["W"]\nwithin = "5m"\n'
     'escalate = [{ after = "9m", comment = "a" }, { after = "5m", comment = "b" }]\n',
     "sla[s].escalate", "expected the steps in order of `after`, found 9m, 5m"),
    ('[[sla]]\nid = "s"\nsource = "x"\nstarts = "MQL"\nreach = ["W"]\nwithin = "5m"\n'
     'escalate = [{ after = "5m", notify = "https://hooks.example/x" }]\n',
     "sla[s].escalate[1].notify", "expected the NAME of an environment variable"),
    ('[[sla]]\nid = "s"\nsource = "x"\nstarts = "MQL"\nreach = ["W"]\nwithin = "5m"\n'
     'escalate = [{ after = "5m", task = { subject = "Late", owner = "bob" } }]\n',
     "sla[s].escalate[1].task.owner", "expected 'owner', 'manager', 'user:<id, email or name>'"),
    ('[[sla]]\nid = "s"\nsource = "x"\nstarts = "MQL"\nreach = ["W"]\nwithin = "5m"\n'
     'escalate = [{ after = "5m", comment = "late {name" }]\n', "sla[s].escalate[1].comment",
     "expected a closing '}'"),
    ('[[sla]]\nid = "s"\nsource = "x"\nstarts = "MQL"\nreach = ["W"]\nwithin = "5m"\n' * 2,
     "sla[s].id", "expected a unique SLA id, found 's' already used in"),
    ('[sla]\nid = "s"\n', "sla", "expected [[sla]] tables (note the double brackets)"),
]


@pytest.mark.parametrize(("snippet", "where", "message"), INVALID,
                         ids=[f"{case[1]}:{index}" for index, case in enumerate(INVALID)])
def test_invalid_snippet_names_file_key_and_expectation(tmp_path, snippet, where, message):
    found = problems(tmp_path, snippet)
    assert any(p.where == where and message in p.message and p.file.endswith("f0.toml")
               for p in found), "\n".join(map(str, found))


VALID = [
    gate(),
    TAXONOMY + gate('{ field = "Channel", taxonomy = "channel", optional = true }'),
    gate("""
      { field = "Email", required = true },
      { field = "Email", pattern = '[^@]+@[^@]+', optional = true, message = "Email '{value}' is not valid" },
      { field = "LeadSource", allowed = ["Webinar", "Event"], ignore_case = true },
      { field = "Subject", min_length = 5, max_length = 80 },
      { field = "Consent__c", is_true = true },
      { field = "Due date", before_field = "Launch date", allow_equal = true },
      { field = "Start", after_field = "Kickoff", before_field = "End" },
      { field = "Topic", required = true, when = { field = "LeadSource", in = ["Webinar", 3, true] } },
      { field = "Topic", required = true, when = { field = "LeadSource", present = false } },
      { id = "amount", expr = "fields['Amount'] > 0 || record.status == 'Draft'", message = "Add the amount" },
      { expr = "[1, 2].all(x, x > 0) && now > timestamp('2020-01-01T00:00:00Z')", message = "m" },
    """),
    gate(extra='from = ["Open", "Working"]\non_fail = { comment = true, move_to = "Open" }'),
    gate(extra='from = "Open"\non_fail = { task = true, set = { "Baton status" = "Blocked: {failure_count}" } }\n'
               'on_pass = { resolve = false, note = false }'),
    gate(extra="""
        [gate.on_fail]
        comment = "Literal {{braces}} and {Campaign ID}"
        [gate.on_fail.task]
        subject = "Fix {name}"
        owner = "user:maya@example.com"
        """),
    '[naming.n]\ntemplate = "{a}-{d}"\nexample = "x-20260101"\nparts = { d = { date = "%Y%m%d" } }\n',
    '[calendar.sdr]\ntimezone = "Europe/Berlin"\n\n[[sla]]\nid = "s"\nsource = "salesforce:leads"\n'
    'starts = "MQL"\nreach = ["Working"]\nwithin = "5m"\ncalendar = "sdr"\n'
    'escalate = [{ after = "5m", comment = "late" }]\n',
]


@pytest.mark.parametrize("snippet", VALID)
def test_valid_snippet_loads(tmp_path, snippet):
    rule_set = load_rule_set([write(tmp_path, snippet)])
    assert isinstance(rule_set, RuleSet)


def test_every_problem_in_every_file_is_reported_one_per_line(tmp_path):
    first = gate('{ field = "A", pattern = "(" }, { field = "B", taxonomy = "nope" }',
                 extra='on_fail = { comment = "{oops" }')
    second = '[taxonomy.t]\nvalues = []\n\n[mystery]\nx = 1\n'
    found = problems(tmp_path, first, second)
    assert [(Path(p.file).name, p.where) for p in found] == [
        ("f0.toml", "gate[g].checks[1].pattern"),
        ("f0.toml", "gate[g].checks[2].taxonomy"),
        ("f0.toml", "gate[g].on_fail.comment"),
        ("f1.toml", "taxonomy.t.values"),
        ("f1.toml", "mystery"),
    ]
    with pytest.raises(RuleFileError) as caught:
        load_rule_set([tmp_path / "f0.toml", tmp_path / "f1.toml"])
    lines = str(caught.value).splitlines()
    assert len(lines) == 5
    assert lines[0].startswith(f"{tmp_path / 'f0.toml'}: gate[g].checks[1].pattern: expected a regular")


def test_a_missing_file_is_a_problem_not_a_crash(tmp_path):
    with pytest.raises(RuleFileError) as caught:
        load_rule_set([tmp_path / "absent.toml"])
    assert caught.value.problems[0].where == "(file)"
    assert "expected a readable rule file" in caught.value.problems[0].message


def test_non_utf8_file_is_a_problem(tmp_path):
    path = tmp_path / "latin.toml"
    path.write_bytes(b'[taxonomy.t]\nvalues = ["caf\xe9"]\n')
    with pytest.raises(RuleFileError, match="expected UTF-8 text"):
        load_rule_set([path])


def test_definitions_and_gates_may_live_in_different_files(tmp_path):
    definitions = write(tmp_path, TAXONOMY + '[naming.n]\ntemplate = "{c}_{x}"\n'
                        'parts = { c = { taxonomy = "channel" } }\n', "defs.toml")
    gates = write(tmp_path, gate('{ field = "Channel", taxonomy = "channel" }, '
                                 '{ field = "name", naming = "n" }'), "gates.toml")
    rule_set = load_rule_set([gates, definitions])
    assert [check.id for check in rule_set.gates[0].checks] == ["Channel.taxonomy", "name.naming"]


def test_a_definition_twice_is_a_problem_naming_the_first_file(tmp_path):
    found = problems(tmp_path, TAXONOMY, TAXONOMY)
    assert [(p.file.endswith("f1.toml"), p.where) for p in found] == [(True, "taxonomy.channel")]
    assert "already defined in" in found[0].message and found[0].message.endswith("f0.toml")


def test_a_reference_to_a_broken_definition_is_reported_once(tmp_path):
    found = problems(tmp_path, '[naming.n]\ntemplate = "{a"\n' + gate('{ field = "name", naming = "n" }'))
    assert [p.where for p in found] == ["naming.n.template"]


def test_check_ids_default_to_field_and_kind_and_stay_unique(tmp_path):
    rule_set = load_rule_set([write(tmp_path, gate(
        '{ field = "Email", required = true }, { field = "Email", pattern = "x" }, '
        '{ field = "Email", pattern = "y" }, { expr = "true", message = "m" }'))])
    assert [c.id for c in rule_set.gates[0].checks] == [
        "Email.required", "Email.pattern", "Email.pattern-2", "expr"]


def test_explicit_check_ids_must_be_unique(tmp_path):
    found = problems(tmp_path, gate('{ id = "a", field = "X", required = true }, '
                                    '{ id = "a", field = "Y", required = true }'))
    assert [(p.where, p.message) for p in found] == [
        ("gate[g].checks[2].id", "expected a unique check id in this gate, found 'a' already used "
                                 "by checks[1]")]


def test_gates_entering_respects_source_status_and_from(tmp_path):
    text = (gate(gate_id="any") + gate(gate_id="from-open", extra='from = ["Open"]')
            + gate(gate_id="other-status").replace('enters = "MQL"', 'enters = "SQL"'))
    rule_set = load_rule_set([write(tmp_path, text)])
    ids = lambda *args: [g.id for g in rule_set.gates_entering(*args)]  # noqa: E731
    assert ids("salesforce:leads", "MQL", "Open") == ["any", "from-open"]
    assert ids("salesforce:leads", "MQL", "Working") == ["any"]
    assert ids("salesforce:leads", "MQL", None) == ["any"]
    assert ids("salesforce:leads", "SQL", None) == ["other-status"]
    assert ids("asana:content", "MQL", "Open") == []
    assert rule_set.sources() == {"salesforce:leads"}


def test_on_fail_and_on_pass_are_typed(tmp_path):
    text = gate(extra="""
        [gate.on_fail]
        move_to = "Data Remediation"
        set = { "Baton" = "blocked" }
        [gate.on_fail.task]
        subject = "Handoff blocked: {name}"
        owner = "queue:Data Remediation"
        """)
    rule_set = load_rule_set([write(tmp_path, text)])
    on_fail = rule_set.gates[0].on_fail
    assert on_fail.comment is None  # only what is asked for once on_fail is given
    assert on_fail.task is not None and on_fail.task.owner.kind is OwnerKind.QUEUE
    assert on_fail.task.owner.value == "Data Remediation"
    assert "{failures}" in on_fail.task.body  # the default body lists the failures
    assert on_fail.move_to == "Data Remediation" and dict(on_fail.set) == {"Baton": "blocked"}
    assert rule_set.gates[0].on_pass.resolve is True


def test_a_gate_without_on_fail_comments_with_the_default_template(tmp_path):
    rule_set = load_rule_set([write(tmp_path, gate())])
    assert rule_set.gates[0].on_fail.comment is not None
    assert "{failures}" in rule_set.gates[0].on_fail.comment


def test_version_is_a_content_hash(tmp_path):
    path = write(tmp_path, gate())
    first = load_rule_set([path]).version
    assert first == load_rule_set([path]).version and len(first) == 12
    write(tmp_path, gate(extra='description = "changed"'))
    assert load_rule_set([path]).version != first


def test_an_unknown_top_level_table_is_a_problem(tmp_path):
    found = problems(tmp_path, gate() + '\n[[digest]]\nevery = "1h"\n')
    assert [(p.where, p.message) for p in found] == [
        ("digest", "unknown table; expected one of: taxonomy, naming, utm, gate, calendar, sla")]


def test_slas_are_loaded_with_their_calendars(tmp_path):
    rule_set = load_rule_set([write(tmp_path, gate(gate_id="mql-entry") + VALID[-1]
                                    .replace("[[sla]]", "[[sla]]\nafter_gate = \"mql-entry\"", 1))])
    assert [s.id for s in rule_set.slas] == ["s"]
    assert rule_set.slas[0].calendar is rule_set.calendars["sdr"]
