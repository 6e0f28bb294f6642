"""`baton doctor` for a Google Sheets source: reads only.

    spreadsheets.get  fields=sheets.properties.title     the sheet is shared; the tab exists
    values.get        the tab                            header in row 1, key uniqueness, statuses
    drive.files.get   fields=capabilities(canEdit)       the Drive API is enabled; edit access
"""
from __future__ import annotations

from collections import Counter

from baton.connectors.diagnosis import (
    Finding, Needs, bad, failure, ok, suggestion, template_findings, where,
)
from baton.core.config import SheetsSource
from baton.core.errors import BatonError, SourceError

from .a1 import quote_tab
from .client import SheetsClient


def probe(client: SheetsClient, source: SheetsSource, needs: Needs,
          counter: Counter[str]) -> list[Finding]:
    findings: list[Finding] = []
    sid = source.spreadsheet_id
    share = (f"share the spreadsheet with {client.client_email or 'the service account'} "
             "as Editor (Share → add the email)")
    try:
        try:
            book = client.execute("sheets.spreadsheets.get", lambda: client.sheets.spreadsheets().get(
                spreadsheetId=sid, fields="properties.title,sheets.properties.title"),
                what=f"spreadsheet {sid}", counter=counter)
        except SourceError as error:
            return [bad(f"spreadsheet {sid} cannot be read: {error}", share)]
        findings.append(ok(f"authenticated as {client.client_email}; spreadsheet "
                           f"{(book.get('properties') or {}).get('title')!r} is shared with it"))
        tabs = [str((s.get("properties") or {}).get("title")) for s in book.get("sheets") or []]
        if source.tab not in tabs:
            return [*findings, bad(f"the spreadsheet has no tab {source.tab!r}"
                                   + suggestion(source.tab, tabs),
                                   f"set `tab` to one of: {', '.join(tabs)}")]
        findings.append(ok(f"tab {source.tab!r} exists"))
        values = client.execute("sheets.values.get", lambda: client.sheets.spreadsheets().values().get(
            spreadsheetId=sid, range=quote_tab(source.tab)), what=f"tab {source.tab!r}",
            counter=counter).get("values") or []
        findings += _table(source, needs, values)
        findings += _edit_access(client, source, share, counter)
    except BatonError as error:
        findings.append(failure("sheets", error))
    return findings


def _table(source: SheetsSource, needs: Needs, values: list[list[object]]) -> list[Finding]:
    header = [str(v).strip() for v in (values[0] if values else [])]
    if not header:
        return [bad(f"row 1 of {source.tab!r} is empty: Baton reads the column names there",
                    "put the header (column names) in row 1")]
    columns = {"key_column": source.key_column, "status_column": source.status_column,
               "changed_at_column": source.changed_at_column, "baton_column": source.baton_column}
    wanted = {name: (f"config.toml {setting}",) for setting, name in columns.items() if name}
    for name, who in needs.fields.items():
        wanted[name] = (*wanted.get(name, ()), *who)
    missing = sorted(name for name in wanted if name not in header)
    found = [bad(f"the header of {source.tab!r} has no column {name!r} (named by "
                 f"{where(wanted[name])})" + suggestion(name, header),
                 "correct the name, or add the column to row 1")
             for name in missing]
    if not missing:
        found.append(ok(f"the header has every column named ({len(wanted)})"))
    rows = [[str(v).strip() for v in row] for row in values[1:]]
    if source.key_column in header:
        at = header.index(source.key_column)
        keys = [row[at] for row in rows if at < len(row) and row[at]]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        found.append(ok(f"{len(keys)} key(s) in {source.key_column!r}, all unique") if not twice
                     else bad(f"keys used more than once in {source.key_column!r}: "
                              f"{', '.join(twice[:5])}",
                              "make each row's key unique: Baton identifies a row by it"))
    if source.status_column in header:
        at = header.index(source.status_column)
        seen = {row[at] for row in rows if at < len(row) and row[at]}
        allowed = set(source.workflow)
        unknown = sorted(seen - allowed) if allowed else []
        named = sorted(s for s in needs.statuses if allowed and s not in allowed)
        found += [bad(f"status {name!r} (named by {where(needs.statuses[name])}) is not in the "
                      f"workflow of {source.id}" + suggestion(name, allowed),
                      f"use one of: {', '.join(source.workflow)}") for name in named]
        if unknown:
            found.append(bad(f"the sheet has status values outside the workflow: "
                             f"{', '.join(unknown[:5])}",
                             "add them to the source's `workflow`, or correct the cells"))
        elif not named:
            found.append(ok(f"every status seen in {source.status_column!r} is in the workflow"))
    found += template_findings(needs, header, f"the header of {source.tab!r}")
    return found


def _edit_access(client: SheetsClient, source: SheetsSource, share: str,
                 counter: Counter[str]) -> list[Finding]:
    try:
        reply = client.execute("drive.files.get", lambda: client.drive.files().get(
            fileId=source.spreadsheet_id, fields="capabilities(canEdit)", supportsAllDrives=True),
            what="Drive files.get", counter=counter)
    except SourceError as error:
        return [bad(f"the Drive API did not answer: {error}",
                    "enable the Google Drive API in the service account's Cloud project "
                    "(APIs & Services → Library); Baton polls the file's version with it")]
    if (reply.get("capabilities") or {}).get("canEdit"):
        return [ok("the Drive API is enabled; the service account can edit the spreadsheet")]
    return [bad("the service account can read but not edit the spreadsheet: notes and the "
                f"{source.baton_column or 'Baton'} column cannot be written", share)]
