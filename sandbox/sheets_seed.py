"""Seed data for the Sheets emulator, and the settings that point the real client at it."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from baton.sandbox.sheets import SheetsEmulator

UTM_TRACKER_ID = "1BatonSandboxUtmTracker0000000000000000000A"  # fixed, so config.toml can name it
UTM_TAB = "UTM Tracker"
UTM_TAB_GID = 1187654321
SCALE_ID = "1BatonSandboxScale000000000000000000000000A"
SCALE_TAB = "Scale"
SERVICE_ACCOUNT_EMAIL = "baton-sandbox@baton-sandbox.iam.gserviceaccount.com"

HEADER = ["Campaign ID", "Channel", "Asset", "Owner", "Landing URL", "Status", "Baton"]
STATUSES = ["Draft", "Ready for QA", "Approved", "Live"]

_SITE = "https://www.northwind-analytics.com"


def _url(path: str, source: str, medium: str, campaign: str, extra: str = "") -> str:
    return f"{_SITE}/{path}?utm_source={source}&utm_medium={medium}&utm_campaign={campaign}{extra}"


# Campaign ID, Channel, Asset, Owner, Landing URL, Status. The conventions are the ones the
# content team uses in Asana: CMP-1234 ids, assets CMP-1234_channel_slug_vN_YYYYMMDD, and
# utm_campaign cmp-1234-slug.
def _row(number: int, channel: str, slug: str, owner: str, path: str, source: str, medium: str,
         status: str, *, asset: str | None = None, url: str | None = None) -> list[str]:
    campaign = f"CMP-{number}"
    return [campaign, channel, asset or f"{campaign}_{channel}_{slug}_v1_20261120",
            f"{owner}@northwind.example",
            url or _url(path, source, medium, f"cmp-{number}-{slug}"), status]


_ROWS: list[list[str]] = [
    _row(1101, "paid-social", "webinar-dataops", "maya.chen", "webinars/dataops", "linkedin", "paid-social", "Live"),
    _row(1102, "search", "webinar-dataops", "maya.chen", "webinars/dataops", "google", "cpc", "Live"),
    _row(1103, "email", "product-update", "liam.ortiz", "blog/q1-product-update", "newsletter", "email", "Approved"),
    _row(1104, "paid-social", "ebook-lakehouse", "liam.ortiz", "ebooks/lakehouse", "LinkedIn", "paid-social",
         "Ready for QA"),  # uppercase utm_source
    _row(1105, "paid-social", "ebook-lakehouse-fb", "priya.nair", "", "", "", "Ready for QA",
         url=f"{_SITE}/ebooks/lakehouse?utm_source=facebook&utm_campaign=cmp-1105-ebook-lakehouse-fb"),  # no medium
    _row(1106, "display", "ebook-lakehouse-gdn", "priya.nair", "ebooks/lakehouse", "gdn", "display", "Draft",
         url=_url("ebooks/lakehouse", "gdn", "display", "cmp-1106-ebook-lakehouse-gdn", "&utm_source=gdn")),  # dup
    _row(1107, "display", "customer-story", "jonas.weber", "videos/customer-story", "youtube", "video",
         "Ready for QA", asset="Final banner v2 (1).png"),  # bad asset name
    _row(1108, "email", "partner-summit", "jonas.weber", "", "", "", "Draft",
         url='=HYPERLINK("http://x","y")'),  # typed as text: must never become a formula
    _row(1109, "email", "customer-digest", "maya.chen", "customers/digest", "newsletter", "email", "Live"),
    _row(1110, "organic-social", "launch-teaser", "sofia.rossi", "launch", "linkedin", "organic-social", "Approved"),
    _row(1111, "paid-social", "launch", "sofia.rossi", "launch", "linkedin", "paid-social", "Approved"),
    _row(1112, "search", "launch", "sofia.rossi", "launch", "google", "cpc", "Ready for QA"),
    _row(1113, "display", "review-push", "liam.ortiz", "reviews", "partner", "referral", "Draft"),
    _row(1114, "events", "dataops-summit", "jonas.weber", "events/dataops-summit", "partner", "referral", "Draft"),
    _row(1115, "email", "dataops-summit", "maya.chen", "events/dataops-summit", "newsletter", "email", "Ready for QA"),
    _row(1116, "paid-social", "globex-story", "priya.nair", "customers/globex", "linkedin", "Paid-Social",
         "Approved"),  # uppercase utm_medium
    _row(1117, "paid-social", "globex-story", "priya.nair", "customers/globex", "facebook", "paid-social", "Live"),
    _row(1118, "search", "pricing", "sofia.rossi", "pricing", "google", "cpc", "Live"),
    _row(1119, "paid-social", "dev-community", "jonas.weber", "developers", "meta", "paid-social", "Draft"),
    _row(1120, "email", "pricing", "liam.ortiz", "pricing", "newsletter", "email", "Approved"),
    _row(1121, "organic-social", "hiring", "maya.chen", "careers", "linkedin", "organic-social", "Ready for QA"),
    _row(1122, "search", "competitor", "sofia.rossi", "compare", "google", "cpc", "Ready for QA",
         url=_url("compare", "google", "cpc", "cmp-1122-competitor", "&utm_medium=cpc")),  # dup
    _row(1123, "blog", "data-talks", "liam.ortiz", "podcast", "blog", "organic", "Draft"),
    _row(1124, "display", "tutorial-series", "jonas.weber", "tutorials", "youtube", "video", "Approved"),
    _row(1125, "webinar", "webinar-governance", "priya.nair", "webinars/governance", "Newsletter", "email",
         "Draft"),  # uppercase utm_source
]


def seed_utm_tracker(emulator: SheetsEmulator) -> str:
    """The marketing team's UTM tracker: 25 rows, a handful of them wrong on purpose."""
    rows: list[list[Any]] = [HEADER, *_ROWS]
    emulator.add_spreadsheet(
        UTM_TRACKER_ID,
        "Q1 2026 — UTM Tracker",
        {UTM_TAB: rows, "Read me": [["This tracker is checked by Baton. Do not rename the columns."]]},
        sheet_ids={UTM_TAB: UTM_TAB_GID, "Read me": 0},
    )
    return UTM_TRACKER_ID


