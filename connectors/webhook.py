"""Slack / Microsoft Teams incoming webhooks: the escalation channel of SLA steps.

Both accept `{"text": "..."}`. The URL is a secret: it comes from the environment variable the
rule names, and it is never logged. A post cannot be looked up afterwards, so after a crash
between sending and recording, a notification is not sent again (at most once, by design: the
ticket in the tool is the escalation of record; the chat post is a courtesy).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from baton.core.actions import Action, ActionResult
from baton.core.errors import RateLimited, TransientError
from baton.connectors.retry import RetryPolicy, parse_retry_after
from baton.core.config import Secrets

if TYPE_CHECKING:  # requests (16 MB with urllib3) loads at the first post: most runs send none
    import requests


class WebhookNotifier:
    def __init__(self, secrets: Secrets, retry: RetryPolicy | None = None,
                 session: requests.Session | None = None, timeout: float = 10.0) -> None:
        self._secrets = secrets
        self._retry = retry or RetryPolicy(attempts=3, max_elapsed=30)
        self._session = session
        self._timeout = timeout
        self.calls = 0

    def send(self, actions: Sequence[Action]) -> list[ActionResult]:
        return [self._send_one(a) for a in actions]

    def _send_one(self, action: Action) -> ActionResult:
        variable = action.webhook_env or ""
        url = self._secrets.get(variable) if variable else None
        if not url:
            return ActionResult(action.key, False, error=f"{variable or 'webhook'} is not set")

        import requests

        if self._session is None:
            self._session = requests.Session()
        session = self._session

        def post() -> None:
            self.calls += 1
            try:
                response = session.post(url, json={"text": action.text}, timeout=self._timeout)
            except requests.RequestException as error:
                raise TransientError(f"webhook {variable}: {type(error).__name__}") from None
            if response.status_code == 429:
                raise RateLimited(f"webhook {variable}: 429", parse_retry_after(response.headers.get("Retry-After")))
            if response.status_code >= 500:
                raise TransientError(f"webhook {variable}: HTTP {response.status_code}")
            if response.status_code >= 300:
                raise ValueError(f"webhook {variable}: HTTP {response.status_code}")

        try:
            self._retry.call(post, tool="webhook", what=variable)
        except (TransientError, ValueError) as error:
            return ActionResult(action.key, False, error=str(error))
        return ActionResult(action.key, True, remote_id=f"webhook:{variable}")
