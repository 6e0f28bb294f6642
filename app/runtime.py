"""The composition root: config, secrets, store, live rules and connectors, built in one place.

`baton run`, the demo, the benchmarks and the tests all build their runtime here.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from baton.app.check import problems_against
from baton.app.state import state_location, state_password
from baton.connectors.base import Connector
from baton.connectors.factory import build_connectors
from baton.connectors.retry import RetryPolicy
from baton.connectors.webhook import WebhookNotifier
from baton.core import logs
from baton.core.clock import utcnow
from baton.core.config import Config, Secrets
from baton.engine.live_rules import LiveRules
from baton.engine.lookups import allowed_ages
from baton.engine.runner import Runner
from baton.rules import Problem
from baton.store import StateStore
from baton.store.rotation import QueueRotation


@dataclass
class Runtime:
    config: Config
    secrets: Secrets
    store: StateStore
    rules: LiveRules
    connectors: dict[str, Connector]

    def close(self) -> None:
        """Release the SDK clients (threads, pools) before the interpreter exits."""
        for connector in self.connectors.values():
            connector.close()

    def runner(self, dry_run: bool = False, clock: Callable[[], datetime] = utcnow) -> Runner:
        return Runner(self.connectors, self.store, self.rules, clock=clock, dry_run=dry_run,
                      notifier=WebhookNotifier(self.secrets),
                      lookup_ages=allowed_ages(self.config))


def load_secrets(config: Config) -> Secrets:
    """The environment, backed by the secrets file that config.toml names (if any)."""
    return Secrets(config.resolve(config.baton.secrets_file) if config.baton.secrets_file else None)


def open_runtime(config: Config, secrets: Secrets | None = None,
                 connectors: dict[str, Connector] | None = None,
                 retry: RetryPolicy | None = None) -> Runtime:
    if secrets is None:
        secrets = load_secrets(config)
    rules = LiveRules(config.rule_files, validate=lambda rule_set: [
        Problem(str(config.path), "rules", problem)
        for problem in problems_against(config, rule_set, config.rule_files())])
    rules.current()  # fail at start-up, not in the first cycle, when no good rules exist
    store = StateStore.open(state_location(config), state_password(config, secrets))
    built = connectors if connectors is not None else build_connectors(config, secrets, retry)
    rotation = QueueRotation(store)  # queue:<name> owners take turns, persisted in the state
    for connector in built.values():
        org = getattr(connector, "org", None)
        if org is not None and hasattr(type(org), "rotation"):
            org.rotation = rotation
    logs.register_secrets(secrets.handed_out())
    return Runtime(config, secrets, store, rules, built)
