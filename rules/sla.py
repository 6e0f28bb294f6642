"""SLA timers and business calendars declared in rule files: the runtime objects.

    [calendar.sdr-hours]
    timezone = "America/New_York"
    days = ["mon", "tue", "wed", "thu", "fri"]
    hours = "09:00-17:00"
    holidays = ["2026-12-24"]             # explicit dates, and/or
    country = "US"                        # a country's public holidays (the `holidays` package)
    subdivision = "NY"                    # optional: its state / province

    [[sla]]
    id = "speed-to-lead"
    source = "salesforce:leads"
    starts = "MQL"                        # the timer starts when a record enters this status
    after_gate = "mql-entry"              # optional: not when it failed this gate on entry
    reach = ["Working - Contacted"]       # met when it reaches one of these ...
    or_leave = false                      # ... or (true) when it leaves `starts` for anywhere
    within = "5m"
    calendar = "sdr-hours"                # optional: count working time only
    escalate = [
      { after = "5m", task = { subject = "SLA breach: {name}", owner = "user:Maya Chen" } },
      { after = "15m", reassign = "queue:SDR Overflow", notify = "SLACK_WEBHOOK_URL" },
    ]

The tables are validated and built by their specs (rules.schema_sla), like gates.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from baton.core.owners import OwnerRef

from .business_hours import BusinessCalendar
from .tasks import TaskSpec

DEFAULT_NOTIFY_TEXT = "SLA breach ({sla}): {name} has been in {status} since {started}. {url}"
DEFAULT_SLA_TASK_BODY = "{name} missed the {sla} SLA (deadline {deadline}).\n{url}"


@dataclass(frozen=True, slots=True)
class EscalationStep:
    after: timedelta  # from the timer's start, in working time when the SLA has a calendar
    task: TaskSpec | None = None
    comment: str | None = None
    reassign: OwnerRef | None = None
    notify: str | None = None  # the environment variable holding a Slack/Teams webhook URL
    notify_text: str = DEFAULT_NOTIFY_TEXT


@dataclass(frozen=True, slots=True)
class SlaRule:
    id: str
    source: str
    starts: str
    reach: frozenset[str]
    within: timedelta
    steps: tuple[EscalationStep, ...]
    or_leave: bool = False
    cancel_on_leave: bool = True  # leaving `starts` for a status not in `reach` ends the timer
    after_gate: str | None = None
    calendar: BusinessCalendar | None = None
