"""The specs of `[calendar.<name>]` and `[[sla]]` tables (with their escalation steps).

Validated like every other table (rules.build: unknown keys, types, and the problems in the
same `file: key.path: expected …, found …` words) and built by their own `build`, which resolves
the calendar and the gate an SLA names. Runtime objects: rules.sla, rules.business_hours.
"""
from __future__ import annotations

import re
from datetime import timedelta, date, datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, model_validator

from baton.core.owners import OwnerRef

from .build import Build, NonEmpty, Spec
from .business_hours import WEEKDAYS, BusinessCalendar, holiday_regions, parse_duration
from .errors import found
from .sla import DEFAULT_NOTIFY_TEXT, DEFAULT_SLA_TASK_BODY, EscalationStep, SlaRule
from .tasks import TaskSpec

_HOURS = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"expected an IANA time zone like 'Europe/Berlin', found {found(value)}") \
            from None
    return value


def _weekday(value: str) -> str:
    if value not in WEEKDAYS:
        raise ValueError(f"expected one of {', '.join(WEEKDAYS)}, found {found(value)}")
    return value


def window(hours: str) -> tuple[time, time]:
    """'09:00-17:00' → (09:00, 17:00); '…-24:00' closes at 23:59:59. Raises ValueError."""
    match = _HOURS.fullmatch(hours)
    if not match or not (int(match[1]) < 24 and int(match[3]) <= 24
                         and int(match[2]) < 60 and int(match[4]) < 60):
        raise ValueError(f"expected 'HH:MM-HH:MM', found {found(hours)}")
    opens = time(int(match[1]), int(match[2]))
    closes = time(23, 59, 59) if match[3] == "24" else time(int(match[3]), int(match[4]))
    if closes <= opens:
        raise ValueError(f"expected the closing time after the opening time, found {found(hours)}")
    return opens, closes


def _hours(value: str) -> str:
    window(value)
    return value


def _holiday(value: Any) -> date:
    if isinstance(value, datetime):  # a TOML date-time counts by its day
        return value.date()
    if isinstance(value, date):  # a TOML date
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"expected YYYY-MM-DD, found {found(value)}")


def _country(value: str) -> str:
    if value not in holiday_regions():
        raise ValueError("expected a country code the holidays package knows, like 'US', 'DE' or "
                         f"'GB', found {found(value)}")
    return value


MAX_DURATION = timedelta(days=366)  # an SLA or a step further out than a year is a typo


def _duration(value: str) -> str:
    if parse_duration(value) > MAX_DURATION:  # raises ValueError("expected a duration like …")
        raise ValueError(f"expected a duration of at most {MAX_DURATION.days} days, found {value!r}")
    return value


def _env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise ValueError("expected the NAME of an environment variable that holds the webhook URL "
                         f"(secrets stay out of rule files), found {found(value)}")
    return value


Duration = Annotated[str, AfterValidator(_duration)]


class CalendarSpec(Spec):
    timezone: Annotated[str, AfterValidator(_zone)] = "UTC"
    days: list[Annotated[str, AfterValidator(_weekday)]] = Field(list(WEEKDAYS[:5]), min_length=1)
    hours: Annotated[str, AfterValidator(_hours)] = "09:00-17:00"
    holidays: list[Annotated[Any, AfterValidator(_holiday)]] = []
    # a public-holiday set of the `holidays` package, besides the explicit dates
    country: Annotated[str, AfterValidator(_country)] | None = None
    subdivision: NonEmpty | None = None
    description: str = ""

    @model_validator(mode="after")
    def _known_subdivision(self) -> CalendarSpec:
        if self.subdivision is None:
            return self
        if self.country is None:
            raise ValueError("expected `country` next to `subdivision` (the subdivision of which "
                             f"country?), found subdivision {found(self.subdivision)} alone")
        known = holiday_regions()[self.country]
        if self.subdivision not in known:
            raise ValueError(f"expected a subdivision of {self.country} the holidays package "
                             f"knows ({', '.join(known[:12])}{', …' if len(known) > 12 else ''}), "
                             f"found {found(self.subdivision)}")
        return self

    def build(self, ctx: Build, name: str) -> BusinessCalendar:
        opens, closes = window(self.hours)
        return BusinessCalendar(name, ZoneInfo(self.timezone),
                                frozenset(WEEKDAYS.index(day) for day in self.days), opens, closes,
                                frozenset(self.holidays), self.country, self.subdivision)


