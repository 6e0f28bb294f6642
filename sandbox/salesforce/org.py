"""The org's storage: one in-memory table per sObject, the SOQL catalog over it, the Python-side
"users" (tests and the scripted demo team), and the helpers every REST route shares.
"""
from __future__ import annotations

import itertools
import json
import secrets
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from baton.sandbox.server import Emulator, Request, Response

from .schemas import (
    AUDIT_FIELDS,
    DEFAULT_PICKLISTS,
    DEFAULTS,
    F,
    FEED_TRACKED,
    HISTORY_OBJECTS,
    KEY_PREFIXES,
    MAX_LENGTH,
    NOT_FOUND,
    REQUIRED,
    SANDBOX_REFRESH_TOKEN,
    SaveError,
    default_schemas,
    make_id,
)
from .soql_lexer import format_datetime, parse_datetime
from .soql_schema import Catalog, FieldType, ObjectSchema


class Org(Emulator, Catalog):
    """One in-memory org. Thread-safe behind `self.lock`; every timestamp comes from `clock`."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        client_id: str = "3MVG9sandbox.baton.client",
        client_secret: str = "sandbox-client-secret",
        jwt_public_key: str | bytes | None = None,
        api_max: int = 100_000,
        tracked_fields: Mapping[str, Iterable[str]] | None = None,
        max_open_cursors: int = 50,
    ) -> None:
        super().__init__()
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.client_id = client_id
        self.client_secret = client_secret
        self.jwt_public_key = jwt_public_key
        self.api_used = 0
        self.api_max = api_max
        self.org_id = make_id("00D", 1)
        self.picklists = {key: list(values) for key, values in DEFAULT_PICKLISTS.items()}
        self.feed_tracked = set(FEED_TRACKED)  # objects with Chatter feed tracking on
        self.schemas = default_schemas()
        # History field names (OwnerId is tracked as "Owner"); by default every field a person
        # edits on a Lead, as an org that tracks the fields its gates read.
        self.tracked_fields = {
            sobject: set(fields) for sobject, fields in (
                tracked_fields if tracked_fields is not None
                else {"Lead": _editable(self.schemas["Lead"]), "Opportunity": {"StageName"}, "Campaign": {"Status"}}
            ).items()
        }
        self._tables: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in self.schemas}
        self._by_prefix = {KEY_PREFIXES[name]: name for name in self.schemas}
        self._serial = itertools.count(1)
        self._sessions: dict[str, str] = {}  # access token -> user id
        self._cursors: OrderedDict[str, tuple[Any, list[Mapping[str, Any]], int]] = OrderedDict()
        self._max_cursors = max_open_cursors
        self.queried: Counter[str] = Counter()  # query pages served, by sObject (benchmarks)
        self._signing_key = secrets.token_bytes(32)
        self.refresh_tokens: set[str] = {SANDBOX_REFRESH_TOKEN}  # grant_type=refresh_token
        self.integration_user_id = self.create_record("User", {
            "FirstName": "Baton", "LastName": "Integration", "Username": "baton@sandbox.example",
            "Email": "baton-integration@sandbox.example", "Title": "Integration User",
        })

    # ---------------------------------------------------------------------- Catalog (SOQL)

    def schema(self, sobject: str) -> ObjectSchema | None:
        for name, schema in self.schemas.items():
            if name.lower() == sobject.lower():
                return schema
        return None

    def get_row(self, sobject: str, record_id: str) -> Mapping[str, Any] | None:
        # polymorphic references (OwnerId -> User or Group queue) resolve by key prefix
        table = self._by_prefix.get(record_id[:3], sobject)
        return self._find(table, record_id)

    def _find(self, sobject: str, record_id: str | None) -> dict[str, Any] | None:
        if not record_id or len(record_id) not in (15, 18):
            return None
        table = self._tables.get(sobject, {})
        row = table.get(record_id)
        if row is None and len(record_id) == 15:
            row = next((r for rid, r in table.items() if rid[:15] == record_id), None)
        return row

    # ---------------------------------------------------------------------- Python-side users

    def create_record(self, sobject: str, fields: Mapping[str, Any], *,
                      by_user_id: str | None = None) -> str:
        """Create a record as a user would in the UI; raises SaveError when Salesforce would."""
        with self.lock:
            schema = self._schema_or_raise(sobject)
            row = self._prepare_create(schema, dict(fields))
            return self._insert(schema.name, row, by_user_id or self._default_user())

    def update_record(self, sobject: str, record_id: str, changes: Mapping[str, Any], *,
                      by_user_id: str | None = None) -> None:
        """Edit a record as a user would: tracked fields get history rows, SystemModstamp moves."""
        with self.lock:
            schema = self._schema_or_raise(sobject)
            row = self._find(schema.name, record_id)
            if row is None or row.get("IsDeleted"):
                raise SaveError("ENTITY_IS_DELETED", "entity is deleted")
            coerced = self._coerce(schema, dict(changes), creating=False)
            self._apply_update(schema.name, row, coerced, by_user_id or self._default_user())

    def mass_update(self, sobject: str, changes: Mapping[str, Any], *,
                    by_user_id: str | None = None) -> int:
        """A data-cleanup job (Data Loader, an Apex batch): `changes` on every live row, all at
        one instant (one SystemModstamp), history as `update_record`. Returns the rows changed."""
        with self.lock:
            schema = self._schema_or_raise(sobject)
            coerced = self._coerce(schema, dict(changes), creating=False)
            user, now = by_user_id or self._default_user(), self._now()
            rows = [row for row in self._tables[schema.name].values() if not row.get("IsDeleted")]
            for row in rows:
                self._apply_update(schema.name, row, dict(coerced), user, at=now)
            return len(rows)

    def delete_record(self, sobject: str, record_id: str) -> None:
        with self.lock:
            schema = self._schema_or_raise(sobject)
            row = self._find(schema.name, record_id)
            if row is None or row.get("IsDeleted"):
                raise SaveError("ENTITY_IS_DELETED", "entity is deleted")
            self._delete(schema.name, row, self._default_user())

    def records(self, sobject: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Copies of the rows (Python values: datetime, date, bool), computed fields filled in."""
        with self.lock:
            schema = self._schema_or_raise(sobject)
            out = []
            for row in self._tables[schema.name].values():
                if row.get("IsDeleted") and not include_deleted:
                    continue
                copy = dict(row)
                for name, compute in schema.computed.items():
                    copy[name] = compute(row)
                out.append(copy)
            return out

    def bulk_load(self, sobject: str, rows: Iterable[dict[str, Any]], *,
                  created_by: str | None = None) -> list[str]:
        """Insert many rows quickly (seeds, benchmarks): no validation, no history.

        Rows may carry their own CreatedDate/SystemModstamp (datetimes); others get the clock.
        """
        with self.lock:
            schema = self._schema_or_raise(sobject)
            name = schema.name
            table = self._tables[name]
            prefix = KEY_PREFIXES[name]
            now = self._now()
            user = created_by or self._default_user()
            defaults = DEFAULTS.get(name, {})
            ids = []
            for row in rows:
                record_id = make_id(prefix, next(self._serial))
                row["Id"] = record_id
                for key, value in defaults.items():
                    row.setdefault(key, value)
                created = row.setdefault("CreatedDate", now)
                row.setdefault("LastModifiedDate", created)
                row.setdefault("SystemModstamp", row["LastModifiedDate"])
                if "CreatedById" in schema.fields:
                    row.setdefault("CreatedById", user)
                    row.setdefault("LastModifiedById", user)
                if "OwnerId" in schema.fields:
                    row.setdefault("OwnerId", user)
                if "IsDeleted" in schema.fields:
                    row.setdefault("IsDeleted", False)
                table[record_id] = row
                ids.append(record_id)
            return ids

    def expire_sessions(self) -> None:
        """Every access token issued so far now answers 401 INVALID_SESSION_ID."""
        with self.lock:
            self._sessions.clear()

    def set_api_usage(self, used: int, max: int | None = None) -> None:  # noqa: A002
        with self.lock:
            self.api_used = used
            if max is not None:
                self.api_max = max

    def issue_token(self, user_id: str | None = None) -> str:
        """A valid access token without the OAuth dance (tests of auth = "token")."""
        with self.lock:
            token = f"{self.org_id[:15]}!AQ{secrets.token_urlsafe(48)}"
            self._sessions[token] = user_id or self.integration_user_id
            return token

    # ---------------------------------------------------------------------- storage internals

    def _now(self) -> datetime:
        return self.clock().astimezone(UTC).replace(microsecond=0)

    def server_time(self) -> datetime:  # every answer's `Date` header, as a real instance's
        return self._now()

    def _default_user(self) -> str:
        return getattr(self, "integration_user_id", "")

    def _schema_or_raise(self, sobject: str) -> ObjectSchema:
        schema = self.schema(sobject)
        if schema is None:
            raise SaveError("NOT_FOUND", f"The requested resource does not exist: {sobject}")
        return schema

    def _coerce(self, schema: ObjectSchema, values: dict[str, Any], *,
                creating: bool) -> dict[str, Any]:
        """JSON values -> stored values, refusing unknown and read-only fields."""
        values.pop("attributes", None)
        out: dict[str, Any] = {}
        for key, value in values.items():
            name = schema.canonical(key)
            if name is None:
                raise SaveError("INVALID_FIELD",
                                f"No such column '{key}' on sobject of type {schema.name}", [key])
            if name in AUDIT_FIELDS or name in schema.computed:
                if name == "Id":
                    continue  # the id of an update travels in the record; ignored here
                verb = "create" if creating else "update"
                raise SaveError("INVALID_FIELD_FOR_INSERT_UPDATE",
                                f"Unable to {verb} fields: {name}. Please check the security "
                                "settings of this field and verify that it is read/write for "
                                "your profile or permission set.", [name])
            out[name] = self._coerce_value(schema.name, name, schema.fields[name], value)
        return out

    def _coerce_value(self, sobject: str, name: str, ftype: FieldType, value: Any) -> Any:
        if value is None or value == "" and ftype not in (F.STRING, F.TEXTAREA):
            return None
        try:
            if ftype == F.DATETIME:
                return parse_datetime(value) if isinstance(value, str) else value
            if ftype == F.DATE:
                return date.fromisoformat(value[:10]) if isinstance(value, str) else value
            if ftype == F.BOOLEAN:
                if not isinstance(value, bool):
                    raise ValueError
                return value
            if ftype in (F.DOUBLE, F.INT):
                return float(value) if ftype == F.DOUBLE else int(value)
        except (TypeError, ValueError):
            raise SaveError("INVALID_TYPE_ON_FIELD_IN_RECORD",
                            f"{name}: value not of required type: {value}", [name]) from None
        if ftype == F.REFERENCE:
            if not isinstance(value, str) or self.get_row("", value) is None:
                raise SaveError("INVALID_CROSS_REFERENCE_KEY",
                                f"{name}: id value of incorrect type: {value}"
                                if not isinstance(value, str) or len(value) not in (15, 18)
                                else "invalid cross reference id", [name])
            row = self.get_row("", value)
            if row is not None and row.get("IsDeleted"):
                raise SaveError("ENTITY_IS_DELETED", "entity is deleted", [name])
            return row["Id"] if row else value
        if not isinstance(value, str):
            value = json.dumps(value) if isinstance(value, dict | list) else str(value)
        limit = MAX_LENGTH.get((sobject, name))
        if limit is not None and len(value) > limit:
            raise SaveError("STRING_TOO_LONG",
                            f"{name}: data value too large: {value[:60]} (max length={limit})",
                            [name])
        return value

    def _prepare_create(self, schema: ObjectSchema, values: dict[str, Any]) -> dict[str, Any]:
        if values.get("Id") or values.get("id"):
            raise SaveError("INVALID_FIELD_FOR_INSERT_UPDATE",
                            "cannot specify Id in an insert call", ["Id"])
        values.pop("id", None)
        row = {**DEFAULTS.get(schema.name, {}), **self._coerce(schema, values, creating=True)}
        missing = [name for name in REQUIRED.get(schema.name, ()) if row.get(name) in (None, "")]
        if missing:
            raise SaveError("REQUIRED_FIELD_MISSING",
                            f"Required fields are missing: [{', '.join(missing)}]", missing)
        if schema.name == "Task" and row.get("WhoId") and row["WhoId"][:3] == "00Q" \
                and row.get("WhatId"):
            raise SaveError("FIELD_INTEGRITY_EXCEPTION",
                            "Related To ID: id value of incorrect type: You can't associate a "
                            "task with a lead and a related record.", ["WhatId"])
        return row

    def _insert(self, sobject: str, row: dict[str, Any], user_id: str) -> str:
        now = self._now()
        record_id = make_id(KEY_PREFIXES[sobject], next(self._serial))
        schema = self.schemas[sobject]
        row["Id"] = record_id
        for name in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
            if name in schema.fields:
                row[name] = now
        if "CreatedById" in schema.fields:
            row["CreatedById"] = row["LastModifiedById"] = user_id or record_id
        if "OwnerId" in schema.fields and not row.get("OwnerId"):
            row["OwnerId"] = user_id or record_id
        if "IsDeleted" in schema.fields:
            row["IsDeleted"] = False
        if sobject == "Task":
            row["IsClosed"] = row.get("Status") == "Completed"
        self._tables[sobject][record_id] = row
        return record_id

    def _apply_update(self, sobject: str, row: dict[str, Any], changes: dict[str, Any],
                      user_id: str, *, at: datetime | None = None) -> None:
        now = at or self._now()
        tracked = self.tracked_fields.get(sobject, set())
        history = HISTORY_OBJECTS.get(sobject)
        for name, value in changes.items():
            old = row.get(name)
            tracked_as = history_field(name)
            if tracked_as in tracked and history and old != value:
                table, parent_field = history
                self._insert_history(table, {
                    parent_field: row["Id"], "Field": tracked_as, "DataType": "Text",
                    "OldValue": old, "NewValue": value, "CreatedById": user_id,
                }, now)
            if value is None:
                row.pop(name, None)
            else:
                row[name] = value
        if sobject == "Task":
            row["IsClosed"] = row.get("Status") == "Completed"
        row["LastModifiedDate"] = row["SystemModstamp"] = now
        if "LastModifiedById" in self.schemas[sobject].fields:
            row["LastModifiedById"] = user_id

    def _insert_history(self, table: str, row: dict[str, Any], at: datetime) -> None:
        record_id = make_id(KEY_PREFIXES[table], next(self._serial))
        row.update({"Id": record_id, "CreatedDate": at, "IsDeleted": False})
        self._tables[table][record_id] = row

    def _delete(self, sobject: str, row: dict[str, Any], user_id: str) -> None:
        row["IsDeleted"] = True
        row["LastModifiedDate"] = row["SystemModstamp"] = self._now()
        row["LastModifiedById"] = user_id

    # ---------------------------------------------------------------------- wire helpers

    def _session_user(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("bearer", "oauth"):
            return None
        return self._sessions.get(token.strip())

    def _render_value(self, ftype: FieldType, value: Any) -> Any:
        if isinstance(value, datetime):
            return format_datetime(value)
        if isinstance(value, date):
            return value.isoformat()
        return value

    def _attributes_maker(self, version: str) -> Callable[[str, str], dict[str, Any]]:
        def attributes(sobject: str, record_id: str) -> dict[str, Any]:
            return {"type": sobject,
                    "url": f"/services/data/v{version}/sobjects/{sobject}/{record_id}"}
        return attributes

    def _render_row(self, schema: ObjectSchema, row: Mapping[str, Any], version: str,
                    fields: Iterable[str] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": self._attributes_maker(version)(schema.name, row["Id"])}
        for name in fields or schema.fields:
            compute = schema.computed.get(name)
            value = compute(row) if compute else row.get(name)
            out[name] = self._render_value(schema.fields[name], value)
        return out

    def not_found(self, request: Request) -> Response:
        return Response(404, NOT_FOUND)


def history_field(name: str) -> str:
    """The `Field` value a history row gives a field: OwnerId is "Owner" (ids as values)."""
    return "Owner" if name == "OwnerId" else name


def _editable(schema: ObjectSchema) -> set[str]:
    """The fields of an object a person edits: not the audit fields, not computed ones."""
    return {history_field(name) for name in schema.fields
            if name not in AUDIT_FIELDS and name not in schema.computed}
