"""REST: versions, limits, describe, and SOQL queries (query, queryAll, nextRecordsUrl pages)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from baton.sandbox.server import Request, Response, route

from .auth import rest_call
from .org import Org
from .schemas import (
    API, AUDIT_FIELDS, HISTORY_OBJECTS, KEY_PREFIXES, NOT_FOUND, REQUIRED, make_id, rest_error,
)
from .soql_eval import compile_query


class QueryRoutes(Org):
    """GET versions, limits, describe; SOQL query and queryAll with nextRecordsUrl pages."""

    # ---------------------------------------------------------------------- REST: meta

    @route("GET", r"/services/data", name="versions")
    def versions(self, request: Request) -> Response:
        return Response(200, [{"label": "Winter '24", "url": "/services/data/v59.0",
                               "version": "59.0"},
                              {"label": "Spring '26", "url": "/services/data/v66.0",
                               "version": "66.0"}])

    @route("GET", API + r"/limits", name="limits")
    @rest_call
    def limits(self, request: Request) -> Response:
        return Response(200, {"DailyApiRequests": {"Max": self.api_max,
                                                   "Remaining": self.api_max - self.api_used}})

    @route("GET", API + r"/sobjects", name="describe_global")
    @rest_call
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
    @rest_call
    def describe(self, request: Request) -> Response:
        schema = self.schema(request.params["sobject"])
        if schema is None:
            return Response(404, NOT_FOUND)
        read_only = set(AUDIT_FIELDS) | set(schema.computed)
        history = {table: parent for parent, (table, _) in HISTORY_OBJECTS.items()}
        fields = [{"name": name, "type": str(ftype), "label": name,
                   "updateable": name not in read_only, "createable": name not in read_only,
                   "nillable": name not in REQUIRED.get(schema.name, ()),
                   "picklistValues": self._picklist(schema.name, name, history)}
                  for name, ftype in schema.fields.items()]
        writable = schema.name not in history
        return Response(200, {"name": schema.name, "keyPrefix": KEY_PREFIXES[schema.name],
                              "createable": writable, "updateable": writable,
                              "queryable": True, "feedEnabled": schema.name in self.feed_tracked,
                              "fields": fields})

    def _picklist(self, sobject: str, field: str,
                  history: Mapping[str, str]) -> list[dict[str, Any]]:
        """describe's picklistValues. On a history object (LeadHistory) the values of `Field`
        are the parent's fields with history tracking on, plus the `created` event."""
        if sobject in history and field == "Field":
            values = ["created", *sorted(self.tracked_fields.get(history[sobject], ()))]
        else:
            values = list(self.picklists.get((sobject, field), ()))
        return [{"value": v, "label": v, "active": True, "defaultValue": index == 0 and
                 (sobject, field) in self.picklists, "validFor": None}
                for index, v in enumerate(values)]

    # ---------------------------------------------------------------------- REST: query

    @route("GET", API + r"/query", name="query")
    @rest_call
    def query(self, request: Request) -> Response:
        return self._run_query(request, include_deleted=False)

    @route("GET", API + r"/queryAll", name="queryAll")
    @rest_call
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
            return rest_error(400, "MALFORMED_QUERY", "A query string has to be specified")
        version = request.params["version"]
        compiled = compile_query(soql, self, self._render_value, self._attributes_maker(version))
        rows_in = self._tables[compiled.schema.name].values()
        table = rows_in if include_deleted else [row for row in rows_in if not row.get("IsDeleted")]
        rows = compiled.run(table)
        if compiled.query.count_only:
            return Response(200, {"totalSize": len(rows), "done": True, "records": []})
        return Response(200, self._page(compiled, rows, 0, self._batch_size(request), version,
                                        "queryAll" if include_deleted else "query", None))

    def reset_calls(self) -> None:
        with self.lock:
            super().reset_calls()
            self.queried.clear()

    def _page(self, compiled: Any, rows: list[Mapping[str, Any]], start: int, size: int,
              version: str, kind: str, locator: str | None) -> dict[str, Any]:
        self.queried[compiled.schema.name] += 1
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
    @rest_call
    def query_more(self, request: Request) -> Response:
        locator = request.params["locator"]
        cursor = self._cursors.get(locator)
        if cursor is None:
            return rest_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        compiled, rows, size = cursor
        return Response(200, self._page(compiled, rows, int(request.params["offset"]), size,
                                        request.params["version"], request.params["kind"],
                                        locator))
