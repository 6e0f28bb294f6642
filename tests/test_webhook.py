"""Slack / Teams incoming webhooks for SLA escalation steps (`responses` stands in for Slack)."""
import json

import responses
import structlog

from baton.core.actions import Action, ActionKind
from baton.connectors.retry import RetryPolicy
from baton.connectors.webhook import WebhookNotifier
from baton.core.config import Secrets

URL = "https://hooks.slack.com/services/T000/B000/secret-token-xyz"


def notify(key="k1"):
    return Action(key, ActionKind.NOTIFY, "salesforce:leads", "00Q1", "sla:speed-to-lead",
                  text="SLA breach: Ada Byron", webhook_env="SLACK_WEBHOOK_URL")


def notifier():
    return WebhookNotifier(Secrets(environ={"SLACK_WEBHOOK_URL": URL}),
                           RetryPolicy(attempts=3, sleep=lambda s: None))


@responses.activate
def test_posts_the_text_and_retries_a_429_with_retry_after():
    responses.post(URL, status=429, headers={"Retry-After": "1"})
    responses.post(URL, status=200, body="ok")
    [result] = notifier().send([notify()])
    assert result.ok
    assert len(responses.calls) == 2
    assert json.loads(responses.calls[1].request.body) == {"text": "SLA breach: Ada Byron"}


@responses.activate
def test_a_refused_post_fails_the_action_without_leaking_the_url():
    responses.post(URL, status=404, body="no_service")
    with structlog.testing.capture_logs() as logs:
        [result] = notifier().send([notify()])
    assert not result.ok and "HTTP 404" in result.error
    assert "secret-token-xyz" not in result.error and "secret-token-xyz" not in repr(logs)


def test_a_missing_webhook_variable_is_a_clear_failure():
    [result] = WebhookNotifier(Secrets(environ={})).send([notify()])
    assert (result.ok, result.error) == (False, "SLACK_WEBHOOK_URL is not set")
