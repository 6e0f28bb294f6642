"""A deployment loads only the SDKs of the tools it configures (issue #15: the process's own
weight). Each command runs in a fresh interpreter, against the sandbox, and the interpreter
reports at exit which heavy modules it loaded."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from baton.core.config import load_config

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("simple_salesforce", "zeep", "lxml", "asana", "googleapiclient", "httplib2",
         "requests", "holidays", "baton.sandbox", "baton.kpi",
         # structlog's optional pretty tracebacks, the dialect of a database not used
         "rich", "pygments", "sqlalchemy.dialects.postgresql")

# Runs the real CLI entry point, then prints the loaded heavy modules as one JSON line.
PROBE = f"""
import atexit, json, sys
from baton.app.cli import main
atexit.register(lambda: print("LOADED " + json.dumps(
    sorted(m for m in {HEAVY!r} if m in sys.modules)), file=sys.stderr))
sys.exit(main(sys.argv[1:]))
"""


def loaded(config: Path, *command: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *command, "--config", str(config)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(l for l in done.stderr.splitlines() if l.startswith("LOADED "))
    return json.loads(line.removeprefix("LOADED "))


@pytest.fixture
def sheets_only(make_sandbox, tmp_path) -> Path:
    box = make_sandbox("sheets", frozen=False)
    return box.write_config(load_config(ROOT / "config.toml"), tmp_path / "baton.toml",
                            tmp_path / "state.db")


def test_check_loads_no_tool_sdk(sheets_only):
    assert loaded(sheets_only, "check") == []


def test_a_sheets_only_run_loads_only_the_google_client(sheets_only):
    # two runs: the baseline, then an ordinary cycle over the stored state
    for _ in range(2):
        assert loaded(sheets_only, "run", "--once") == ["googleapiclient", "httplib2"]


def test_a_salesforce_source_brings_its_sdk(make_sandbox, tmp_path):
    box = make_sandbox("salesforce", frozen=False)
    config = box.write_config(load_config(ROOT / "config.toml"), tmp_path / "baton.toml",
                              tmp_path / "state.db")
    modules = loaded(config, "run", "--once")
    assert "simple_salesforce" in modules  # the probe sees an import when there is one
    assert "asana" not in modules and "googleapiclient" not in modules
    assert "zeep" not in modules and "lxml" not in modules  # the Metadata API client is lazy


def test_the_metadata_api_still_loads_when_asked_for():
    code = """
import sys
import baton.connectors.salesforce
from simple_salesforce import Salesforce
before = "zeep" in sys.modules
api = Salesforce(instance_url="https://127.0.0.1:9", session_id="none").mdapi
print(before, type(api).__module__, type(api).__name__, "zeep" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "simple_salesforce.metadata", "SfdcMetadataApi", "True"]


def test_rich_is_hidden_from_structlog_only():
    code = """
import sys
import baton, structlog
hidden = "rich" not in sys.modules and "pygments" not in sys.modules
import rich.text
print(hidden, type(rich.text.Text("x")).__name__, baton.__version__ != "")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "Text", "True"]


def test_pretty_logs_print_a_plain_traceback(monkeypatch):
    import io

    import structlog

    from baton.core import logs

    stream = io.StringIO()
    logs.configure("pretty", stream=stream)
    try:
        raise ValueError("boom")
    except ValueError:
        structlog.get_logger().exception("demo.failed")
    text = stream.getvalue()
    assert "demo.failed" in text and "Traceback (most recent call last):" in text
    assert "ValueError: boom" in text


def test_a_postgresql_state_brings_its_dialect(pg_server):
    code = f"""
import sys
from baton.store import StateStore
assert "sqlalchemy.dialects.postgresql" not in sys.modules
store = StateStore.open({pg_server.fresh_url()!r})
store.engine.dispose()
print("sqlalchemy.dialects.postgresql" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True"]
