"""`baton doctor` for a Salesforce source: describe, SOQL on metadata objects and /limits only.

What it looks at (all reads):
    GET sobjects/{Object}/describe     fields, picklist values of the status field, feedEnabled
    GET sobjects/{Object}History/describe  the `Field` picklist: the fields whose history is tracked
    GET sobjects/Task|FeedItem/describe     createable (the integration user's permission)
    SOQL Group, GroupMember, User      queues exist, have active members; named users are active
    GET limits                         DailyApiRequests: the allocation left
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from baton.connectors.diagnosis import (
    Finding, Needs, bad, failure, ok, suggestion, template_findings, where,
)
from baton.core.config import SalesforceSource
from baton.core.errors import BatonError, PayloadError

from . import soql
from .client import SalesforceOrg

ALWAYS_READ = ("Id", "Name", "OwnerId")


def probe(org: SalesforceOrg, source: SalesforceSource, needs: Needs,
          counter: Counter[str]) -> list[Finding]:
    findings: list[Finding] = []
    try:
        described = _describe(org, source.object, counter)
        findings.append(ok(f"authenticated; {org.instance_url(counter)} answers "
                           f"(API v{org.settings.api_version})"))
        if described is None:
            return [*findings, bad(f"object {source.object!r} does not exist or is not visible "
                                   "to the integration user",
                                   "check `object` in config.toml and the user's object permissions")]
        fields = {f["name"]: f for f in described.get("fields", [])}
        findings += _fields(source, needs, fields)
        findings += _statuses(source, needs, fields.get(source.status_field))
        findings += _history(org, source, counter)
        findings += _writes(org, source, needs, described, counter)
        findings += _owners(org, needs, counter)
        fetched = {*ALWAYS_READ, source.status_field, *source.fields}
        findings += template_findings(needs, fetched, f"what {source.id} fetches")
        findings += _allocation(org, counter)
    except BatonError as error:
        findings.append(failure("salesforce", error))
    return findings


def _describe(org: SalesforceOrg, sobject: str, counter: Counter[str]) -> dict[str, Any] | None:
    try:
        answer = org.call("describe", lambda sf: sf.restful(f"sobjects/{sobject}/describe"),
                          counter=counter)
    except PayloadError as error:
        if "HTTP 404" in str(error):
            return None
        raise
    return answer if isinstance(answer, dict) else None


def _fields(source: SalesforceSource, needs: Needs,
            fields: dict[str, dict[str, Any]]) -> list[Finding]:
    wanted: dict[str, tuple[str, ...]] = {name: (f"config.toml source {source.id}",)
                                          for name in (source.status_field, *source.fields)}
    for name, who in needs.fields.items():
        wanted[name] = (*wanted.get(name, ()), *who)
    missing = sorted(name for name in wanted if name not in fields)
    found = [bad(f"{source.object} has no field {name!r} (named by {where(wanted[name])})"
                 + suggestion(name, fields),
                 "use the field's API name (Setup → Object Manager → Fields), or give the "
                 "integration user field-level access to it")
             for name in missing]
    if not missing:
        found.append(ok(f"{len(wanted)} field(s) exist on {source.object} and are readable"))
    return found


def _statuses(source: SalesforceSource, needs: Needs,
              status: dict[str, Any] | None) -> list[Finding]:
    if status is None:
        return []
    values = [str(v.get("value")) for v in status.get("picklistValues") or [] if v.get("active")]
    if status.get("type") != "picklist" or not values:
        return [ok(f"{source.object}.{source.status_field} is not a picklist: statuses are "
                   "taken as they come")]
    wanted = {s: (f"config.toml workflow of {source.id}",) for s in source.workflow}
    for name, who in needs.statuses.items():
        wanted[name] = (*wanted.get(name, ()), *who)
    missing = sorted(s for s in wanted if s not in values)
    if not missing:
        return [ok(f"every status named ({len(wanted)}) is a value of "
                   f"{source.object}.{source.status_field}")]
    return [bad(f"status {name!r} (named by {where(wanted[name])}) is not a value of "
                f"{source.object}.{source.status_field}" + suggestion(name, values),
                f"use one of: {', '.join(values)}; or add the value to the picklist")
            for name in missing]


def _history(org: SalesforceOrg, source: SalesforceSource, counter: Counter[str]) -> list[Finding]:
    if source.object == "Opportunity" and source.status_field == "StageName":
        return [ok("stage history comes from OpportunityHistory (always on)")]
    table, _ = soql.history_object(source.object)
    described = _describe(org, table, counter)
    tracked = {str(v.get("value")) for f in (described or {}).get("fields", [])
               if f.get("name") == "Field" for v in f.get("picklistValues") or []}
    if source.status_field in tracked:
        return [ok(f"field history is tracked on {source.object}.{source.status_field} "
                   "(true transition times)")]
    return [bad(f"field history is not tracked on {source.object}.{source.status_field}: "
                "transition times are only the poll times, and moves between polls are lost",
                f"Setup → Object Manager → {source.object} → Fields & Relationships → Set History "
                f"Tracking → tick {source.status_field}")]


def _writes(org: SalesforceOrg, source: SalesforceSource, needs: Needs, described: dict[str, Any],
            counter: Counter[str]) -> list[Finding]:
    found: list[Finding] = []
    if needs.comments:
        if described.get("feedEnabled"):
            found.append(ok(f"feed tracking is on for {source.object} (comments can be posted)"))
        else:
            found.append(bad(f"feed tracking is off for {source.object}: the comments of "
                             f"{where(needs.comments)} would fail",
                             f"Setup → Feed Tracking → {source.object} → Enable Feed Tracking"))
    for sobject, who in (("Task", needs.tasks), ("FeedItem", needs.comments)):
        if not who:
            continue
        info = _describe(org, sobject, counter)
        if info and info.get("createable"):
            found.append(ok(f"the integration user can create {sobject} records"))
        else:
            found.append(bad(f"the integration user cannot create {sobject} records "
                             f"(needed by {where(who)})",
                             f"give its permission set Create on {sobject}"))
    return found


def _owners(org: SalesforceOrg, needs: Needs, counter: Counter[str]) -> list[Finding]:
    found: list[Finding] = []
    for reference, who in sorted(needs.owners.items()):
        kind, _, name = reference.partition(":")
        quoted = soql.soql_quote(name)
        if kind == "queue":
            queues = org.query_records(
                f"SELECT Id, Name FROM Group WHERE Type = 'Queue' AND (Name = {quoted} "
                f"OR DeveloperName = {quoted})", counter=counter)
            if not queues:
                found.append(bad(f"queue {name!r} (owner of {where(who)}) does not exist",
                                 "create the queue (Setup → Queues) or correct the name in the "
                                 "rule; names are case-sensitive"))
                continue
            members = [str(r["UserOrGroupId"]) for r in org.query_records(
                soql.queue_members_query(str(queues[0]["Id"])), counter=counter)
                if str(r.get("UserOrGroupId", "")).startswith("005")]
            active = org.query_records(soql.active_users_query(members),
                                       counter=counter) if members else []
            if active:
                found.append(ok(f"queue {name!r} exists with {len(active)} active member(s)"))
            else:
                found.append(bad(f"queue {name!r} has no active user member: its tasks "
                                 f"({where(who)}) cannot be assigned",
                                 "add an active user to the queue (Setup → Queues)"))
        elif kind == "user":
            rows = org.query_records(
                f"SELECT Id, Name, IsActive FROM User WHERE Username = {quoted} OR "
                f"Email = {quoted} OR Name = {quoted} LIMIT 5", counter=counter)
            if any(r.get("IsActive") for r in rows):
                found.append(ok(f"user {name!r} exists and is active"))
            elif rows:
                found.append(bad(f"user {name!r} (owner of {where(who)}) is inactive",
                                 "name an active user in the rule"))
            else:
                found.append(bad(f"no Salesforce user matches {name!r} (owner of {where(who)})",
                                 "use the user's username, email or full name"))
    return found


def _allocation(org: SalesforceOrg, counter: Counter[str]) -> list[Finding]:
    answer = org.call("limits", lambda sf: sf.restful("limits/"), counter=counter)
    daily = answer.get("DailyApiRequests") if isinstance(answer, dict) else None
    if not isinstance(daily, dict) or not daily.get("Max"):
        return [ok("API allocation: not reported (the user lacks View Setup and Configuration)")]
    left, total = int(daily.get("Remaining", 0)), int(daily["Max"])
    floor = total * (1 - org.settings.api_share_limit)
    text = f"API allocation: {left:,} of {total:,} daily requests left"
    if left > floor:
        return [ok(text)]
    return [bad(text + f" (Baton pauses below {floor:,.0f}: api_share_limit "
                f"{org.settings.api_share_limit})",
                "wait for the rolling 24 h window, or raise salesforce.api_share_limit")]
