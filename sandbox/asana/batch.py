"""Routes: `POST /batch`, each action dispatched to the other routes and counted on its own."""
from __future__ import annotations

import json
from typing import Any

from baton.sandbox.server import Request, Response, route

from .api import AsanaApi
from .model import API, MAX_BATCH_ACTIONS, ApiError, error_body


class BatchRoutes(AsanaApi):
    @route("POST", API + r"/batch", name="create_batch_request")
    def post_batch(self, request: Request) -> Response:
        data = self._body(request)
        actions = data.get("actions")
        if not isinstance(actions, list) or not actions:
            raise ApiError(400, "actions: Missing input")
        if len(actions) > MAX_BATCH_ACTIONS:
            raise ApiError(400, f"actions: At most {MAX_BATCH_ACTIONS} actions are allowed")
        return Response(200, {"data": [self._run_action(a, request) for a in actions]})

    def _run_action(self, action: dict[str, Any], outer: Request) -> dict[str, Any]:
        method = str(action.get("method", "")).upper()
        path = str(action.get("relative_path", ""))
        data = action.get("data") or {}
        options = action.get("options") or {}
        query: dict[str, list[str]] = {}
        body = b""
        if method == "GET":
            query = {k: [str(v)] for k, v in data.items()}
        else:
            body = json.dumps({"data": data}).encode()
        if options.get("fields"):
            query["opt_fields"] = [",".join(options["fields"])]
        for key in ("limit", "offset"):
            if options.get(key) is not None:
                query[key] = [str(options[key])]
        inner = Request(method=method, path=API + path.split("?")[0], query=query,
                        headers=outer.headers, body=body)
        for route_method, pattern, name, handler in self._routes:
            if route_method != method or name == "create_batch_request":
                continue
            match = pattern.match(inner.path)
            if not match:
                continue
            inner.params = match.groupdict()
            self.action_calls[name] += 1
            fault = self.faults.take("batch." + name)
            if fault is not None:
                return {"status_code": fault.status, "headers": fault.headers,
                        "body": fault.body if fault.body is not None else error_body("Server Error")}
            try:
                response = handler(inner)
            except ApiError as error:
                return {"status_code": error.status, "headers": {}, "body": error_body(error.message)}
            headers = {}
            if response.status == 201 and isinstance(response.body, dict):
                gid = (response.body.get("data") or {}).get("gid")
                headers["location"] = f"{path.split('?')[0]}/{gid}" if gid else path
            return {"status_code": response.status, "headers": headers, "body": response.body}
        return {"status_code": 404, "headers": {},
                "body": error_body(f"No matching route for request: {path}")}
