"""/metrics from prometheus_client (with the process metrics), the freshness and allocation
gauges, /healthz degraded while rules are broken or a source is stale, and the bind address."""
from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from baton.app.health import serve
from tests.conftest import ROOT


def _get(host: str, port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_metrics_are_standard_and_carry_freshness_and_the_api_allocation(make_sandbox, runtime_on):
    box = make_sandbox("salesforce", "sheets")
    box.salesforce.set_api_usage(2500, 15000)
    runtime, runner = runtime_on(box)
    runner.run_all()
    box.clock.advance(42)
    server = serve(runner, 0, host="0.0.0.0",
                   stale_after={"salesforce:leads": 3600, "sheets:utm-tracker": 30})
    port = server.server_address[1]
    try:
        status, text = _get("127.0.0.1", port, "/metrics")
        assert status == 200
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(text) for s in family.samples}
        assert ("process_resident_memory_bytes", ()) in samples  # the library's process collector
        assert ("process_open_fds", ()) in samples
        lead = (("source", "salesforce:leads"),)
        assert samples[("baton_cycles_total", lead)] == 1
        assert samples[("baton_lag_seconds", lead)] == 42
        assert samples[("baton_last_success_timestamp_seconds", lead)] == \
            runner.health["salesforce:leads"].last_success.timestamp()
        used = samples[("baton_salesforce_api_requests_used", ())]
        assert samples[("baton_salesforce_api_requests_max", ())] == 15000 and used > 2500
        assert samples[("baton_salesforce_api_usage_ratio", ())] == used / 15000
        assert samples[("baton_api_calls_total",
                        (("endpoint", "query"), ("source", "salesforce:leads")))] >= 1

        # the sheet has not completed a cycle for 42 s, over its stale limit of 30 s
        status, body = _get("127.0.0.1", port, "/healthz")
        report = json.loads(body)
        assert status == 503 and report["status"] == "degraded"
        assert report["sources"]["sheets:utm-tracker"]["stale"] is True
        assert report["sources"]["salesforce:leads"]["stale"] is False
    finally:
        server.shutdown()


def test_healthz_is_degraded_while_the_rule_files_are_broken(make_sandbox, runtime_on, demo_config,
                                                            tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules" / "demo", rules)
    config = demo_config.model_copy(update={"baton": demo_config.baton.model_copy(
        update={"rules": [str(rules / "*.toml")]})})
    box = make_sandbox("salesforce")
    runtime, runner = runtime_on(box, config)
    runner.run_all()
    server = serve(runner, 0)
    host, port = server.server_address[:2]
    try:
        assert _get(host, port, "/healthz")[0] == 200
        (rules / "salesforce-leads.toml").write_text("[[gate]]\nid = 'x'\n")
        runner.run_all()  # the reload fails; the last good rules keep running
        status, body = _get(host, port, "/healthz")
        assert status == 503 and json.loads(body)["rules"]["broken"] is True
        assert "baton_rules_broken 1.0" in _get(host, port, "/metrics")[1]
    finally:
        server.shutdown()
