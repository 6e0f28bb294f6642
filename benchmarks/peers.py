"""The Singer taps as read-side peers, pointed at the same sandboxes as Baton.

Each tap lives in its own virtual environment under ~/.cache/baton-bench/peers/<package>,
created and filled from PyPI on first use (pip, nothing else). It runs as a child process with
`benchmarks/peer_shim` on its PYTHONPATH: that `sitecustomize` rewrites the tap's hard-coded hosts
to the sandbox (BATON_BENCH_HOSTS), and the sandbox CA is trusted through REQUESTS_CA_BUNDLE /
SSL_CERT_FILE / HTTPLIB2_CA_CERTS. No tap code is copied into this repository.

Per tap: discovery (measured, shown apart), the initial sync, an idle run with the state the
first run emitted, and a run after the burst with the state of the idle run.
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.measure import run_measured
from benchmarks.scale import ROOT
from baton.sandbox import sheets_seed
from baton.sandbox.asana import SANDBOX_REFRESH_TOKEN as ASANA_REFRESH_TOKEN
from baton.sandbox.salesforce import SANDBOX_REFRESH_TOKEN
from baton.sandbox.sheets import SANDBOX_REFRESH_TOKEN as SHEETS_REFRESH_TOKEN

SHIM = ROOT / "benchmarks" / "peer_shim"


@dataclass
class Peer:
    tool: str
    package: str
    hosts: Callable[[dict[str, Any]], dict[str, str]]  # setup -> {hard-coded host: sandbox URL}
    config: Callable[[dict[str, Any]], dict[str, Any]]
    select: Callable[[dict[str, Any]], dict[str, Any]]  # catalog -> catalog with the streams chosen
    catalog_flag: str = "--catalog"
    workdir: Path = Path()
    venv: Path = Path()
    state: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def executable(self) -> Path:
        return self.venv / "bin" / self.package

    def install(self) -> None:
        if self.executable.exists():
            return
        print(f"installing {self.package} into {self.venv} (pip, PyPI) ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True)
        subprocess.run([str(self.venv / "bin" / "pip"), "install", "-q", self.package], check=True)

    # -- runs

    def initial_and_idle(self, box: Any) -> list[dict[str, Any]]:
        setup = box.setup
        config = self.workdir / "config.json"
        config.write_text(json.dumps(self.config(setup)))
        rows = []
        box.take_calls()
        discovered = self.workdir / "discovered.json"
        measured = self._run(setup, ["--config", str(config), "--discover"], discovered, "discover")
        rows.append(self._row("discover (tap only)", box, measured, None))
        if measured.returncode != 0:
            return rows
        catalog = self.workdir / "catalog.json"
        catalog.write_text(json.dumps(self.select(json.loads(discovered.read_text()))))
        for scenario in ("initial sync", "idle"):
            rows.append(self._sync(box, config, catalog, scenario))
        return rows

    def after_burst(self, box: Any) -> list[dict[str, Any]]:
        config, catalog = self.workdir / "config.json", self.workdir / "catalog.json"
        if not catalog.exists():
            return []
        return [self._sync(box, config, catalog, "after burst")]

    def _sync(self, box: Any, config: Path, catalog: Path, scenario: str) -> dict[str, Any]:
        args = ["--config", str(config), self.catalog_flag, str(catalog)]
        if self.state is not None:
            state = self.workdir / "state.json"
            state.write_text(json.dumps(self.state))
            args += ["--state", str(state)]
        out = self.workdir / f"{scenario.replace(' ', '-')}.jsonl"
        box.take_calls()
        measured = self._run(box.setup, args, out, scenario)
        records, last_state = 0, None
        with out.open("rb") as lines:
            for line in lines:
                if line.startswith(b'{"type": "RECORD"') or b'"type": "RECORD"' in line[:40]:
                    records += 1
                elif b'"type": "STATE"' in line[:40]:
                    last_state = line
        if last_state is not None:
            self.state = json.loads(last_state)["value"]
        return self._row(scenario, box, measured, records)

    def _run(self, setup: dict[str, Any], args: list[str], out: Path, label: str) -> Any:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "PYTHONPATH": str(SHIM),
               "BATON_BENCH_HOSTS": json.dumps(self.hosts(setup)),
               "REQUESTS_CA_BUNDLE": setup["ca"], "SSL_CERT_FILE": setup["ca"],
               "HTTPLIB2_CA_CERTS": setup["ca"]}
        measured = run_measured([str(self.executable), *args], env=env, stdout=out,
                                stderr=self.workdir / f"{label.split(' ')[0]}.stderr", timeout=600)
        if measured.returncode != 0:
            self.notes.append(f"{label}: exit {measured.returncode}, see "
                              f"{self.workdir / (label.split(' ')[0] + '.stderr')}")
        return measured

    def _row(self, scenario: str, box: Any, measured: Any, records: int | None) -> dict[str, Any]:
        return {"who": self.package, "tool": self.tool, "scenario": scenario,
                "calls": box.take_calls()[self.tool], "wall_s": measured.wall_s,
                "cpu_s": measured.cpu_s, "cycle_cpu_s": None, "peak_rss_mb": measured.peak_rss_mb,
                "records": records, "written": None, "returncode": measured.returncode,
                "error": None if measured.returncode == 0 else "; ".join(self.notes)}


# -- the three taps


def _select(stream_ids: set[str], extra: dict[str, Any] | None = None
            ) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def select(catalog: dict[str, Any]) -> dict[str, Any]:
        streams = [s for s in catalog["streams"] if s["tap_stream_id"] in stream_ids]
        for stream in streams:
            for entry in stream["metadata"]:
                if entry["breadcrumb"] == []:
                    entry["metadata"].update({"selected": True, **(extra or {}).get(
                        stream["tap_stream_id"], {})})
        return {**catalog, "streams": streams}

    return select


def salesforce_tap() -> Peer:
    return Peer(
        tool="salesforce", package="tap-salesforce", catalog_flag="--properties",
        hosts=lambda setup: {"login.salesforce.com": setup["urls"]["salesforce"]},
        config=lambda setup: {
            "client_id": setup["env"]["SALESFORCE_CLIENT_ID"],
            "client_secret": setup["env"]["SALESFORCE_CLIENT_SECRET"],
            "refresh_token": SANDBOX_REFRESH_TOKEN, "start_date": "2000-01-01T00:00:00Z",
            "api_type": "REST", "select_fields_by_default": True, "is_sandbox": False},
        select=_select({"Lead"}, {"Lead": {"replication-method": "INCREMENTAL",
                                           "replication-key": "SystemModstamp"}}))


def asana_tap() -> Peer:
    """Tasks and stories (the stories stream reads each task's stories on every run)."""
    return Peer(
        tool="asana", package="tap-asana",
        hosts=lambda setup: {"app.asana.com": setup["urls"]["asana"]},
        config=lambda setup: {
            "client_id": "sandbox-client", "client_secret": "sandbox-secret",
            "redirect_uri": "https://localhost/callback", "refresh_token": ASANA_REFRESH_TOKEN,
            "start_date": "2000-01-01T00:00:00Z"},
        select=_select({"tasks", "stories"}))


def sheets_tap() -> Peer:
    """Every stream of the scale spreadsheet: its metadata and the tab "Scale"."""
    def hosts(setup: dict[str, Any]) -> dict[str, str]:
        url = setup["urls"]["sheets"]
        return {"oauth2.googleapis.com": url, "www.googleapis.com": url,
                "sheets.googleapis.com": url}

    return Peer(
        tool="sheets", package="tap-google-sheets", hosts=hosts,
        config=lambda setup: {
            "client_id": "sandbox-client.apps.googleusercontent.com",
            "client_secret": "sandbox-secret", "refresh_token": SHEETS_REFRESH_TOKEN,
            "spreadsheet_id": sheets_seed.SCALE_ID, "start_date": "2000-01-01T00:00:00Z",
            "user_agent": "baton-bench"},
        select=_select({sheets_seed.SCALE_TAB, "spreadsheet_metadata", "sheet_metadata",
                        "sheets_loaded"}))


PEERS: dict[str, Callable[[], Peer]] = {"salesforce": salesforce_tap, "asana": asana_tap,
                                        "sheets": sheets_tap}


def prepare(tools: list[str], cache: Path, workdir: Path) -> list[Peer]:
    peers = []
    for tool in tools:
        if tool not in PEERS:
            continue
        peer = PEERS[tool]()
        peer.venv = cache / peer.package
        peer.workdir = workdir / "peers" / peer.package
        peer.workdir.mkdir(parents=True, exist_ok=True)
        peer.install()
        peers.append(peer)
    return peers

