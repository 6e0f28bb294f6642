"""An emulated Salesforce org that speaks the REST wire format simple-salesforce expects.

Routes (all JSON; errors are Salesforce's `[{"message", "errorCode", "fields"?}]` arrays):

    POST   /services/oauth2/token                 client_credentials (Basic) and JWT bearer
    GET    /services/data                         versions (no auth, no usage header)
    GET    /services/data/vXX.X/limits
    GET    /services/data/vXX.X/query?q=          and queryAll; Sforce-Query-Options: batchSize=N
    GET    /services/data/vXX.X/query/01g...-2000 nextRecordsUrl pages
    POST   /services/data/vXX.X/sobjects/{Type}
    GET/PATCH/DELETE /services/data/vXX.X/sobjects/{Type}/{id}
    GET    /services/data/vXX.X/sobjects/{Type}/describe
    POST   /services/data/vXX.X/composite/sobjects   create collections (<= 200, allOrNone)
    PATCH  /services/data/vXX.X/composite/sobjects   update collections

Every authenticated REST answer carries `Sforce-Limit-Info: api-usage=used/max` and counts one
request against the daily allocation; past it, 403 REQUEST_LIMIT_EXCEEDED. Tracked fields
(Lead.Status, Opportunity.StageName by default) write LeadHistory / OpportunityFieldHistory rows.
All timestamps come from `emulator.clock` and have Salesforce's one-second precision.

Tests and the scripted demo team act as Salesforce users through the Python methods
`create_record`, `update_record`, `delete_record`, `records`, `expire_sessions`, `set_api_usage`.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs

import jwt

from baton.sandbox.server import Emulator, Request, Response, route
from baton.sandbox.soql import (
    Catalog, FieldType, ObjectSchema, Relationship, SoqlError, compile_query, format_datetime, parse_datetime,
)

F = FieldType
API = r"/services/data/v(?P<version>\d+\.\d+)"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SANDBOX_REFRESH_TOKEN = "5Aep861sandbox.refresh.token"  # what a web-server flow would have issued

KEY_PREFIXES = {
    "Lead": "00Q", "Task": "00T", "FeedItem": "0D5", "User": "005", "Group": "00G",
    "GroupMember": "011", "Opportunity": "006", "LeadHistory": "017",
    "OpportunityFieldHistory": "01k", "Organization": "00D",
}
_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def make_id(prefix: str, serial: int) -> str:
    """An 18-character Salesforce id: key prefix, pod, serial, and the case-safe suffix."""
    digits = ""
    n = serial
    for _ in range(6):
        n, rem = divmod(n, 62)
        digits = _BASE62[rem] + digits
    return case_safe_id(f"{prefix}Dn0000{digits}")


def case_safe_id(id15: str) -> str:
    """The 18-character form: three characters telling which of the 15 are upper case."""
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << i for i, char in enumerate(id15[chunk * 5 : chunk * 5 + 5])
                   if "A" <= char <= "Z")
        suffix += _CHECKSUM[bits]
    return id15[:15] + suffix


# --------------------------------------------------------------------------------------------
# Schemas

_AUDIT = {
    "Id": F.ID, "CreatedDate": F.DATETIME, "CreatedById": F.REFERENCE,
    "LastModifiedDate": F.DATETIME, "LastModifiedById": F.REFERENCE,
    "SystemModstamp": F.DATETIME, "IsDeleted": F.BOOLEAN,
}
_AUDIT_RELS = [Relationship("CreatedBy", "CreatedById", "User"),
               Relationship("LastModifiedBy", "LastModifiedById", "User")]


def _person_name(row: Mapping[str, Any]) -> str | None:
    parts = [row.get("FirstName"), row.get("LastName")]
    return " ".join(p for p in parts if p) or None


def _history_schema(name: str, parent: str) -> ObjectSchema:
    return ObjectSchema(
        name,
        {"Id": F.ID, f"{parent}Id": F.REFERENCE, "Field": F.PICKLIST, "DataType": F.PICKLIST,
         "OldValue": F.ANY, "NewValue": F.ANY, "CreatedDate": F.DATETIME,
         "CreatedById": F.REFERENCE, "IsDeleted": F.BOOLEAN},
        [Relationship(parent, f"{parent}Id", parent),
         Relationship("CreatedBy", "CreatedById", "User")],
    )


def default_schemas() -> dict[str, ObjectSchema]:
    schemas = [
        ObjectSchema(
            "Lead",
            {**_AUDIT, "Name": F.STRING, "FirstName": F.STRING, "LastName": F.STRING,
             "Email": F.EMAIL, "Company": F.STRING, "Title": F.STRING, "Status": F.PICKLIST,
             "LeadSource": F.PICKLIST, "Consent__c": F.BOOLEAN, "Webinar_Topic__c": F.STRING,
             "OwnerId": F.REFERENCE, "Phone": F.PHONE, "Description": F.TEXTAREA,
             "IsConverted": F.BOOLEAN},
            [Relationship("Owner", "OwnerId", "User"), *_AUDIT_RELS],
            computed={"Name": _person_name},
        ),
        ObjectSchema(
            "Opportunity",
            {**_AUDIT, "Name": F.STRING, "StageName": F.PICKLIST, "Amount": F.DOUBLE,
             "CloseDate": F.DATE, "OwnerId": F.REFERENCE, "LeadSource": F.PICKLIST,
             "Description": F.TEXTAREA, "IsClosed": F.BOOLEAN, "IsWon": F.BOOLEAN},
            [Relationship("Owner", "OwnerId", "User"), *_AUDIT_RELS],
        ),
        ObjectSchema(
            "Task",
            {**_AUDIT, "Subject": F.STRING, "Description": F.TEXTAREA, "WhoId": F.REFERENCE,
             "WhatId": F.REFERENCE, "OwnerId": F.REFERENCE, "Status": F.PICKLIST,
             "Priority": F.PICKLIST, "ActivityDate": F.DATE, "IsClosed": F.BOOLEAN},
            [Relationship("Owner", "OwnerId", "User"), Relationship("Who", "WhoId", "Lead"),
             Relationship("What", "WhatId", "Opportunity"), *_AUDIT_RELS],
        ),
        ObjectSchema(
            "FeedItem",
            {**_AUDIT, "ParentId": F.REFERENCE, "Body": F.TEXTAREA, "Type": F.PICKLIST,
             "Title": F.STRING, "IsRichText": F.BOOLEAN},
            _AUDIT_RELS,
        ),
        ObjectSchema(
            "User",
            {**_AUDIT, "Name": F.STRING, "FirstName": F.STRING, "LastName": F.STRING,
             "Username": F.STRING, "Email": F.EMAIL, "IsActive": F.BOOLEAN,
             "ManagerId": F.REFERENCE, "Title": F.STRING},
            [Relationship("Manager", "ManagerId", "User"), *_AUDIT_RELS],
            computed={"Name": _person_name},
        ),
        ObjectSchema(
            "Group",
            {**_AUDIT, "Name": F.STRING, "DeveloperName": F.STRING, "Type": F.PICKLIST},
            _AUDIT_RELS,
        ),
        ObjectSchema(
            "GroupMember",
            {"Id": F.ID, "GroupId": F.REFERENCE, "UserOrGroupId": F.REFERENCE,
             "SystemModstamp": F.DATETIME},
            [Relationship("Group", "GroupId", "Group")],
        ),
        _history_schema("LeadHistory", "Lead"),
        _history_schema("OpportunityFieldHistory", "Opportunity"),
    ]
    return {schema.name: schema for schema in schemas}


REQUIRED = {
    "Lead": ("LastName", "Company"),
    "Opportunity": ("Name", "StageName", "CloseDate"),
    "FeedItem": ("ParentId", "Body"),
    "User": ("LastName", "Username", "Email"),
    "Group": ("Name",),
    "GroupMember": ("GroupId", "UserOrGroupId"),
}
MAX_LENGTH = {("Task", "Subject"): 255, ("FeedItem", "Body"): 10000, ("Lead", "Title"): 128,
              ("Lead", "Company"): 255, ("Task", "Description"): 32000}
DEFAULTS: dict[str, dict[str, Any]] = {
    "Lead": {"Status": "Open - Not Contacted", "IsConverted": False},
    "Task": {"Status": "Not Started", "Priority": "Normal", "IsClosed": False},
    "FeedItem": {"Type": "TextPost", "IsRichText": False},
    "User": {"IsActive": True},
    "Group": {"Type": "Regular"},
}
HISTORY_OBJECTS = {"Lead": ("LeadHistory", "LeadId"),
                   "Opportunity": ("OpportunityFieldHistory", "OpportunityId")}
NOT_FOUND = [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]


class SaveError(Exception):
    """One record refused: becomes a SaveResult error or a 400 array."""

    def __init__(self, status_code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.fields = fields or []

    def as_error(self) -> dict[str, Any]:
        return {"statusCode": self.status_code, "message": self.message, "fields": self.fields}

    def as_rest(self) -> list[dict[str, Any]]:
        return [{"message": self.message, "errorCode": self.status_code, "fields": self.fields}]


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, [{"message": message, "errorCode": code}])


def _api(handler: Callable[[SalesforceEmulator, Request], Response]) -> Callable[..., Response]:
    """Authenticate, count against the daily allocation and add Sforce-Limit-Info."""

    def wrapper(self: SalesforceEmulator, request: Request) -> Response:
        user_id = self._session_user(request)
        if user_id is None:
            return _error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if self.api_used >= self.api_max:
            response = _error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        else:
            self.api_used += 1
            request.params["_user"] = user_id
            try:
                response = handler(self, request)
            except SaveError as error:
                response = Response(400, error.as_rest())
            except SoqlError as error:
                response = _error(400, error.code, error.message)
        response.headers["Sforce-Limit-Info"] = f"api-usage={self.api_used}/{self.api_max}"
        return response

    wrapper.__name__ = handler.__name__
    return wrapper


class SalesforceEmulator(Emulator, Catalog):
    """One in-memory org. Thread-safe behind `self.lock`; every timestamp comes from `clock`."""

    tool = "salesforce"

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
        self.tracked_fields = {
            sobject: set(fields) for sobject, fields in (
                tracked_fields if tracked_fields is not None
                else {"Lead": {"Status"}, "Opportunity": {"StageName"}}
            ).items()
        }
        self.org_id = make_id("00D", 1)
        self.schemas = default_schemas()
        self._tables: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in self.schemas}
        self._by_prefix = {KEY_PREFIXES[name]: name for name in self.schemas}
        self._serial = itertools.count(1)
        self._sessions: dict[str, str] = {}  # access token -> user id
        self._cursors: OrderedDict[str, tuple[Any, list[Mapping[str, Any]], int]] = OrderedDict()
        self._max_cursors = max_open_cursors
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
            if name in _AUDIT or name in schema.computed:
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
                      user_id: str) -> None:
        now = self._now()
        tracked = self.tracked_fields.get(sobject, set())
        history = HISTORY_OBJECTS.get(sobject)
        for name, value in changes.items():
            old = row.get(name)
            if name in tracked and history and old != value:
                table, parent_field = history
                self._insert_history(table, {
                    parent_field: row["Id"], "Field": name, "DataType": "Text",
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

    # ---------------------------------------------------------------------- OAuth

    @route("POST", r"/services/oauth2/token", name="token")
    def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        grant = form.get("grant_type", "")
        if grant == "client_credentials":
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
            header = request.headers.get("authorization", "")
            if header.lower().startswith("basic "):
                try:
                    decoded = base64.b64decode(header[6:]).decode()
                except (ValueError, UnicodeDecodeError):
                    decoded = ":"
                client_id, _, client_secret = decoded.partition(":")
            if client_id != self.client_id or not hmac.compare_digest(
                (client_secret or "").encode(), self.client_secret.encode()
            ):
                return Response(400, {"error": "invalid_client",
                                      "error_description": "invalid client credentials"})
            return self._token_response(request, self.integration_user_id)
        if grant == JWT_GRANT:
            return self._jwt_grant(request, form.get("assertion", ""))
        if grant == "refresh_token":  # the web-server flow's refresh (Singer's tap-salesforce)
            if form.get("client_id") != self.client_id or not hmac.compare_digest(
                (form.get("client_secret") or "").encode(), self.client_secret.encode()
            ):
                return Response(400, {"error": "invalid_client",
                                      "error_description": "invalid client credentials"})
            if form.get("refresh_token") not in self.refresh_tokens:
                return Response(400, {"error": "invalid_grant",
                                      "error_description": "expired access/refresh token"})
            return self._token_response(request, self.integration_user_id)
        return Response(400, {"error": "unsupported_grant_type",
                              "error_description": "grant type not supported"})

    def _jwt_grant(self, request: Request, assertion: str) -> Response:
        def refuse(error: str, description: str) -> Response:
            return Response(400, {"error": error, "error_description": description})

        if self.jwt_public_key is None:
            return refuse("invalid_grant", "invalid assertion")
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return refuse("invalid_grant", "invalid assertion")
        audiences = [self._base_url(request), "https://login.salesforce.com",
                     "https://test.salesforce.com"]
        try:
            claims = jwt.decode(assertion, self.jwt_public_key, algorithms=["RS256"],
                                audience=audiences, options={"require": ["exp", "iss", "sub", "aud"]})
        except jwt.ExpiredSignatureError:
            return refuse("invalid_grant", "expired authorization code")
        except jwt.InvalidAudienceError:
            return refuse("invalid_grant", "audience is invalid")
        except jwt.PyJWTError:
            return refuse("invalid_grant", "invalid assertion")
        if unverified.get("iss") != self.client_id:
            return refuse("invalid_client_id", "client identifier invalid")
        with self.lock:
            user = next((row for row in self._tables["User"].values()
                         if row.get("Username") == claims.get("sub")), None)
        if user is None or not user.get("IsActive"):
            return refuse("invalid_grant", "user hasn't approved this consumer")
        return self._token_response(request, user["Id"])

    def _base_url(self, request: Request) -> str:
        return f"https://{request.headers.get('host', '127.0.0.1')}"

    def _token_response(self, request: Request, user_id: str) -> Response:
        token = self.issue_token(user_id)
        base = self._base_url(request)
        issued_at = str(int(self.clock().timestamp() * 1000))
        identity = f"{base}/id/{self.org_id}/{user_id}"
        signature = base64.b64encode(
            hmac.new(self._signing_key, (identity + issued_at).encode(), hashlib.sha256).digest()
        ).decode()
        return Response(200, {
            "access_token": token, "signature": signature, "scope": "api",
            "instance_url": base, "id": identity, "token_type": "Bearer", "issued_at": issued_at,
        })

    # ---------------------------------------------------------------------- REST: meta

    @route("GET", r"/services/data", name="versions")
    def versions(self, request: Request) -> Response:
        return Response(200, [{"label": "Winter '24", "url": "/services/data/v59.0",
                               "version": "59.0"},
                              {"label": "Spring '26", "url": "/services/data/v66.0",
                               "version": "66.0"}])

    @route("GET", API + r"/limits", name="limits")
    @_api
    def limits(self, request: Request) -> Response:
        return Response(200, {"DailyApiRequests": {"Max": self.api_max,
                                                   "Remaining": self.api_max - self.api_used}})

    @route("GET", API + r"/sobjects", name="describe_global")
    @_api
    def describe_global(self, request: Request) -> Response:
        history = {table for table, _ in HISTORY_OBJECTS.values()}
        objects = [{"name": name, "label": name, "keyPrefix": KEY_PREFIXES[name],
                    "queryable": True, "retrieveable": True, "searchable": True,
                    "createable": name not in history, "updateable": name not in history,
                    "deletable": name not in history, "custom": name.endswith("__c"),
                    "customSetting": False, "layoutable": True, "replicateable": True,
                    "urls": {"sobject": f"/services/data/v{request.params['version']}/sobjects/{name}",
                             "describe": f"/services/data/v{request.params['version']}/sobjects/"
                                         f"{name}/describe"}}
                   for name in self.schemas]
        return Response(200, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": objects})

    @route("GET", API + r"/sobjects/(?P<sobject>\w+)/describe", name="describe")
    @_api
    def describe(self, request: Request) -> Response:
        schema = self.schema(request.params["sobject"])
        if schema is None:
            return Response(404, NOT_FOUND)
        read_only = set(_AUDIT) | set(schema.computed)
        fields = [{"name": name, "type": str(ftype), "label": name,
                   "updateable": name not in read_only, "createable": name not in read_only,
                   "nillable": name not in REQUIRED.get(schema.name, ())}
                  for name, ftype in schema.fields.items()]
        return Response(200, {"name": schema.name, "keyPrefix": KEY_PREFIXES[schema.name],
                              "fields": fields})

    # ---------------------------------------------------------------------- REST: query

    @route("GET", API + r"/query", name="query")
    @_api
    def query(self, request: Request) -> Response:
        return self._run_query(request, include_deleted=False)

    @route("GET", API + r"/queryAll", name="queryAll")
    @_api
    def query_all(self, request: Request) -> Response:
        return self._run_query(request, include_deleted=True)

    def _batch_size(self, request: Request) -> int:
        options = request.headers.get("sforce-query-options", "")
        for part in options.split(","):
            key, _, value = part.strip().partition("=")
            if key.strip().lower() == "batchsize":
                try:
                    return min(2000, max(200, int(value)))
                except ValueError:
                    return 2000
        return 2000

    def _run_query(self, request: Request, *, include_deleted: bool) -> Response:
        soql = request.arg("q")
        if soql is None:
            return _error(400, "MALFORMED_QUERY", "A query string has to be specified")
        version = request.params["version"]
        compiled = compile_query(soql, self, self._render_value, self._attributes_maker(version))
        table = self._tables[compiled.schema.name].values()
        if not include_deleted:
            table = (row for row in table if not row.get("IsDeleted"))  # type: ignore[assignment]
        rows = compiled.run(table)
        if compiled.query.count_only:
            return Response(200, {"totalSize": len(rows), "done": True, "records": []})
        return Response(200, self._page(compiled, rows, 0, self._batch_size(request), version,
                                        "queryAll" if include_deleted else "query", None))

    def _page(self, compiled: Any, rows: list[Mapping[str, Any]], start: int, size: int,
              version: str, kind: str, locator: str | None) -> dict[str, Any]:
        end = start + size
        body: dict[str, Any] = {"totalSize": len(rows), "done": end >= len(rows),
                                "records": [compiled.render(row) for row in rows[start:end]]}
        if end < len(rows):
            if locator is None:
                locator = make_id("01g", next(self._serial))
                self._cursors[locator] = (compiled, rows, size)
                while len(self._cursors) > self._max_cursors:
                    self._cursors.popitem(last=False)
            body["nextRecordsUrl"] = f"/services/data/v{version}/{kind}/{locator}-{end}"
        elif locator is not None:
            self._cursors.pop(locator, None)
        return body

    @route("GET", API + r"/(?P<kind>query|queryAll)/(?P<locator>01g[0-9A-Za-z]+)-(?P<offset>\d+)",
           name="query_more")
    @_api
    def query_more(self, request: Request) -> Response:
        locator = request.params["locator"]
        cursor = self._cursors.get(locator)
        if cursor is None:
            return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        compiled, rows, size = cursor
        return Response(200, self._page(compiled, rows, int(request.params["offset"]), size,
                                        request.params["version"], request.params["kind"],
                                        locator))

    # ---------------------------------------------------------------------- REST: sObject rows

    @route("POST", API + r"/sobjects/(?P<sobject>\w+)", name="sobject_create")
    @_api
    def sobject_create(self, request: Request) -> Response:
        schema = self.schema(request.params["sobject"])
        if schema is None:
            return Response(404, NOT_FOUND)
        body = self._json_body(request)
        if not isinstance(body, dict):
            return _error(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sobject")
        row = self._prepare_create(schema, body)
        record_id = self._insert(schema.name, row, request.params["_user"])
        return Response(201, {"id": record_id, "success": True, "errors": []})

    @route("GET", API + r"/sobjects/(?P<sobject>\w+)/(?P<record_id>[0-9A-Za-z]{15,18})",
           name="sobject_get")
    @_api
    def sobject_get(self, request: Request) -> Response:
        schema, row = self._row_for(request)
        if schema is None or row is None:
            return Response(404, NOT_FOUND)
        wanted = request.arg("fields")
        fields = None
        if wanted:
            fields = []
            for name in wanted.split(","):
                canonical = schema.canonical(name.strip())
                if canonical is None:
                    return _error(400, "INVALID_FIELD",
                                  f"No such column '{name.strip()}' on entity '{schema.name}'")
                fields.append(canonical)
        return Response(200, self._render_row(schema, row, request.params["version"], fields))

    @route("PATCH", API + r"/sobjects/(?P<sobject>\w+)/(?P<record_id>[0-9A-Za-z]{15,18})",
           name="sobject_update")
    @_api
    def sobject_update(self, request: Request) -> Response:
        schema, row = self._row_for(request)
        if schema is None or row is None:
            return Response(404, NOT_FOUND)
        body = self._json_body(request)
        if not isinstance(body, dict):
            return _error(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sobject")
        changes = self._coerce(schema, body, creating=False)
        self._apply_update(schema.name, row, changes, request.params["_user"])
        return Response(204, None)

    @route("DELETE", API + r"/sobjects/(?P<sobject>\w+)/(?P<record_id>[0-9A-Za-z]{15,18})",
           name="sobject_delete")
    @_api
    def sobject_delete(self, request: Request) -> Response:
        schema, row = self._row_for(request)
        if schema is None or row is None:
            return Response(404, NOT_FOUND)
        self._delete(schema.name, row, request.params["_user"])
        return Response(204, None)

    def _row_for(self, request: Request) -> tuple[ObjectSchema | None, dict[str, Any] | None]:
        schema = self.schema(request.params["sobject"])
        if schema is None:
            return None, None
        row = self._find(schema.name, request.params["record_id"])
        if row is None or row.get("IsDeleted"):
            return schema, None
        return schema, row

    def _json_body(self, request: Request) -> Any:
        try:
            return request.json()
        except (ValueError, UnicodeDecodeError):
            raise SaveError("JSON_PARSER_ERROR", "Unexpected character in the request body") \
                from None

    # ---------------------------------------------------------------------- REST: collections

    @route("POST", API + r"/composite/sobjects", name="composite_create")
    @_api
    def composite_create(self, request: Request) -> Response:
        return self._collection(request, creating=True)

    @route("PATCH", API + r"/composite/sobjects", name="composite_update")
    @_api
    def composite_update(self, request: Request) -> Response:
        return self._collection(request, creating=False)

    def _collection(self, request: Request, *, creating: bool) -> Response:
        body = self._json_body(request)
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list):
            return _error(400, "JSON_PARSER_ERROR", "records: expected a list of sObjects")
        if len(records) > 200:
            return _error(400, "EXCEEDED_ID_LIMIT",
                          "Maximum number of records in a collection is 200")
        all_or_none = bool(body.get("allOrNone", False))
        user = request.params["_user"]
        prepared: list[tuple[str, dict[str, Any], dict[str, Any] | None] | SaveError] = []
        for record in records:
            try:
                prepared.append(self._prepare_collection_record(record, creating=creating))
            except SaveError as error:
                prepared.append(error)
        failed = any(isinstance(item, SaveError) for item in prepared)
        results: list[dict[str, Any]] = []
        for item in prepared:
            if isinstance(item, SaveError):
                results.append({"success": False, "errors": [item.as_error()]})
            elif failed and all_or_none:
                results.append({"id": None, "success": False, "errors": [{
                    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "message": "Record rolled back because not all records were valid and the "
                               "request was using AllOrNone header", "fields": []}]})
            else:
                sobject, values, row = item
                if row is None:
                    record_id = self._insert(sobject, values, user)
                else:
                    self._apply_update(sobject, row, values, user)
                    record_id = row["Id"]
                results.append({"id": record_id, "success": True, "errors": []})
        return Response(200, results)

    def _prepare_collection_record(
        self, record: Any, *, creating: bool
    ) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
        if not isinstance(record, dict):
            raise SaveError("JSON_PARSER_ERROR", "Cannot deserialize instance of sobject")
        record = dict(record)
        attributes = record.pop("attributes", None) or {}
        schema = self.schema(str(attributes.get("type", "")))
        if schema is None:
            raise SaveError("INVALID_TYPE", "sObject type not specified or not supported")
        if creating:
            return schema.name, self._prepare_create(schema, record), None
        record_id = record.pop("id", None) or record.pop("Id", None)
        if not record_id:
            raise SaveError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        row = self._find(schema.name, record_id)
        if row is None:
            raise SaveError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["Id"])
        if row.get("IsDeleted"):
            raise SaveError("ENTITY_IS_DELETED", "entity is deleted", [])
        return schema.name, self._coerce(schema, record, creating=False), row
