"""Seed data for the Asana emulator: the demo "Content Calendar" and a large project for benchmarks.

Gids are fixed where config names them (the workspace, the bot user, the demo project), so
`config.toml` can say `project = "1209000000000100"`.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from baton.sandbox.asana import SANDBOX_TOKEN, AsanaEmulator

DEMO_PROJECT_GID = "1209000000000100"
SCALE_PROJECT_GID = "1209000000000200"

SECTIONS = ["Backlog", "Drafting", "Ready for Design", "In Design", "Ready for Web", "Live"]
CHANNELS = ["email", "paid-social", "organic-social", "webinar", "display", "blog"]
FUNNEL_STAGES = ["awareness", "consideration", "decision", "retention"]

# (campaign, channel part of the name, slug, version, section, assignee role, brief, landing URL,
#  channel field, funnel stage); some rows are wrong on purpose, as the comments say.
_CALENDAR: list[tuple[Any, ...]] = [
    (1042, "email", "spring-newsletter", 1, "Live", "web",
     "Pastel hero, 600px, two product tiles", "https://acme.example/spring?utm_source=newsletter&utm_medium=email&utm_campaign=cmp-1042", "email", "retention"),
    (1043, "paid-social", "spring-carousel", 2, "Ready for Web", "web",
     "Carousel, 5 cards 1080x1080", "https://acme.example/spring?utm_source=meta&utm_medium=paid-social&utm_campaign=cmp-1043", "paid-social", "awareness"),
    (1044, "organic-social", "customer-story-reel", 1, "In Design", "designer",
     "Vertical 9:16 reel, captions burned in", "https://acme.example/stories/nordhaus?utm_source=instagram&utm_medium=organic-social&utm_campaign=cmp-1044", "organic-social", "consideration"),
    (1045, "webinar", "pricing-masterclass", 1, "Ready for Design", "designer",
     "", "https://acme.example/webinars/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=cmp-1045", "webinar", "consideration"),  # missing brief
    (1046, "blog", "q4-benchmark-report", 3, "Drafting", "writer",
     "Header illustration + 3 charts", "https://acme.example/blog/q4-benchmarks?utm_source=blog&utm_medium=organic&utm_campaign=cmp-1046", "blog", "awareness"),
    (1047, "newsletter", "holiday-gift-guide", 1, "Ready for Design", "designer",
     "Gift grid, 8 products, festive palette", "https://acme.example/gifts?utm_source=newsletter&utm_medium=email&utm_campaign=cmp-1047", "email", "decision"),  # bad channel part
    (1048, "display", "retargeting-banners", 1, "In Design", "designer",
     "IAB sizes 300x250, 728x90, 160x600", "https://acme.example/demo?utm_source=gdn&utm_medium=display&utm_campaign=CMP-1048", "display", "decision"),  # uppercase UTM
    (1049, "email", "onboarding-day3", 2, "Ready for Web", "web",
     "Single column, product GIF", "https://acme.example/start?utm_source=lifecycle&utm_source=email&utm_campaign=cmp-1049", "email", "retention"),  # duplicated utm param
    (1050, "paid-social", "webinar-promo", 1, "Backlog", "writer",
     "", "", "paid-social", "awareness"),
    (1051, "blog", "ai-in-marketing-ops", 1, "Drafting", "writer",
     "Abstract header, brand gradient", "https://acme.example/blog/ai-ops?utm_source=blog&utm_medium=organic&utm_campaign=cmp-1051", "blog", "awareness"),
    (1052, "email", "black-friday-teaser", 1, "Ready for Design", "designer",
     "Countdown hero, dark theme", "https://acme.example/bf?utm_source=newsletter&utm_medium=email&utm_campaign=cmp-1052", "email", "decision"),
    (1053, "organic-social", "team-spotlight", 1, "Live", "web",
     "Photo collage, 4 people", "https://acme.example/careers?utm_source=linkedin&utm_medium=organic-social&utm_campaign=cmp-1053", "organic-social", "awareness"),
    (1054, "webinar", "partner-summit-recap", 2, "Ready for Web", "web",
     "Speaker cards, recap video thumbnail", "https://acme.example/webinars/summit?utm_source=newsletter&utm_medium=email&utm_campaign=cmp-1054", "webinar", "retention"),
    (1055, "display", "brand-awareness-q1", 1, "Backlog", "writer",
     "", "", "display", "awareness"),
    (1056, "paid-social", "case-study-video", 1, "In Design", "designer",
     "16:9 and 1:1 cuts, subtitles", "https://acme.example/cases/lumen?utm_source=linkedin&utm_medium=paid-social&utm_campaign=cmp-1056", "paid-social", "consideration"),
    (1057, "email", "product-update-nov", 1, "Drafting", "writer",
     "Three feature blocks with screenshots", "https://acme.example/updates/nov?utm_medium=email&utm_campaign=cmp-1057", "email", "retention"),  # bad UTM: no utm_source
    (1058, "blog", "seo-pillar-attribution", 2, "Ready for Design", "designer",
     "Diagram of the attribution funnel", "https://acme.example/blog/attribution?utm_source=blog&utm_medium=organic&utm_campaign=cmp-1058", "blog", "consideration"),
    (1059, "Email", "renewal-reminder", 1, "Ready for Web", "web",
     "Plain-text style, signature block", "https://acme.example/renew?utm_source=lifecycle&utm_medium=email&utm_campaign=cmp-1059", "email", "retention"),  # bad channel part (case)
    (1060, "organic-social", "holiday-countdown", 1, "Backlog", "writer",
     "", "", "organic-social", "awareness"),
    (1061, "webinar", "demand-gen-playbook", 1, "Drafting", "writer",
     "Slide template, 16:9", "https://acme.example/webinars/playbook?utm_source=newsletter&utm_medium=email&utm_campaign=cmp-1061", "webinar", "consideration"),
    (1062, "display", "trial-conversion", 2, "Ready for Web", "web",
     "Animated HTML5 300x600", "https://acme.example/trial?UTM_SOURCE=gdn&utm_medium=display&utm_campaign=cmp-1062", "display", "decision"),  # uppercase UTM key
    (1063, "email", "event-invite-london", 1, "In Design", "designer",
     "Venue photo, map, agenda table", "https://acme.example/events/london?utm_source=newsletter&utm_medium=email&utm_campaign=cmp-1063", "email", "consideration"),
    (1064, "paid-social", "lookalike-test", 1, "Live", "web",
     "Static 1:1, two headline variants", "https://acme.example/pricing?utm_source=meta&utm_medium=paid-social&utm_campaign=cmp-1064", "paid-social", "decision"),
    (1065, "blog", "customer-interview-series", 1, "Backlog", "writer",
     "", "", "blog", "consideration"),
    (1066, "organic-social", "product-tips-carousel", 1, "Ready for Design", "designer",
     "", "https://acme.example/tips?utm_source=instagram&utm_medium=organic-social&utm_campaign=cmp-1066", "organic-social", "retention"),  # missing brief
    (1067, "email", "win-back-30d", 1, "Drafting", "writer",
     "Discount banner, single CTA", "https://acme.example/back?utm_source=lifecycle&utm_medium=email&utm_campaign=cmp-1067&utm_campaign=cmp-1067", "email", "retention"),  # duplicated utm param
    (1068, "webinar", "analytics-office-hours", 1, "Live", "web",
     "Host headshots, recurring series badge", "https://acme.example/webinars/office-hours?utm_source=newsletter&utm_medium=email&utm_campaign=cmp-1068", "webinar", "retention"),
    (1069, "display", "competitor-conquest", 1, "Drafting", "writer",
     "Comparison table creative", "https://acme.example/compare?utm_source=gdn&utm_medium=display&utm_campaign=cmp-1069", "display", "decision"),
    (1070, "blog", "year-in-review", 1, "Ready for Design", "designer",
     "Timeline illustration, 12 milestones", "https://acme.example/blog/2026?utm_source=blog&utm_medium=organic&utm_campaign=cmp-1070", "blog", "awareness"),
    (1071, "paid-social", "new-year-offer", 1, "Backlog", "writer",
     "", "", "paid-social", "decision"),
]


def _base(emulator: AsanaEmulator, project_gid: str, name: str) -> tuple[str, dict[str, str]]:
    users = {
        "writer": emulator.add_user("Maya Ortiz", "maya.ortiz@acme.example"),
        "designer": emulator.add_user("Jonas Berg", "jonas.berg@acme.example"),
        "web": emulator.add_user("Priya Nair", "priya.nair@acme.example"),
        "ops": emulator.add_user("Sam Okafor", "sam.okafor@acme.example"),
    }
    fields = [
        emulator.add_custom_field("Campaign ID", "text"),
        emulator.add_custom_field("Channel", "enum", CHANNELS),
        emulator.add_custom_field("Visual brief", "text"),
        emulator.add_custom_field("Landing URL", "text"),
        emulator.add_custom_field("Funnel stage", "enum", FUNNEL_STAGES),
    ]
    project = emulator.add_project(name, SECTIONS, fields, gid=project_gid)
    return project, users


def seed_content_calendar(emulator: AsanaEmulator) -> str:
    """The demo workspace: ~30 content tasks, each walked through its sections with history."""
    if DEMO_PROJECT_GID in emulator.projects:
        return DEMO_PROJECT_GID
    project, users = _base(emulator, DEMO_PROJECT_GID, "Content Calendar")
    now = emulator.clock.now()
    start = now - timedelta(days=10)
    role_for_section = {"Backlog": "ops", "Drafting": "writer", "Ready for Design": "designer",
                        "In Design": "designer", "Ready for Web": "web", "Live": "web"}
    for index, row in enumerate(_CALENDAR):
        (campaign, channel_part, slug, version, section, role, brief, url, channel, stage) = row
        emulator.clock.set(start + timedelta(hours=5 * index))
        day = (start + timedelta(days=14 + index)).strftime("%Y%m%d")
        values: dict[str, Any] = {"Campaign ID": f"CMP-{campaign}", "Channel": channel,
                                  "Funnel stage": stage}
        if brief:
            values["Visual brief"] = brief
        if url:
            values["Landing URL"] = url
        gid = emulator.create_task(
            project, f"CMP-{campaign}_{channel_part}_{slug}_v{version}_{day}", "Backlog", values,
            assignee=users["ops"], due_on=(start + timedelta(days=14 + index)).date().isoformat(),
            notes=f"Campaign CMP-{campaign}: {slug.replace('-', ' ')}.", by=users["ops"])
        for step in SECTIONS[1:SECTIONS.index(section) + 1]:
            emulator.clock.advance(3600 * (3 + index % 5))
            mover = users[role_for_section[SECTIONS[SECTIONS.index(step) - 1]]]
            emulator.move_task(gid, step, by=mover)
        emulator.tasks[gid].assignee = users[role]
    emulator.clock.set(now)
    return project


def seed_scale(emulator: AsanaEmulator, n_tasks: int) -> str:
    """A large project for benchmarks: n tasks spread over the sections, no history (fast)."""
    project, users = _base(emulator, SCALE_PROJECT_GID, f"Scale test ({n_tasks} tasks)")
    people = list(users.values())
    for index in range(n_tasks):
        emulator.create_task(
            project, f"CMP-{10000 + index}_{CHANNELS[index % 6]}_scale-item_v1_20261120",
            SECTIONS[index % len(SECTIONS)],
            {"Campaign ID": f"CMP-{10000 + index}", "Channel": CHANNELS[index % 6]},
            assignee=people[index % len(people)], quiet=True)
    return project


def sandbox_settings(base_url: str, ca_pem: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """The `[asana]` config overrides and the secret env vars that point Baton at the sandbox."""
    overrides = {"base_url": base_url.rstrip("/") + "/api/1.0", "ca_bundle": str(ca_pem)}
    return overrides, {"ASANA_ACCESS_TOKEN": SANDBOX_TOKEN}
