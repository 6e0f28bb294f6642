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
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("baton-revops")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"
