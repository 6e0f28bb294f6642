"""Seed data for the Salesforce emulator: a realistic demo org, a scale org, and sandbox settings.

`seed_demo_org` builds the marketing team the demo and the integration tests talk about: an SDR,
her manager, marketing ops, a remediation specialist and a "Data Remediation" queue, and about
forty leads across the funnel, some of them with exactly the gaps the demo gates catch (no title,
no consent, a webinar lead without a topic, an invalid email).

`seed_scale` loads tens of thousands of leads for benchmarks, quickly and without history.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from baton.sandbox.salesforce import SalesforceEmulator

STATUSES = ("Open - Not Contacted", "MQL", "Working - Contacted", "SQL", "Unqualified")
SOURCES = ("Webinar", "Web", "Content Download", "Trade Show", "Partner Referral", "Paid Search")
WEBINAR_TOPICS = ("Attribution in 2026", "Scaling ABM", "Marketing Ops Benchmarks",
                  "Lead Scoring Deep Dive")


@dataclass(frozen=True)
class DemoOrg:
    """Ids the demo script and the tests refer to."""

    sdr_id: str
    sdr_manager_id: str
    marketing_ops_id: str
    remediation_id: str
    remediation_queue_id: str
    lead_ids: tuple[str, ...]
    campaign_ids: tuple[str, ...] = ()


# The campaigns the Asana content calendar and the UTM tracker refer to by Campaign ID
# (Code__c). CMP-1203, the demo's launch carousel, is missing on purpose: the cross-tool gate
# `campaign-in-salesforce` (rules/demo/cross-tool.toml) names it.
DEMO_CAMPAIGNS: tuple[dict[str, Any], ...] = tuple(
    {"Name": name, "Code__c": code, "Status": status, "IsActive": status == "In Progress",
     "Type": kind, "UTM_Source__c": source, "UTM_Medium__c": medium,
     "UTM_Campaign__c": f"{code.lower()}-{slug}"}
    for code, name, slug, status, kind, source, medium in (
        ("CMP-1201", "Winter launch", "winter-launch", "In Progress", "Email", "newsletter", "email"),
        ("CMP-1202", "Partner webinar", "partner-webinar", "Planned", "Webinar", "newsletter",
         "email"),
        ("CMP-1204", "Autumn recap", "autumn-recap", "Completed", "Email", "newsletter", "email"),
        ("CMP-1301", "Spring digest", "spring-digest", "Planned", "Email", "newsletter", "email"),
        ("CMP-1302", "Retargeting", "retarget", "In Progress", "Advertisement", "gdn", "display"),
        # the content calendar's seeded tasks (sandbox.asana_seed)
        *((f"CMP-{n}", f"Campaign {n}", "seeded", "In Progress", "Other", "newsletter", "email")
          for n in range(1042, 1052)),
    ))


_DEMO_LEADS: tuple[tuple[str, str, str, str, str, str, Any, Any], ...] = (
    # first, last, company, title, status, source, consent, webinar topic
    ("Avery", "Lindqvist", "Northwind Analytics", "VP Marketing", "MQL", "Webinar", True,
     "Attribution in 2026"),
    ("Priya", "Raman", "Globex Health", "Director of Demand Generation", "MQL", "Content Download",
     True, None),
    ("Jonas", "Becker", "Helios Energy", "", "MQL", "Web", True, None),  # no title
    ("Sofia", "Marquez", "Brightline Logistics", "Head of Growth", "MQL", "Webinar", False,
     "Scaling ABM"),  # no consent
    ("Kenji", "Watanabe", "Tanuki Robotics", "Marketing Manager", "MQL", "Webinar", True,
     None),  # webinar without topic
    ("Olivia", "Grant", "Sterling Capital", "CMO", "MQL", "Trade Show", True, None),
    ("Marcus", "Oyelaran", "Lagos FinServ", "Growth Lead", "Open - Not Contacted", "Web", True,
     None),
    ("Elena", "Petrova", "Volga Systems", "Product Marketing Manager", "Open - Not Contacted",
     "Paid Search", None, None),
    ("Hannah", "Schmidt", "Bergmann AG", "Marketing Director", "Working - Contacted",
     "Partner Referral", True, None),
    ("Diego", "Fernandez", "Iberia Retail Group", "Digital Marketing Lead", "Working - Contacted",
     "Webinar", True, "Marketing Ops Benchmarks"),
    ("Grace", "O'Connell", "Emerald Insights", "VP Revenue Operations", "SQL", "Trade Show", True,
     None),
    ("Tomasz", "Nowak", "Wisła Software", "CTO", "SQL", "Web", True, None),
    ("Aisha", "Khan", "Crescent Media", "Brand Manager", "Unqualified", "Paid Search", False,
     None),
    ("Liam", "Murphy", "Cobalt Security", "Student", "Unqualified", "Content Download", None,
     None),
    ("Chloé", "Dubois", "Lumière Cosmetics", "Directrice Marketing", "MQL", "Webinar", True,
     "Lead Scoring Deep Dive"),
    ("Noah", "Andersen", "Fjord Maritime", "Head of Marketing", "MQL", "Web", True, None),
    ("Mei", "Lin", "Jade Commerce", "", "Open - Not Contacted", "Webinar", True, None),
    ("Samuel", "Adeyemi", "Savanna Telecom", "Marketing Operations Manager", "Working - Contacted",
     "Web", True, None),
    ("Isabella", "Rossi", "Tuscan Foods", "E-commerce Director", "MQL", "Paid Search", True, None),
    ("Ethan", "Clarke", "Redwood Ventures", "Partner", "SQL", "Partner Referral", True, None),
    ("Yuki", "Sato", "Sakura Devices", "Marketing Specialist", "Open - Not Contacted",
     "Content Download", True, None),
    ("Fatima", "Al-Sayed", "Oasis Travel", "Director of Marketing", "MQL", "Trade Show", False,
     None),
    ("Lucas", "Moreau", "Alpine Outdoor", "Demand Gen Manager", "Working - Contacted", "Webinar",
     True, "Scaling ABM"),
    ("Zara", "Hussain", "Nimbus Cloud", "VP Marketing", "MQL", "Web", True, None),
    ("Oliver", "Bennett", "Thames Legal", "Marketing Coordinator", "Unqualified", "Web", True,
     None),
    ("Ana", "Costa", "Atlântico Seguros", "Head of Digital", "Open - Not Contacted",
     "Paid Search", True, None),
    ("Felix", "Wagner", "Donau Maschinenbau", "", "MQL", "Trade Show", True, None),  # no title
    ("Nora", "Haddad", "Cedar Pharma", "Field Marketing Manager", "SQL", "Webinar", True,
     "Attribution in 2026"),
    ("Ravi", "Patel", "Monsoon Labs", "Growth Marketing Manager", "Working - Contacted",
     "Content Download", True, None),
    ("Emma", "Johansson", "Nordlys Energy", "CMO", "MQL", "Partner Referral", True, None),
    ("Gabriel", "Silva", "Pampa Agro", "Marketing Analyst", "Open - Not Contacted", "Web", None,
     None),
    ("Leah", "Cohen", "Carmel Biotech", "Director, Marketing", "MQL", "Webinar", True, None),
    ("Arjun", "Mehta", "Ganges Data", "Head of Demand Generation", "SQL", "Paid Search", True,
     None),
    ("Ingrid", "Larsen", "Polar Freight", "Marketing Lead", "Working - Contacted", "Trade Show",
     True, None),
    ("Mateo", "Gutierrez", "Andes Mining", "", "Unqualified", "Paid Search", False, None),
    ("Amara", "Nwosu", "Niger Delta Power", "Communications Director", "MQL", "Content Download",
     True, None),
    ("Henrik", "Holm", "Viking Textiles", "Marketing Manager", "Open - Not Contacted", "Webinar",
     True, "Marketing Ops Benchmarks"),
    ("Camille", "Laurent", "Seine Studio", "Creative Director", "MQL", "Web", True, None),
    ("Daniel", "Kim", "Han River Games", "User Acquisition Lead", "Working - Contacted",
     "Paid Search", True, None),
    ("Sara", "Lindgren", "Gotland Wind", "VP Communications", "MQL", "Trade Show", True, None),
)
_INVALID_EMAIL_LEADS = {"Noah": "noah.andersen@fjord-maritime", "Yuki": "yuki.sato(at)sakura.jp"}


def _email(first: str, last: str, company: str) -> str:
    domain = "".join(ch for ch in company.lower() if ch.isalnum()) + ".example"
    local = "".join(ch for ch in f"{first}.{last}".lower() if ch.isalnum() or ch == ".")
    return f"{local}@{domain}"


def seed_demo_org(emulator: SalesforceEmulator) -> DemoOrg:
    """The demo marketing org; timestamps are spread over the two weeks before `emulator.clock`."""
    create = emulator.create_record
    manager = create("User", {"FirstName": "Maya", "LastName": "Chen (SDR Manager)",
                              "Username": "maya.chen@acme-demo.example",
                              "Email": "maya.chen@acme-demo.example", "Title": "SDR Manager"})
    sdr = create("User", {"FirstName": "Jordan", "LastName": "Reyes",
                          "Username": "jordan.reyes@acme-demo.example",
                          "Email": "jordan.reyes@acme-demo.example",
                          "Title": "Sales Development Representative", "ManagerId": manager})
    ops = create("User", {"FirstName": "Sam", "LastName": "Okafor",
                          "Username": "sam.okafor@acme-demo.example",
                          "Email": "sam.okafor@acme-demo.example", "Title": "Marketing Ops"})
    remediation = create("User", {"FirstName": "Lena", "LastName": "Fischer",
                                  "Username": "lena.fischer@acme-demo.example",
                                  "Email": "lena.fischer@acme-demo.example",
                                  "Title": "Data Remediation Specialist", "ManagerId": ops})
    create("User", {"FirstName": "Former", "LastName": "Employee", "IsActive": False,
                    "Username": "former.employee@acme-demo.example",
                    "Email": "former.employee@acme-demo.example"})
    queue = create("Group", {"Name": "Data Remediation", "DeveloperName": "Data_Remediation",
                             "Type": "Queue"})
    create("GroupMember", {"GroupId": queue, "UserOrGroupId": remediation})

    rng = random.Random(20261124)
    now = emulator.clock()
    rows = []
    for index, (first, last, company, title, status, source, consent, topic) in enumerate(
        _DEMO_LEADS
    ):
        created = (now - timedelta(days=14) + timedelta(hours=index * 7, minutes=rng.randint(0, 59))
                   ).replace(microsecond=0)
        row: dict[str, Any] = {
            "FirstName": first, "LastName": last, "Company": company, "Status": status,
            "LeadSource": source, "Email": _INVALID_EMAIL_LEADS.get(first)
            or _email(first, last, company),
            "Phone": f"+1 415 555 {1000 + index:04d}",
            "OwnerId": sdr if status != "Open - Not Contacted" or index % 2 else ops,
            "CreatedDate": created, "SystemModstamp": created, "LastModifiedDate": created,
        }
        if title:
            row["Title"] = title
        if consent is not None:
            row["Consent__c"] = consent
        if topic:
            row["Webinar_Topic__c"] = topic
        rows.append(row)
    lead_ids = emulator.bulk_load("Lead", rows, created_by=ops)
    campaigns = [create("Campaign", {**values, "OwnerId": ops}) for values in DEMO_CAMPAIGNS]
    return DemoOrg(sdr, manager, ops, remediation, queue, tuple(lead_ids), tuple(campaigns))


_FIRST = ("Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn",
          "Robin", "Drew", "Kai", "Noa", "Rene", "Sasha")
_LAST = ("Smith", "Garcia", "Chen", "Müller", "Okafor", "Rossi", "Novak", "Silva", "Kim", "Dubois",
         "Larsen", "Patel", "Nguyen", "Cohen", "Kowalski", "Tanaka")
_COMPANY = ("Acme Corp", "Globex", "Initech", "Umbrella Health", "Hooli", "Stark Logistics",
            "Wayne Media", "Tyrell Systems", "Soylent Foods", "Cyberdyne Labs")
_TITLE = ("Marketing Manager", "VP Marketing", "Demand Gen Lead", "CMO", None)


def seed_scale(emulator: SalesforceEmulator, n_leads: int, *, owner_id: str | None = None,
               loaded_now: bool = False) -> None:
    """`n_leads` leads over the last 30 days, loaded in bulk (50,000 in well under a few seconds);
    `loaded_now`: all of them stamped now instead, as a bulk load that has just run.

    Values are drawn from small pools and timestamps from a few thousand shared datetime objects,
    so the rows share strings and stay small in memory.
    """
    owner = owner_id or emulator.integration_user_id
    now = emulator.clock().replace(microsecond=0)
    stamps = [now - timedelta(seconds=0 if loaded_now else 37 * i) for i in range(4096)]
    emails_domain = "scale.example"

    def rows() -> Any:
        for i in range(n_leads):
            first = _FIRST[i % 16]
            last = _LAST[(i // 16) % 16]
            stamp = stamps[(i * 7919) % 4096]
            row = {"FirstName": first, "LastName": last, "Company": _COMPANY[i % 10],
                   "Status": STATUSES[i % 5], "LeadSource": SOURCES[i % 6],
                   "Email": f"lead{i}@{emails_domain}", "OwnerId": owner,
                   "CreatedDate": stamp, "LastModifiedDate": stamp, "SystemModstamp": stamp,
                   "Consent__c": i % 7 != 0}
            title = _TITLE[i % 5]
            if title:
                row["Title"] = title
            yield row

    emulator.bulk_load("Lead", rows())


def sandbox_settings(base_url: str, ca_pem: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """The `[salesforce]` overrides and the secret environment for talking to the emulator.

    Pair it with an emulator built with the default client id/secret (or pass the same ones).
    """
    emulator_defaults = SalesforceEmulator.__init__.__kwdefaults__ or {}
    settings = {"login_url": base_url, "ca_bundle": str(ca_pem), "auth": "client_credentials"}
    secrets = {
        "SALESFORCE_CLIENT_ID": emulator_defaults.get("client_id", ""),
        "SALESFORCE_CLIENT_SECRET": emulator_defaults.get("client_secret", ""),
    }
    return settings, secrets