class StepTaskSpec(Spec):
    subject: NonEmpty
    body: NonEmpty = DEFAULT_SLA_TASK_BODY
    owner: NonEmpty = "owner"  # owner | manager | user:<id, email or name> | queue:<name>


class StepSpec(Spec):
    after: Duration  # from the timer's start
    task: StepTaskSpec | None = None
    comment: NonEmpty | None = None
    reassign: NonEmpty | None = None
    notify: Annotated[str, AfterValidator(_env_name)] | None = None
    notify_text: NonEmpty = DEFAULT_NOTIFY_TEXT

    @model_validator(mode="after")
    def _does_something(self) -> StepSpec:
        if self.task is None and self.comment is None and self.reassign is None \
                and self.notify is None:
            raise ValueError("expected at least one of task, comment, reassign or notify")
        return self

    def build(self, ctx: Build, where: str) -> EscalationStep:
        ctx.template(f"{where}.comment", self.comment)
        ctx.template(f"{where}.notify_text", self.notify_text)
        task = None
        if self.task is not None:
            ctx.template(f"{where}.task.subject", self.task.subject)
            ctx.template(f"{where}.task.body", self.task.body)
            task = TaskSpec(self.task.subject, self.task.body,
                            _owner(ctx, f"{where}.task.owner", self.task.owner))
        reassign = None
        if self.reassign is not None:
            reassign = _owner(ctx, f"{where}.reassign", self.reassign)
        return EscalationStep(after=parse_duration(self.after), task=task, comment=self.comment,
                              reassign=reassign, notify=self.notify, notify_text=self.notify_text)


def _owner(ctx: Build, where: str, text: str) -> OwnerRef:
    try:
        return OwnerRef.parse(text)
    except ValueError as error:
        ctx.problem(where, str(error))
        return OwnerRef.parse("owner")


class SlaSpec(Spec):
    id: NonEmpty
    source: NonEmpty
    starts: NonEmpty  # the timer starts when a record enters this status
    reach: list[NonEmpty] = []  # met when it reaches one of these ...
    or_leave: bool = False  # ... or when it leaves `starts` for anywhere
    cancel_on_leave: bool = True
    within: Duration
    calendar: NonEmpty | None = None
    after_gate: NonEmpty | None = None
    escalate: list[StepSpec] = []
    description: str = ""

    @model_validator(mode="after")
    def _met_somehow(self) -> SlaSpec:
        if not self.reach and not self.or_leave:
            raise ValueError("reach: expected the statuses that meet the SLA (or or_leave = true), "
                             "found none")
        afters = [parse_duration(step.after) for step in self.escalate]
        if afters != sorted(afters):
            raise ValueError("escalate: expected the steps in order of `after`, found "
                             + ", ".join(step.after for step in self.escalate))
        return self

    def build(self, ctx: Build, where: str) -> SlaRule | None:
        before = ctx.count()
        calendar = None
        if self.calendar is not None:
            calendar = ctx.lookup(f"{where}.calendar", "calendar", self.calendar, ctx.calendars,
                                  kind="calendar")
        if self.after_gate is not None:
            ctx.lookup(f"{where}.after_gate", "gate", self.after_gate, ctx.gates, kind="gate")
        steps = tuple(step.build(ctx, f"{where}.escalate[{index}]")
                      for index, step in enumerate(self.escalate, 1))
        if ctx.count() != before:
            return None
        return SlaRule(id=self.id, source=self.source, starts=self.starts,
                       reach=frozenset(self.reach), within=parse_duration(self.within), steps=steps,
                       or_leave=self.or_leave, cancel_on_leave=self.cancel_on_leave,
                       after_gate=self.after_gate, calendar=calendar)
