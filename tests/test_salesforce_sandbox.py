"""The Salesforce emulator speaks the wire format simple-salesforce expects; shared fixtures.

Other test_salesforce_* modules import `sf_sandbox` (the fixture), `local_ca` and `SfSandbox`.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from baton.connectors.retry import RetryPolicy
from baton.connectors.salesforce import SalesforceConnector, SalesforceOrg
from baton.core.config import SalesforceSettings, SalesforceSource, Secrets
from baton.sandbox.salesforce import SalesforceEmulator, case_safe_id, make_id
from baton.sandbox.salesforce_seed import DemoOrg, sandbox_settings, seed_demo_org
from baton.sandbox.server import SandboxServer
from baton.sandbox.tls import LocalCA

START = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture(scope="session")
def local_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return LocalCA.create(tmp_path_factory.mktemp("salesforce-ca"))


@dataclass
class SfSandbox:
    emulator: SalesforceEmulator
    server: SandboxServer
    ca_pem: Path
    clock: FakeClock
    demo: DemoOrg
    orgs: list[SalesforceOrg] = field(default_factory=list)

    def settings(self, **overrides: Any) -> SalesforceSettings:
        base, _ = sandbox_settings(self.server.base_url, self.ca_pem)
        return SalesforceSettings(**{**base, **overrides})

    def secrets(self, **extra: str) -> Secrets:
        _, env = sandbox_settings(self.server.base_url, self.ca_pem)
        return Secrets(environ={**env, **extra})

    def org(self, *, attempts: int = 4, secrets: Secrets | None = None,
            **overrides: Any) -> SalesforceOrg:
        retry = RetryPolicy(attempts=attempts, sleep=lambda s: None)
        org = SalesforceOrg(self.settings(**overrides), secrets or self.secrets(), retry,
                            clock=self.clock)
        self.orgs.append(org)
        return org

    def connector(self, org: SalesforceOrg | None = None, **source: Any) -> SalesforceConnector:
        spec = {"id": "salesforce:leads", "tool": "salesforce", "object": "Lead",
                "status_field": "Status", "fields": ["Email", "Title", "Consent__c"], **source}
        return SalesforceConnector(SalesforceSource(**spec), org or self.org())

    def simple_salesforce(self) -> Salesforce:
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.ca_pem)
        return Salesforce(instance_url=self.server.base_url,
                          session_id=self.emulator.issue_token(), session=session)


@pytest.fixture
def sf_sandbox(local_ca: LocalCA) -> Iterator[SfSandbox]:
    clock = FakeClock()
    emulator = SalesforceEmulator(clock=clock)
    demo = seed_demo_org(emulator)
    server = SandboxServer(emulator, local_ca).start()
    try:
        yield SfSandbox(emulator, server, local_ca.ca_pem, clock, demo)
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------


def test_ids_have_real_prefixes_and_checksums() -> None:
    lead = make_id("00Q", 12345)
    assert len(lead) == 18 and lead.startswith("00Q")
    assert case_safe_id(lead[:15]) == lead
    # a documented pair: 001D000000IqhSL is 001D000000IqhSLIAZ in its case-safe form
    assert case_safe_id("001D000000IqhSL") == "001D000000IqhSLIAZ"


def test_query_envelope_and_paging_with_batch_size(sf_sandbox: SfSandbox) -> None:
    sf = sf_sandbox.simple_salesforce()
    first = sf.query("SELECT Id, Name, Status, Owner.Name FROM Lead ORDER BY Id",
                     headers={"Sforce-Query-Options": "batchSize=200"})
    assert first["totalSize"] == 40 and first["done"] is True
    record = first["records"][0]
    assert record["attributes"]["type"] == "Lead"
    assert record["attributes"]["url"] == f"/services/data/v59.0/sobjects/Lead/{record['Id']}"
    assert record["Owner"]["attributes"]["type"] == "User"

    from baton.sandbox.salesforce_seed import seed_scale
    seed_scale(sf_sandbox.emulator, 450)
    page = sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=200"})
    assert page["done"] is False and len(page["records"]) == 200
    assert page["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert page["nextRecordsUrl"].endswith("-200")
    rows = list(sf.query_all_iter("SELECT Id FROM Lead",
                                  headers={"Sforce-Query-Options": "batchSize=200"}))
    assert len(rows) == 490 and len({r["Id"] for r in rows}) == 490


def test_every_rest_answer_carries_the_usage_header_and_the_limit_is_enforced(
    sf_sandbox: SfSandbox,
) -> None:
    sf = sf_sandbox.simple_salesforce()
    sf.query("SELECT Id FROM User")
    used = sf.api_usage["api-usage"].used
    sf.query("SELECT Id FROM User")
    assert sf.api_usage["api-usage"].used == used + 1
    sf_sandbox.emulator.set_api_usage(100, 100)
    with pytest.raises(SalesforceRefusedRequest) as refused:
        sf.query("SELECT Id FROM User")
    assert refused.value.content == [{"message": "TotalRequests Limit exceeded.",
                                      "errorCode": "REQUEST_LIMIT_EXCEEDED"}]


def test_expired_sessions_and_unknown_routes_use_salesforce_error_shapes(
    sf_sandbox: SfSandbox,
) -> None:
    sf = sf_sandbox.simple_salesforce()
    with pytest.raises(SalesforceResourceNotFound) as missing:
        sf.restful("no/such/thing")
    assert missing.value.content[0]["errorCode"] == "NOT_FOUND"
    sf_sandbox.emulator.expire_sessions()
    with pytest.raises(SalesforceExpiredSession) as expired:
        sf.query("SELECT Id FROM Lead")
    assert expired.value.content == [{"message": "Session expired or invalid",
                                      "errorCode": "INVALID_SESSION_ID"}]


def test_malformed_and_invalid_field_queries(sf_sandbox: SfSandbox) -> None:
    sf = sf_sandbox.simple_salesforce()
    with pytest.raises(SalesforceMalformedRequest) as bad:
        sf.query("SELECT Id FROM Lead WHERE Status = 'MQL' AND")
    assert bad.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    with pytest.raises(SalesforceMalformedRequest) as unknown:
        sf.query("SELECT Id, Favourite_Colour__c FROM Lead")
    assert unknown.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert "No such column 'Favourite_Colour__c' on entity 'Lead'" in unknown.value.content[0][
        "message"]


def test_crud_history_and_timestamps(sf_sandbox: SfSandbox) -> None:
    sf = sf_sandbox.simple_salesforce()
    created = sf.Lead.create({"LastName": "Ng", "Company": "Kite", "Status": "MQL"})
    lead_id = created["id"]
    assert lead_id.startswith("00Q") and len(lead_id) == 18 and created["success"] is True
    sf_sandbox.clock.advance(90)
    assert sf.Lead.update(lead_id, {"Status": "Working - Contacted"}) == 204
    row = sf.Lead.get(lead_id)
    assert row["Status"] == "Working - Contacted" and row["Name"] == "Ng"
    assert row["SystemModstamp"] == "2026-11-24T10:01:30.000+0000"
    assert row["CreatedDate"] == "2026-11-24T10:00:00.000+0000"
    history = sf.query(f"SELECT LeadId, Field, OldValue, NewValue, CreatedDate, CreatedById "
                       f"FROM LeadHistory WHERE LeadId = '{lead_id}'")["records"]
    assert [(h["OldValue"], h["NewValue"], h["CreatedDate"]) for h in history] == [
        ("MQL", "Working - Contacted", "2026-11-24T10:01:30.000+0000")]
    with pytest.raises(SalesforceMalformedRequest) as bad_field:
        sf.Lead.update(lead_id, {"Colour__c": "red"})
    assert bad_field.value.content[0]["errorCode"] == "INVALID_FIELD"
    sf.Lead.delete(lead_id)
    assert sf.query(f"SELECT Id FROM Lead WHERE Id = '{lead_id}'")["totalSize"] == 0
    assert sf.query_all(f"SELECT Id, IsDeleted FROM Lead WHERE Id = '{lead_id}'",
                        include_deleted=True)["records"][0]["IsDeleted"] is True


def test_composite_collections_all_or_none_and_mixed_types(sf_sandbox: SfSandbox) -> None:
    sf = sf_sandbox.simple_salesforce()
    lead = sf_sandbox.demo.lead_ids[0]
    records = [{"attributes": {"type": "Task"}, "Subject": "Call", "WhoId": lead},
               {"attributes": {"type": "FeedItem"}, "ParentId": lead, "Body": "hi"},
               {"attributes": {"type": "FeedItem"}, "ParentId": lead}]
    partial = sf.restful("composite/sobjects", method="POST",
                         json={"allOrNone": False, "records": records})
    assert [r["success"] for r in partial] == [True, True, False]
    assert partial[0]["id"].startswith("00T") and partial[1]["id"].startswith("0D5")
    assert partial[2]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    atomic = sf.restful("composite/sobjects", method="POST",
                        json={"allOrNone": True, "records": records})
    assert atomic[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert len(sf_sandbox.emulator.records("Task")) == 1
    update = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Task"}, "id": partial[0]["id"], "Status": "Completed"},
        {"attributes": {"type": "Lead"}, "id": lead, "Status": "Unqualified"},
    ]})
    assert [r["success"] for r in update] == [True, True]
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": [
            {"attributes": {"type": "Task"}, "Subject": str(i)} for i in range(201)]})


def test_python_side_users_write_history_and_bump_modstamp(sf_sandbox: SfSandbox) -> None:
    emulator = sf_sandbox.emulator
    lead = sf_sandbox.demo.lead_ids[0]
    sf_sandbox.clock.advance(60)
    emulator.update_record("Lead", lead, {"Status": "Working - Contacted"},
                           by_user_id=sf_sandbox.demo.sdr_id)
    row = next(r for r in emulator.records("Lead") if r["Id"] == lead)
    assert row["SystemModstamp"] == START + timedelta(seconds=60)
    history = emulator.records("LeadHistory")
    assert history[-1]["CreatedById"] == sf_sandbox.demo.sdr_id
    assert (history[-1]["OldValue"], history[-1]["NewValue"]) == ("MQL", "Working - Contacted")


def test_demo_org_has_the_people_the_queue_and_gaps_for_the_gates(sf_sandbox: SfSandbox) -> None:
    sf = sf_sandbox.simple_salesforce()
    members = sf.query("SELECT UserOrGroupId, Group.Name FROM GroupMember "
                       "WHERE Group.Type = 'Queue'")["records"]
    assert members[0]["Group"]["Name"] == "Data Remediation"
    assert members[0]["UserOrGroupId"] == sf_sandbox.demo.remediation_id
    names = {r["Name"] for r in sf.query("SELECT Name FROM User")["records"]}
    assert "Maya Chen (SDR Manager)" in names
    leads = sf_sandbox.emulator.records("Lead")
    statuses = {lead["Status"] for lead in leads}
    assert statuses == {"Open - Not Contacted", "MQL", "Working - Contacted", "SQL", "Unqualified"}
    assert any(not lead.get("Title") for lead in leads)
    assert any(lead.get("Consent__c") is not True for lead in leads)
    assert any(lead["LeadSource"] == "Webinar" and not lead.get("Webinar_Topic__c")
               for lead in leads)
    assert any("@" not in lead["Email"] or "." not in lead["Email"].split("@")[1]
               for lead in leads)


def test_seed_scale_is_fast(sf_sandbox: SfSandbox) -> None:
    import time

    from baton.sandbox.salesforce_seed import seed_scale
    started = time.perf_counter()
    seed_scale(sf_sandbox.emulator, 50_000)
    assert time.perf_counter() - started < 10
    assert len(sf_sandbox.emulator.records("Lead")) == 50_040
