"""REST: sObject rows (create, get, update, delete) and sObject collections (composite)."""
from __future__ import annotations

from typing import Any

from baton.sandbox.server import Request, Response, route

from .auth import rest_call
from .org import Org
from .schemas import API, NOT_FOUND, SaveError, rest_error
from .soql_schema import ObjectSchema


class SObjectRoutes(Org):
    """One sObject row by id, and sObject collections of up to 200 (allOrNone)."""

    # ---------------------------------------------------------------------- REST: sObject rows

    @route("POST", API + r"/sobjects/(?P<sobject>\w+)", name="sobject_create")
    @rest_call
    def sobject_create(self, request: Request) -> Response:
        schema = self.schema(request.params["sobject"])
        if schema is None:
            return Response(404, NOT_FOUND)
        body = self._json_body(request)
        if not isinstance(body, dict):
            return rest_error(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sobject")
        row = self._prepare_create(schema, body)
        record_id = self._insert(schema.name, row, request.params["_user"])
        return Response(201, {"id": record_id, "success": True, "errors": []})

    @route("GET", API + r"/sobjects/(?P<sobject>\w+)/(?P<record_id>[0-9A-Za-z]{15,18})",
           name="sobject_get")
    @rest_call
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
                    return rest_error(400, "INVALID_FIELD",
                                  f"No such column '{name.strip()}' on entity '{schema.name}'")
                fields.append(canonical)
        return Response(200, self._render_row(schema, row, request.params["version"], fields))

    @route("PATCH", API + r"/sobjects/(?P<sobject>\w+)/(?P<record_id>[0-9A-Za-z]{15,18})",
           name="sobject_update")
    @rest_call
    def sobject_update(self, request: Request) -> Response:
        schema, row = self._row_for(request)
        if schema is None or row is None:
            return Response(404, NOT_FOUND)
        body = self._json_body(request)
        if not isinstance(body, dict):
            return rest_error(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sobject")
        changes = self._coerce(schema, body, creating=False)
        self._apply_update(schema.name, row, changes, request.params["_user"])
        return Response(204, None)

    @route("DELETE", API + r"/sobjects/(?P<sobject>\w+)/(?P<record_id>[0-9A-Za-z]{15,18})",
           name="sobject_delete")
    @rest_call
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
    @rest_call
    def composite_create(self, request: Request) -> Response:
        return self._collection(request, creating=True)

    @route("PATCH", API + r"/composite/sobjects", name="composite_update")
    @rest_call
    def composite_update(self, request: Request) -> Response:
        return self._collection(request, creating=False)

    def _collection(self, request: Request, *, creating: bool) -> Response:
        body = self._json_body(request)
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list):
            return rest_error(400, "JSON_PARSER_ERROR", "records: expected a list of sObjects")
        if len(records) > 200:
            return rest_error(400, "EXCEEDED_ID_LIMIT",
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
