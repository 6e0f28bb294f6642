"""Routes: the token endpoint (service-account JWT grant, an installed app's refresh token)."""
from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

from baton.sandbox.server import Request, Response, route

from .model import SANDBOX_REFRESH_TOKEN, SANDBOX_USER_EMAIL
from .state import SheetsState


class AuthRoutes(SheetsState):
    # -- routes: auth

    @route("POST", r"/token", name="token")
    def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") == "refresh_token":  # an installed app's user (Singer's tap)
            if form.get("refresh_token") != SANDBOX_REFRESH_TOKEN:
                return Response(400, {"error": "invalid_grant", "error_description": "Bad Request"})
            token = f"ya29.sandbox-{next(self._token_seq)}"
            self.tokens[token] = SANDBOX_USER_EMAIL
            return Response(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer",
                                  "scope": "https://www.googleapis.com/auth/spreadsheets.readonly"})
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return Response(400, {"error": "unsupported_grant_type"})
        try:
            payload_b64 = form["assertion"].split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
            email = claims["iss"]
        except (KeyError, IndexError, ValueError):
            return Response(400, {"error": "invalid_grant", "error_description": "Invalid JWT"})
        token = f"ya29.sandbox-{next(self._token_seq)}"
        self.tokens[token] = email
        return Response(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def expire_tokens(self) -> None:
        """Every issued access token stops working (the client must refresh)."""
        with self.lock:
            self.tokens.clear()
