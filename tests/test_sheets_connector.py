"""SheetsConnector through google-api-python-client against the Sheets/Drive emulator on HTTPS."""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from baton.core.actions import Action, ActionKind
from baton.core.records import TimeSource
from baton.core.keys import idempotency_marker
from baton.core.errors import AuthError, RateLimited, SourceError, TransientError
from baton.connectors.retry import RetryPolicy
from baton.connectors.sheets import SheetsClient, SheetsConnector
from baton.core.config import Secrets, SheetsSettings, SheetsSource
from baton.sandbox.server import SandboxServer
from baton.sandbox.sheets import SheetsEmulator, google_error, quota_fault
from baton.sandbox.sheets_seed import UTM_TAB, UTM_TAB_GID, seed_utm_tracker, sandbox_settings
from baton.sandbox.tls import LocalCA

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
KEY, STATUS, BATON = "Campaign ID", "Status", "Baton"
STATUS_COL, BATON_COL = 5, 6


@dataclass
class Sandbox:
    emulator: SheetsEmulator
    spreadsheet_id: str
    settings: SheetsSettings
    secrets: Secrets
    key_file: Path

    def connector(self, attempts: int = 5, **source: object) -> SheetsConnector:
        retry = RetryPolicy(attempts=attempts, sleep=lambda s: None)
        client = SheetsClient(self.settings, self.secrets, retry)
        fields = {
            "tool": "sheets", "id": "sheets:utm", "spreadsheet_id": self.spreadsheet_id,
            "tab": UTM_TAB, "key_column": KEY, "status_column": STATUS, "baton_column": BATON,
        }
        fields.update(source)
        return SheetsConnector(SheetsSource(**fields), client)

    def row(self, key: str) -> int:
        return self.emulator.row_of(self.spreadsheet_id, UTM_TAB, KEY, key)

    def status_note(self, key: str) -> str | None:
        return self.emulator.note(self.spreadsheet_id, UTM_TAB, self.row(key), STATUS_COL)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    ca = LocalCA.create(tmp_path / "ca")
    emulator = SheetsEmulator()
    spreadsheet_id = seed_utm_tracker(emulator)
    with SandboxServer(emulator, ca) as server:
        overrides, env = sandbox_settings(server.base_url, ca.ca_pem, tmp_path / "keys")
        yield Sandbox(emulator, spreadsheet_id, SheetsSettings(**overrides), Secrets(environ=env),
                      Path(env["GOOGLE_SERVICE_ACCOUNT_FILE"]))


def comment(key: str, record: str, text: str = "UTM check failed", gate: str = "utm") -> Action:
    return Action(key=key, kind=ActionKind.COMMENT, source="sheets:utm", record_id=record,
                  gate_id=gate, text=text)


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}


# ---------------------------------------------------------------- reading


def test_baseline_reads_every_keyed_row_as_a_record(sandbox: Sandbox) -> None:
    batch = sandbox.connector().fetch_changes(None, NOW)

    assert len(batch.records) == 25
    assert batch.cursor == str(sandbox.emulator.version(sandbox.spreadsheet_id))
    first = batch.records[0]
    assert first.id == "CMP-1101"
    assert first.status == "Live"
    assert first.owner == "maya.chen@northwind.example"
    assert first.name == "CMP-1101_paid-social_webinar-dataops_v1_20261120"
    assert first.url.endswith(f"/edit#gid={UTM_TAB_GID}&range=A2")
    assert first.modified_at == NOW
    assert first.fields["Baton"] == ""  # ragged: the trailing empty cell was omitted on the wire
    hyperlink = next(r for r in batch.records if r.id == "CMP-1108")
    assert hyperlink.fields["Landing URL"] == '=HYPERLINK("http://x","y")'  # text, not "y"


