"""/healthz and /metrics over real HTTP, fed by real cycles against the sandbox."""
import json
import urllib.request

from baton.app.health import serve


def get(server, path):
    host, port = server.server_address[:2]
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_health_and_metrics_report_cycles_calls_and_failures(make_sandbox, runtime_on):
    box = make_sandbox("salesforce", "sheets")
    runtime, runner = runtime_on(box)
    runner.run_all()
    server = serve(runner, 0)
    try:
        status, body = get(server, "/healthz")
        report = json.loads(body)
        assert status == 200 and report["status"] == "ok"
        assert report["sources"]["salesforce:leads"]["consecutive_failures"] == 0
        assert report["sources"]["salesforce:leads"]["lag_seconds"] == 0.0

        status, text = get(server, "/metrics")
        assert status == 200
        assert 'baton_cycles_total{source="salesforce:leads"} 1' in text
        assert 'baton_api_calls_total{endpoint="query",source="salesforce:leads"} 1' in text
        assert "# TYPE baton_writebacks_total counter" in text

        box.salesforce.faults.add("query", times=60, status=503, body=[{"message": "down", "errorCode": "SERVER_UNAVAILABLE"}])
        for _ in range(3):
            runner.run_source("salesforce:leads")
        status, body = get(server, "/healthz")
        assert status == 503
        degraded = json.loads(body)["sources"]["salesforce:leads"]
        assert degraded["consecutive_failures"] == 3 and degraded["backing_off_until"]
        assert json.loads(body)["sources"]["sheets:utm-tracker"]["consecutive_failures"] == 0
        assert get(server, "/nope")[0] == 404
    finally:
        server.shutdown()
