"""Baton guards the handoffs of marketing teams in Asana, Salesforce and Google Sheets.

Everything installs under this one package. Its parts keep the repository's top-level folders
(pyproject maps each one), and import only downwards:

    baton.app         app/         CLI, composition root, check, health endpoint, demo
    baton.engine      engine/      the cycle: transitions, gates, planner, SLA, runner
    baton.kpi         kpi/         KPI definitions and report renderers (reads the store only)
    baton.sandbox     sandbox/     emulated Salesforce, Asana and Sheets for demo, tests, benchmarks
    baton.connectors  connectors/  one adapter per tool over its SDK
    baton.rules       rules/       rule files → typed gates, checks, SLAs, calendars
    baton.store       store/       all SQL: the state store and its migrations
    baton.core        core/        domain values, errors, config, secrets, logs, the fault hook
"""
from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

try:
    __version__ = version("baton-revops")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"


class _StructlogWithoutRich:  # a sys.meta_path finder (importlib.abc would cost 1.8 MB)
    """structlog imports rich (and with it pygments and attrs, ~4 MB of RSS) whenever rich is
    installed (common-expression-language brings it), only to offer pretty tracebacks. Baton
    formats tracebacks as plain text before any renderer sees them (`format_exc_info`, and
    core.logs names `plain_traceback`), so while structlog itself is being imported, rich is
    reported missing, which structlog handles. Any other import of rich is untouched."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if name == "rich" or name.startswith("rich."):
            structlog = sys.modules.get("structlog")
            if structlog is not None and getattr(structlog.__spec__, "_initializing", False):
                raise ModuleNotFoundError(f"{name}: not loaded for structlog", name=name)
        return None


if "structlog" not in sys.modules:
    sys.meta_path.insert(0, _StructlogWithoutRich())
