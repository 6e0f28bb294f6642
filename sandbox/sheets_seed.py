"""Seed data for the Sheets emulator, and the settings that point the real client at it."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.sheets import SheetsEmulator

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


# Campaign ID, Channel, Asset, Owner, Landing URL, Status
_ROWS: list[list[str]] = [
    ["CMP-2026-001", "LinkedIn", "2026q1_webinar-dataops_linkedin_1200x627", "maya.chen@northwind.example",
     _url("webinars/dataops", "linkedin", "paid-social", "2026q1-webinar-dataops"), "Live"],
    ["CMP-2026-002", "Google Ads", "2026q1_webinar-dataops_search_rsa", "maya.chen@northwind.example",
     _url("webinars/dataops", "google", "cpc", "2026q1-webinar-dataops"), "Live"],
    ["CMP-2026-003", "Newsletter", "2026q1_product-update_email_hero", "liam.ortiz@northwind.example",
     _url("blog/q1-product-update", "newsletter", "email", "2026q1-product-update"), "Approved"],
    ["CMP-2026-004", "LinkedIn", "2026q1_ebook-lakehouse_linkedin_1080x1080", "liam.ortiz@northwind.example",
     _url("ebooks/lakehouse", "LinkedIn", "paid-social", "2026q1-ebook-lakehouse"), "Ready for QA"],  # uppercase
    ["CMP-2026-005", "Facebook", "2026q1_ebook-lakehouse_facebook_1200x628", "priya.nair@northwind.example",
     f"{_SITE}/ebooks/lakehouse?utm_source=facebook&utm_campaign=2026q1-ebook-lakehouse", "Ready for QA"],  # no medium
    ["CMP-2026-006", "Google Ads", "2026q1_ebook-lakehouse_display_300x250", "priya.nair@northwind.example",
     _url("ebooks/lakehouse", "google", "display", "2026q1-ebook-lakehouse", "&utm_source=google"), "Draft"],  # dup
    ["CMP-2026-007", "YouTube", "Final banner v2 (1).png", "jonas.weber@northwind.example",
     _url("videos/customer-story-acme", "youtube", "video", "2026q1-acme-story"), "Ready for QA"],  # bad asset
    ["CMP-2026-008", "Partner", "2026q1_partner-summit_partner_banner", "jonas.weber@northwind.example",
     '=HYPERLINK("http://x","y")', "Draft"],  # typed as text, never a formula
    ["CMP-2026-009", "Newsletter", "2026q1_customer-digest_email_hero", "maya.chen@northwind.example",
     _url("customers/digest", "newsletter", "email", "2026q1-customer-digest"), "Live"],
    ["CMP-2026-010", "Twitter", "2026q1_launch-teaser_x_1600x900", "sofia.rossi@northwind.example",
     _url("launch", "x", "organic-social", "2026q1-launch"), "Approved"],
    ["CMP-2026-011", "LinkedIn", "2026q1_launch_linkedin_1200x627", "sofia.rossi@northwind.example",
     _url("launch", "linkedin", "paid-social", "2026q1-launch"), "Approved"],
    ["CMP-2026-012", "Google Ads", "2026q1_launch_search_rsa", "sofia.rossi@northwind.example",
     _url("launch", "google", "cpc", "2026q1-launch"), "Ready for QA"],
    ["CMP-2026-013", "Capterra", "2026q1_review-push_capterra_listing", "liam.ortiz@northwind.example",
     _url("reviews", "capterra", "referral", "2026q1-review-push"), "Draft"],
    ["CMP-2026-014", "Events", "2026q1_dataops-summit_booth_backdrop", "jonas.weber@northwind.example",
     _url("events/dataops-summit", "event", "offline", "2026q1-dataops-summit"), "Draft"],
    ["CMP-2026-015", "Newsletter", "2026q1_dataops-summit_email_invite", "maya.chen@northwind.example",
     _url("events/dataops-summit", "newsletter", "email", "2026q1-dataops-summit"), "Ready for QA"],
    ["CMP-2026-016", "LinkedIn", "2026q1_case-study-globex_linkedin_1200x627", "priya.nair@northwind.example",
     _url("customers/globex", "linkedin", "Paid-Social", "2026q1-globex-story"), "Approved"],  # uppercase
    ["CMP-2026-017", "Facebook", "2026q1_case-study-globex_facebook_1200x628", "priya.nair@northwind.example",
     _url("customers/globex", "facebook", "paid-social", "2026q1-globex-story"), "Live"],
    ["CMP-2026-018", "Google Ads", "2026q1_pricing_search_rsa", "sofia.rossi@northwind.example",
     _url("pricing", "google", "cpc", "2026q1-pricing"), "Live"],
    ["CMP-2026-019", "Reddit", "2026q1_dev-community_reddit_promoted", "jonas.weber@northwind.example",
     _url("developers", "reddit", "paid-social", "2026q1-dev-community"), "Draft"],
    ["CMP-2026-020", "Newsletter", "2026q1_pricing_email_announcement", "liam.ortiz@northwind.example",
     _url("pricing", "newsletter", "email", "2026q1-pricing"), "Approved"],
    ["CMP-2026-021", "LinkedIn", "2026q1_hiring_linkedin_carousel", "maya.chen@northwind.example",
     _url("careers", "linkedin", "organic-social", "2026q1-hiring"), "Ready for QA"],
    ["CMP-2026-022", "Google Ads", "2026q1_competitor_search_rsa", "sofia.rossi@northwind.example",
     _url("compare", "google", "cpc", "2026q1-competitor", "&utm_medium=cpc"), "Ready for QA"],  # dup
    ["CMP-2026-023", "Podcast", "2026q1_data-talks_podcast_midroll", "liam.ortiz@northwind.example",
     _url("podcast", "data-talks", "audio", "2026q1-data-talks"), "Draft"],
    ["CMP-2026-024", "YouTube", "2026q1_tutorial-series_youtube_preroll", "jonas.weber@northwind.example",
     _url("tutorials", "youtube", "video", "2026q1-tutorials"), "Approved"],
    ["CMP-2026-025", "Webinar", "2026q1_webinar-governance_email_invite", "priya.nair@northwind.example",
     _url("webinars/governance", "Webinar", "email", "2026q1-webinar-governance"), "Draft"],  # uppercase
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
    channels = ["LinkedIn", "Google Ads", "Newsletter", "Facebook", "YouTube"]
    owners = ["maya.chen", "liam.ortiz", "priya.nair", "jonas.weber", "sofia.rossi"]
    rows: list[list[Any]] = [HEADER]
    for n in range(1, n_rows + 1):
        channel = channels[n % len(channels)]
        slug = channel.lower().replace(" ", "-")
        rows.append([
            f"CMP-S-{n:06d}",
            channel,
            f"2026q2_scale-{n:06d}_{slug}_1200x627",
            f"{owners[n % len(owners)]}@northwind.example",
            _url(f"scale/{n}", slug, "paid-social", f"2026q2-scale-{n:06d}"),
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