def seed_scale(emulator: SheetsEmulator, n_rows: int) -> str:
    """A tab of `n_rows` well-formed rows for benchmarks."""
    channels = [("paid-social", "linkedin", "paid-social"), ("search", "google", "cpc"),
                ("email", "newsletter", "email"), ("display", "gdn", "display")]
    owners = ["maya.chen", "liam.ortiz", "priya.nair", "jonas.weber", "sofia.rossi"]
    rows: list[list[Any]] = [HEADER]
    for n in range(1, n_rows + 1):
        channel, source, medium = channels[n % len(channels)]
        number = 1000 + n % 9000
        rows.append([
            f"CMP-{number}-{n}",  # unique keys; the gate's pattern is not what a benchmark measures
            channel,
            f"CMP-{number}_{channel}_scale-{n}_v1_20261120",
            f"{owners[n % len(owners)]}@northwind.example",
            _url(f"scale/{n}", source, medium, f"cmp-{number}-scale-{n}"),
            STATUSES[n % len(STATUSES)],
        ])
    emulator.add_spreadsheet(SCALE_ID, f"Scale test ({n_rows} rows)", {SCALE_TAB: rows})
    return SCALE_ID


def sandbox_settings(base_url: str, ca_pem: Path, key_dir: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """([sheets] overrides, secret env vars) that point the real client at the emulator.

    Writes a throwaway service-account key (a fresh RSA key, token_uri on the emulator) into
    `key_dir`; nothing real is ever in it.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "baton-sandbox",
        "private_key_id": "sandbox-key-1",
        "private_key": pem,
        "client_email": SERVICE_ACCOUNT_EMAIL,
        "client_id": "100000000000000000001",
        "auth_uri": base_url + "/auth",
        "token_uri": base_url + "/token",
        "auth_provider_x509_cert_url": base_url + "/certs",
        "client_x509_cert_url": base_url + "/certs/baton-sandbox",
        "universe_domain": "googleapis.com",
    }
    key_dir.mkdir(parents=True, exist_ok=True)
    path = key_dir / "sheets-service-account.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(info, handle, indent=2)
    overrides = {
        "sheets_endpoint": base_url + "/",
        "drive_endpoint": base_url + "/drive/v3/",
        "ca_bundle": str(ca_pem),
    }
    return overrides, {"GOOGLE_SERVICE_ACCOUNT_FILE": str(path)}
