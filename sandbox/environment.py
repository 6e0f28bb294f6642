"""The whole sandbox in one object: a local CA, the three emulators on 127.0.0.1, and the config
and secrets that point Baton's real connectors at them. The demo, the integration tests and the
benchmarks all start here.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from baton.core.config import Config, Secrets
from baton.sandbox import asana_seed, salesforce_seed, sheets_seed
from baton.sandbox.asana import AsanaEmulator
from baton.sandbox.clock import SandboxClock
from baton.sandbox.salesforce import SalesforceEmulator
from baton.sandbox.server import SandboxServer
from baton.sandbox.sheets import SheetsEmulator
from baton.sandbox.tls import LocalCA


def _for_sources(rule_file: Path, running: set[str]) -> bool:
    """A rule file whose gates and SLAs are all for sources the sandbox runs, and whose
    cross-tool checks look up only such sources (`baton run` refuses rules for a source that
    is not configured, as `baton check` does)."""
    try:
        tables = tomllib.loads(rule_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True  # a broken file stays: `baton check` is there to name it
    items = [item for kind in ("gate", "sla") for item in tables.get(kind, [])]
    looked_up = [check["lookup"].get("source") for gate in tables.get("gate", [])
                 for check in gate.get("checks", [])
                 if isinstance(check, dict) and isinstance(check.get("lookup"), dict)]
    return all(item.get("source") in running for item in items) and \
        all(source in running for source in looked_up)


def _bypass_proxies_for_loopback() -> None:
    """A developer's HTTPS_PROXY must not catch the sandbox's 127.0.0.1 traffic (requests and
    httplib2 honour NO_PROXY); child processes inherit it."""
    for name in ("NO_PROXY", "no_proxy"):
        hosts = [h for h in os.environ.get(name, "").split(",") if h]
        os.environ[name] = ",".join(dict.fromkeys([*hosts, "127.0.0.1", "localhost"]))


@dataclass
class Sandbox:
    workdir: Path
    clock: SandboxClock = field(default_factory=SandboxClock)
    seed: bool = True
    tools: tuple[str, ...] = ("salesforce", "asana", "sheets")

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ca = LocalCA.create(self.workdir / "tls")
        self.salesforce = SalesforceEmulator(clock=self.clock)
        self.asana = AsanaEmulator(self.clock)
        self.sheets = SheetsEmulator()
        self.sheets.clock = self.clock
        self._servers: dict[str, SandboxServer] = {}
        self.env: dict[str, str] = {}
        self.overrides: dict[str, dict[str, Any]] = {}
        if self.seed:
            self.org = salesforce_seed.seed_demo_org(self.salesforce)
            self.project_gid = asana_seed.seed_content_calendar(self.asana)
            self.spreadsheet_id = sheets_seed.seed_utm_tracker(self.sheets)

    def start(self) -> Sandbox:
        _bypass_proxies_for_loopback()
        emulators = {"salesforce": self.salesforce, "asana": self.asana, "sheets": self.sheets}
        for tool in self.tools:
            self._servers[tool] = SandboxServer(emulators[tool], self.ca).start()
        settings = {
            "salesforce": salesforce_seed.sandbox_settings,
            "asana": asana_seed.sandbox_settings,
        }
        for tool, server in self._servers.items():
            if tool == "sheets":
                overrides, env = sheets_seed.sandbox_settings(server.base_url, self.ca.ca_pem,
                                                              self.workdir / "keys")
            else:
                overrides, env = settings[tool](server.base_url, self.ca.ca_pem)
            self.overrides[tool] = overrides
            self.env.update(env)
        return self

    def stop(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def calls(self) -> dict[str, int]:
        """API calls served so far, per tool."""
        return {tool: server.emulator.total_calls() for tool, server in self._servers.items()}

    def reset_calls(self) -> None:
        for server in self._servers.values():
            server.emulator.reset_calls()

    def configure(self, config: Config, state: Path | None = None) -> tuple[Config, Secrets]:
        """The config pointed at the sandbox (state kept in the workdir), and sandbox secrets."""
        update: dict[str, Any] = {tool: getattr(config, tool).model_copy(update=values)
                                  for tool, values in self.overrides.items()}
        sources = [s for s in config.source if s.tool in self._servers]
        running = {s.id for s in sources}
        baton = config.baton.model_copy(update={
            "state": str(state or self.workdir / "state.db"), "secrets_file": "",
            "rules": [str(f) for f in config.rule_files() if _for_sources(f, running)]})
        configured = config.model_copy(update={**update, "baton": baton, "source": sources})
        return configured, Secrets(environ={**os.environ, **self.env})

    def write_config(self, config: Config, path: Path, state: Path | None = None) -> Path:
        """A config file for a separate `baton` process (the crash test); secrets go in a
        secrets file beside it, never in the config."""
        configured, _ = self.configure(config, state)
        secrets_file = path.with_suffix(".secrets")
        secrets_file.touch(mode=0o600)
        secrets_file.chmod(0o600)  # Baton refuses a secrets file others can read
        secrets_file.write_text("".join(f"{k}={v}\n" for k, v in self.env.items()))
        data = configured.model_dump(mode="json", exclude={"path"}, exclude_none=True)
        data["baton"]["secrets_file"] = str(secrets_file)
        path.write_text(tomli_w.dumps(data))
        return path