def test_idle_cycle_is_one_drive_call(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    first = connector.fetch_changes(None, NOW)
    sandbox.emulator.reset_calls()
    before = dict(connector.api_calls())

    idle = connector.fetch_changes(first.cursor, NOW)

    assert idle.records == [] and idle.cursor == first.cursor
    assert idle.api_calls == 1
    assert delta(dict(connector.api_calls()), before) == {"drive.files.get": 1}
    assert dict(sandbox.emulator.calls) == {"drive_files_get": 1}


def test_changed_cycle_is_drive_plus_one_values_read(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    first = connector.fetch_changes(None, NOW)
    assert first.api_calls == 3  # + the one-time spreadsheets.get for the tab's sheetId
    sandbox.emulator.set_cell(sandbox.spreadsheet_id, UTM_TAB, KEY, "CMP-1103", STATUS, "Live")
    sandbox.emulator.reset_calls()

    changed = connector.fetch_changes(first.cursor, NOW)

    assert changed.api_calls == 2
    assert dict(sandbox.emulator.calls) == {"drive_files_get": 1, "values_get": 1}
    assert changed.cursor != first.cursor
    assert next(r for r in changed.records if r.id == "CMP-1103").status == "Live"


def test_sort_and_insert_keep_ids_and_fingerprints(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    before = {r.id: r.fingerprint for r in connector.fetch_changes(None, NOW).records}
    em, sid = sandbox.emulator, sandbox.spreadsheet_id
    em.sort_rows(sid, UTM_TAB, "Owner", descending=True)
    em.insert_row(sid, UTM_TAB, 1, ["CMP-1199", "paid-social", "CMP-1199_paid-social_new_v1_20261124",
                                    "maya.chen@northwind.example", "https://x.example", "Draft"])
    em.set_cell(sid, UTM_TAB, KEY, "CMP-1110", "Channel", "X")

    after = {r.id: r for r in connector.fetch_changes(None, NOW).records}

    assert set(after) == set(before) | {"CMP-1199"}
    changed = {k for k in before if after[k].fingerprint != before[k]}
    assert changed == {"CMP-1110"}
    assert after["CMP-1101"].url.endswith(f"range=A{sandbox.row('CMP-1101') + 1}")


def test_writing_the_baton_column_does_not_change_fingerprints(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    before = {r.id: r.fingerprint for r in connector.fetch_changes(None, NOW).records}
    connector.write_back([Action(key="v1", kind=ActionKind.SET_FIELD, source="sheets:utm",
                                 record_id="CMP-1104", gate_id="utm", value="FAIL: uppercase")])
    after = {r.id: r for r in connector.fetch_changes(None, NOW).records}
    assert after["CMP-1104"].fields["Baton"] == "FAIL: uppercase"
    assert {k: r.fingerprint for k, r in after.items()} == before


def test_changed_at_column_gives_modified_at(sandbox: Sandbox) -> None:
    em, sid = sandbox.emulator, sandbox.spreadsheet_id
    em.set_cell(sid, UTM_TAB, KEY, "CMP-1102", "Baton", "2026-02-27 14:30")
    em.set_cell(sid, UTM_TAB, KEY, "CMP-1103", "Baton", "yesterday-ish")
    em.sheet(sid, UTM_TAB).ensure(0, BATON_COL).value = "Changed"
    connector = sandbox.connector(changed_at_column="Changed", baton_column="")
    with capture_logs() as logs:
        records = {r.id: r for r in connector.fetch_changes(None, NOW).records}
    assert records["CMP-1102"].modified_at == datetime(2026, 2, 27, 14, 30, tzinfo=UTC)
    assert records["CMP-1102"].modified_source == TimeSource.COLUMN
    assert records["CMP-1103"].modified_at == NOW
    assert records["CMP-1103"].modified_source == TimeSource.POLL
    assert any(e["event"] == "sheets.bad_row" and e["key"] == "CMP-1103" for e in logs)


def test_bad_rows_and_headers_warn_once_and_never_crash(sandbox: Sandbox) -> None:
    em, sid = sandbox.emulator, sandbox.spreadsheet_id
    sheet = em.sheet(sid, UTM_TAB)
    sheet.rows[0].append(None)  # H1 blank header ...
    em.set_note(sid, UTM_TAB, 0, 8, None)
    sheet.ensure(0, 8).value = "Channel"  # ... I1 a duplicate header
    sheet.ensure(3, 7).value = "stray"  # a value under the blank header (ragged beyond it)
    em.insert_row(sid, UTM_TAB, 5, ["", "LinkedIn", "no-key-asset", "", "", "Draft"])
    em.insert_row(sid, UTM_TAB, 6, ["CMP-1101", "Copy", "dup", "", "", "Live"])
    connector = sandbox.connector()

    with capture_logs() as logs:
        records = connector.fetch_changes(None, NOW).records
    warnings = [e for e in logs if e["log_level"] == "warning"]

    assert len(records) == 25
    assert next(r for r in records if r.id == "CMP-1101").fields["Channel"] == "paid-social"
    by_reason = {(e["event"], e.get("row"), e.get("key")): e for e in warnings}
    assert ("sheets.bad_header", 1, None) in {(e["event"], e["row"], e.get("key")) for e in warnings}
    assert {e["column"] for e in warnings if e["event"] == "sheets.bad_header"} == {"H", "I"}
    assert ("sheets.bad_row", 6, None) in by_reason  # no key
    assert "duplicate key" in by_reason[("sheets.bad_row", 7, "CMP-1101")]["reason"]
    assert "without a header" in by_reason[("sheets.bad_row", 4, "CMP-1103")]["reason"]
    assert all(e["tab"] == UTM_TAB and e["source"] == "sheets:utm" for e in warnings)

    with capture_logs() as again:  # the same problems are not logged every cycle
        connector.fetch_changes(None, NOW)
    assert [e for e in again if e["log_level"] == "warning"] == []


def test_missing_key_column_is_a_source_error_naming_the_tab(sandbox: Sandbox) -> None:
    with pytest.raises(SourceError, match=r"UTM Tracker.*no column 'Ticket'"):
        sandbox.connector(key_column="Ticket").fetch_changes(None, NOW)


def test_unknown_tab_spreadsheet_and_permission(sandbox: Sandbox) -> None:
    with pytest.raises(SourceError, match="no tab named 'Nope'"):
        sandbox.connector(tab="Nope").fetch_changes(None, NOW)
    with pytest.raises(SourceError, match="spreadsheet 1missing.*not found"):
        sandbox.connector(spreadsheet_id="1missing").fetch_changes(None, NOW)
    sandbox.emulator.share_only_with(sandbox.spreadsheet_id, {"someone@else.example"})
    with pytest.raises(AuthError, match="share the spreadsheet with baton-sandbox@"):
        sandbox.connector().fetch_changes(None, NOW)


# ---------------------------------------------------------------- writing


def test_all_actions_of_a_call_go_in_one_batch_update(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    connector.fetch_changes(None, NOW)
    actions = [comment(f"c{n}", f"CMP-{1100 + n}") for n in range(1, 11)]
    actions += [Action(key="s1", kind=ActionKind.SET_FIELD, source="sheets:utm", record_id="CMP-1111",
                       gate_id="utm", value="FAIL"),
                comment("gone", "CMP-9999")]
    sandbox.emulator.reset_calls()

    results = connector.write_back(actions)

    assert sandbox.emulator.calls["batch_update"] == 1
    assert [r.ok for r in results] == [True] * 11 + [False]
    assert results[-1].error == "row 'CMP-9999' is no longer in the sheet"
    assert results[0].remote_id == "c1"
    for n in range(1, 11):
        note = sandbox.status_note(f"CMP-{1100 + n}")
        assert note is not None and idempotency_marker(f"c{n}") in note


def test_note_lands_on_the_right_row_after_a_sort_between_read_and_write(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    connector.fetch_changes(None, NOW)
    row_before = sandbox.row("CMP-1105")
    sandbox.emulator.sort_rows(sandbox.spreadsheet_id, UTM_TAB, "Asset", descending=True)
    sandbox.emulator.insert_row(sandbox.spreadsheet_id, UTM_TAB, 1, ["CMP-1200", "Ads", "a", "", "", "Draft"])
    assert sandbox.row("CMP-1105") != row_before

    [result] = connector.write_back([comment("k5", "CMP-1105", "utm_medium is missing")])

    assert result.ok
    notes = sandbox.emulator.notes(sandbox.spreadsheet_id, UTM_TAB)
    assert list(notes) == [(sandbox.row("CMP-1105"), STATUS_COL)]
    assert "utm_medium is missing" in notes[(sandbox.row("CMP-1105"), STATUS_COL)]


def test_formula_text_is_written_as_text(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    record = next(r for r in connector.fetch_changes(None, NOW).records if r.id == "CMP-1108")
    echoed = record.fields["Landing URL"]
    actions = [
        comment("h1", "CMP-1108", f"Landing URL is not a URL: {echoed}"),
        Action(key="h2", kind=ActionKind.SET_FIELD, source="sheets:utm", record_id="CMP-1108",
               gate_id="utm", value=echoed),
        Action(key="h3", kind=ActionKind.SET_FIELD, source="sheets:utm", record_id="CMP-1109",
               gate_id="utm", field="Asset", value="+1-2"),
        Action(key="h4", kind=ActionKind.MOVE_STATUS, source="sheets:utm", record_id="CMP-1110",
               gate_id="utm", value="=IMPORTXML(\"http://evil\",\"//a\")"),
        Action(key="h5", kind=ActionKind.SET_FIELD, source="sheets:utm", record_id="CMP-1111",
               gate_id="utm", value="@SUM(A1)"),
    ]
    assert all(r.ok for r in connector.write_back(actions))

    em, sid = sandbox.emulator, sandbox.spreadsheet_id
    assert em.formula_cells(sid) == []
    values = em.values(sid, UTM_TAB)
    assert values[sandbox.row("CMP-1108")][BATON_COL] == '=HYPERLINK("http://x","y")'
    assert values[sandbox.row("CMP-1109")][2] == "+1-2"
    assert values[sandbox.row("CMP-1110")][STATUS_COL].startswith("=IMPORTXML")
    assert em.raw_cell(sid, UTM_TAB, sandbox.row("CMP-1111"), BATON_COL).value == "@SUM(A1)"


def test_own_notes_cause_one_reread_that_changes_nothing_and_edits_are_read(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    first = connector.fetch_changes(None, NOW)
    connector.write_back([comment("o1", "CMP-1104")])
    sandbox.emulator.reset_calls()

    # our note moved the version: the tab is read again, every fingerprint as it was
    reread = connector.fetch_changes(first.cursor, NOW)
    assert reread.api_calls == 2
    assert {r.id: r.fingerprint for r in reread.records} == {r.id: r.fingerprint for r in first.records}
    assert reread.cursor == str(sandbox.emulator.version(sandbox.spreadsheet_id))
    idle = connector.fetch_changes(reread.cursor, NOW)
    assert idle.records == [] and idle.api_calls == 1

    # someone edits between our read and our write: the next cycle reads it
    sandbox.emulator.set_cell(sandbox.spreadsheet_id, UTM_TAB, KEY, "CMP-1106", STATUS, "Live")
    connector.write_back([comment("o2", "CMP-1106")])
    changed = connector.fetch_changes(idle.cursor, NOW)
    assert next(r for r in changed.records if r.id == "CMP-1106").status == "Live"

    # a bounce is a real status change: it is read back
    connector.write_back([Action(key="m1", kind=ActionKind.MOVE_STATUS, source="sheets:utm",
                                 record_id="CMP-1104", gate_id="utm", value="Draft")])
    bounced = connector.fetch_changes(changed.cursor, NOW)
    assert next(r for r in bounced.records if r.id == "CMP-1104").status == "Draft"


def test_write_back_is_two_calls_and_notes_merge_and_resolve(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    connector.fetch_changes(None, NOW)
    row = sandbox.row("CMP-1104")
    before = dict(connector.api_calls())

    connector.write_back([comment("a", "CMP-1104", "uppercase utm_source", gate="utm")])
    assert delta(dict(connector.api_calls()), before) == {
        "sheets.spreadsheets.get": 1, "sheets.spreadsheets.batchUpdate": 1}
    person = "Asked legal, wait.\n\n" + (sandbox.status_note("CMP-1104") or "")
    sandbox.emulator.set_note(sandbox.spreadsheet_id, UTM_TAB, row, STATUS_COL, person)
    connector.write_back([comment("b", "CMP-1104", "asset name", gate="naming")])
    connector.write_back([comment("a", "CMP-1104", "uppercase utm_source", gate="utm")])  # again
    note = sandbox.status_note("CMP-1104") or ""
    assert note.startswith("Asked legal, wait.")
    assert note.count("[baton:a]") == 1 and "[baton:b]" in note

    [resolved] = connector.write_back([Action(key="r", kind=ActionKind.REMOVE_NOTE, source="sheets:utm",
                                              record_id="CMP-1104", gate_id="utm", target="a")])
    assert resolved.ok
    note = sandbox.status_note("CMP-1104") or ""
    assert "[baton:a]" not in note and "[baton:b]" in note and "Asked legal" in note

    sandbox.emulator.set_note(sandbox.spreadsheet_id, UTM_TAB, row, STATUS_COL, None)
    connector.write_back([comment("c", "CMP-1104")])
    connector.write_back([Action(key="r2", kind=ActionKind.REMOVE_NOTE, source="sheets:utm",
                                 record_id="CMP-1104", gate_id="utm", target="c")])
    assert sandbox.status_note("CMP-1104") is None


def test_write_back_without_a_previous_read(sandbox: Sandbox) -> None:
    [result] = sandbox.connector().write_back([comment("x", "CMP-1102")])
    assert result.ok and "[baton:x]" in (sandbox.status_note("CMP-1102") or "")


# ---------------------------------------------------------------- failures and retries


def test_429_then_success(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    sandbox.emulator.faults.add("values_get", status=429, body=google_error(429, "Quota exceeded"))
    sandbox.emulator.faults.add("drive_files_get", status=503, body=google_error(503))
    sandbox.emulator.faults.add("spreadsheets_get", raw=b'{"sheets": [', status=200)
    batch = connector.fetch_changes(None, NOW)
    assert len(batch.records) == 25
    assert sandbox.emulator.calls["values_get"] == 2
    assert sandbox.emulator.calls["drive_files_get"] == 2


def test_quota_storm_gives_up_after_bounded_attempts(sandbox: Sandbox) -> None:
    connector = sandbox.connector(attempts=4)
    connector.fetch_changes(None, NOW)
    sandbox.emulator.set_cell(sandbox.spreadsheet_id, UTM_TAB, KEY, "CMP-1101", STATUS, "Draft")
    sandbox.emulator.faults.add("values_get", **quota_fault(times=50))
    sandbox.emulator.reset_calls()
    with pytest.raises(RateLimited):
        connector.fetch_changes("1", NOW)
    assert sandbox.emulator.calls["values_get"] == 4
    sandbox.emulator.faults.add("drive_files_get", times=50, status=403,
                                body=google_error(403, "User rate limit exceeded", "userRateLimitExceeded"))
    with pytest.raises(TransientError):
        connector.fetch_changes("1", NOW)


def test_writes_retry_429_but_not_5xx(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    connector.fetch_changes(None, NOW)
    sandbox.emulator.faults.add("batch_update", status=429, body=google_error(429))
    [ok] = connector.write_back([comment("w1", "CMP-1101")])
    assert ok.ok and sandbox.emulator.calls["batch_update"] == 2

    sandbox.emulator.faults.add("batch_update", status=500, body=google_error(500))
    [failed] = connector.write_back([comment("w2", "CMP-1102")])
    assert not failed.ok and failed.retryable
    assert sandbox.emulator.calls["batch_update"] == 3  # not repeated blindly
    assert "[baton:w2]" not in (sandbox.status_note("CMP-1102") or "")


def test_expired_token_is_refreshed_and_the_private_key_never_logged(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    private_key = json.loads(sandbox.key_file.read_text())["private_key"]
    secret_lines = [line for line in private_key.splitlines() if "PRIVATE KEY" not in line and line]
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logs:
        connector = sandbox.connector(attempts=2)
        batch = connector.fetch_changes(None, NOW)
        sandbox.emulator.expire_tokens()
        connector.write_back([comment("t", "CMP-1101")])
        sandbox.emulator.faults.add("values_get", times=5, status=400, body=google_error(400, "bad"))
        with pytest.raises(SourceError):
            connector.fetch_changes("0", NOW)
        sandbox.emulator.faults.add("token", times=5, status=400,
                                    body={"error": "invalid_grant", "error_description": "bad JWT"})
        sandbox.emulator.expire_tokens()
        with pytest.raises(AuthError) as refused:
            connector.fetch_changes(batch.cursor, NOW)
    assert sandbox.emulator.calls["token"] >= 2
    text = "\n".join(map(repr, logs)) + caplog.text + str(refused.value)
    assert not any(line in text for line in secret_lines)
    assert "private_key" not in text


def test_key_file_problems_are_config_errors_without_the_key(sandbox: Sandbox, tmp_path: Path) -> None:
    from baton.core.errors import ConfigError

    info = json.loads(sandbox.key_file.read_text())
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**info, "private_key": info["private_key"][:200]}))
    retry = RetryPolicy(sleep=lambda s: None)
    with pytest.raises(ConfigError) as error:
        SheetsClient(sandbox.settings, Secrets(environ={"GOOGLE_SERVICE_ACCOUNT_FILE": str(broken)}), retry)
    assert info["private_key"][40:120] not in str(error.value)
    with pytest.raises(ConfigError, match="GOOGLE_SERVICE_ACCOUNT_FILE is not set"):
        SheetsClient(sandbox.settings, Secrets(environ={}), retry)


def test_status_history_and_find_written_are_empty(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    assert connector.status_history(["CMP-1101"], None) == {}
    assert connector.find_written([comment("x", "CMP-1101")]) == {}


