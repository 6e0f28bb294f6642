"""OAuth (client credentials, JWT bearer, refresh token) and the gate every REST call passes:
session check, the daily API allocation and the `Sforce-Limit-Info` header.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import parse_qs

import jwt

from baton.sandbox.server import Request, Response, route

from .org import Org
from .schemas import JWT_GRANT, SaveError, rest_error
from .soql_lexer import SoqlError

R = TypeVar("R", bound=Org)


def rest_call(handler: Callable[[R, Request], Response]) -> Callable[..., Response]:
    """Authenticate, count against the daily allocation and add Sforce-Limit-Info."""

    def wrapper(self: R, request: Request) -> Response:
        user_id = self._session_user(request)
        if user_id is None:
            return rest_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if self.api_used >= self.api_max:
            response = rest_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        else:
            self.api_used += 1
            request.params["_user"] = user_id
            try:
                response = handler(self, request)
            except SaveError as error:
                response = Response(400, error.as_rest())
            except SoqlError as error:
                response = rest_error(400, error.code, error.message)
        response.headers["Sforce-Limit-Info"] = f"api-usage={self.api_used}/{self.api_max}"
        return response

    wrapper.__name__ = handler.__name__
    return wrapper


class AuthRoutes(Org):
    """POST /services/oauth2/token: client_credentials (Basic), JWT bearer, refresh_token."""

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
