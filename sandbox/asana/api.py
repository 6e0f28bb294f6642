"""HTTP plumbing: authentication, the emulated rate limit, errors, `{"data"}` envelopes and
offset paging."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from baton.sandbox.server import Request, Response

from .actions import AsanaActions
from .model import API, MAX_UNPAGED_RESULTS, ApiError, error_body
from .wire import Rendered, decode_offset, encode_offset, opt_fields, project_fields, request_cost


class AsanaApi(AsanaActions):
    # --- HTTP plumbing ------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Any:
        user = self.tokens.get(request.headers.get("authorization", "").removeprefix("Bearer "))
        if request.path.startswith(API) and user is None:
            with self.lock:
                self.calls["unauthorized"] += 1
            return Response(401, error_body("Not Authorized"))
        limited = self._rate_limited(request_cost(request))
        if limited is not None:
            with self.lock:
                self.calls["rate_limited"] += 1
            return limited
        try:
            return super().dispatch(request)
        except ApiError as error:
            return Response(error.status, error_body(error.message), error.headers)

    def not_found(self, request: Request) -> Response:
        return Response(404, error_body(f"No matching route for request: {request.path}"))

    def _rate_limited(self, cost: int) -> Response | None:
        """The emulated per-token limit: a bucket of `rate_limit_per_minute` refilled evenly on
        the emulator clock (Asana does not publish its algorithm); None when under it."""
        if self.rate_limit_per_minute is None:
            return None
        with self.lock:
            now = self.clock.now()
            capacity = float(self.rate_limit_per_minute)
            if self._bucket is None:
                self._bucket = (capacity, now)
            tokens, stamp = self._bucket
            tokens = min(capacity, tokens + (now - stamp).total_seconds() * capacity / 60)
            if tokens < cost:
                self._bucket = (tokens, now)
                wait = (cost - tokens) * 60 / capacity
                self.calls["rate_limited_total"] += 1
                return Response(429, error_body(
                    "You have made too many requests recently. Please, be chill."),
                    {"Retry-After": str(max(1, int(wait + 0.999)))})
            self._bucket = (tokens - cost, now)
            return None

    def _me(self, request: Request) -> str:
        return self.tokens[request.headers.get("authorization", "").removeprefix("Bearer ")]

    def _ok(self, data: Any, request: Request, status: int = 200) -> Response:
        return Response(status, {"data": project_fields(data, opt_fields(request))})

    def _page(self, items: list[Any], request: Request, default_fields: tuple[str, ...],
              render: Any = None) -> Response:
        """Offset paging as the API does it; `next_page` only when `limit` was sent.

        `render` turns an item into its full JSON form; only the items of the page are rendered.
        """
        fields = opt_fields(request) or set(default_fields)
        page_of: list[Any] | Rendered = items if render is None else Rendered(items, render)
        raw_limit = request.arg("limit")
        start = 0
        if request.arg("offset"):
            start = decode_offset(request.arg("offset") or "")
        if raw_limit is None:
            if len(items) > MAX_UNPAGED_RESULTS:
                raise ApiError(400, "The result is too large. You should use pagination "
                                    "(may require specifying a workspace)!")
            return Response(200, {"data": [project_fields(i, fields) for i in page_of[start:]]})
        try:
            limit = int(raw_limit)
        except ValueError:
            raise ApiError(400, f"limit: Not a valid integer: {raw_limit}") from None
        if not 1 <= limit <= 100:
            raise ApiError(400, "limit: Must be between 1 and 100")
        chunk = page_of[start:start + limit]
        next_page = None
        if start + limit < len(items):
            token = encode_offset(start + limit)
            query = {k: v[0] for k, v in request.query.items() if k != "offset"}
            query["offset"] = token
            path = request.path.removeprefix(API) + "?" + urlencode(query)
            host = request.headers.get("host", self.domain)
            next_page = {"offset": token, "path": path, "uri": f"https://{host}{API}{path}"}
        return Response(200, {"data": [project_fields(i, fields) for i in chunk],
                              "next_page": next_page})

    def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError:
            raise ApiError(400, "Could not parse request data, invalid JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise ApiError(400, "Could not parse request data: missing data envelope")
        return body["data"]
