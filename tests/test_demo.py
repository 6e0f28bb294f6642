"""`baton demo` end to end: the scripted morning writes what it should, and the scorecard's
numbers match the story's known timeline."""
from datetime import timedelta

from baton.kpi.commands import build_report
from baton.app.demo import DEMO_START, run_demo
from baton.store import StateStore
from tests.conftest import ROOT


def test_the_demo_story_and_its_scorecard(tmp_path, demo_config):
    lines: list[str] = []
    assert run_demo(ROOT / "config.toml", workdir=tmp_path / "demo",
                    scorecard=tmp_path / "scorecard.html", out=lines.append) == 0
    text = "\n".join(lines)

    # What the teams see.
    assert "'Handoff blocked: Grace Hopper' -> Lena Fischer [Completed]" in text
    assert "'SLA breach: Ada Byron' -> Maya Chen (SDR Manager) [Not Started]" in text
    assert text.count("SLA breach:") == 2  # planned once, listed once: fired exactly once
    assert "partner: section 'Ready for Design', 1 comment(s)" in text  # no second comment
    assert "carousel: section 'Ready for Web', 0 comment(s), 1 subtask(s) ['Fix UTM: " in text
    assert "Sheets notes on the UTM Tracker: none" in text
    # The idle cycle at the end costs one read call per source.
    assert lines[[i for i, l in enumerate(lines) if "an idle cycle" in l][0] + 1].strip() == \
        "API calls this cycle: {'salesforce': 1, 'asana': 1, 'sheets': 1}"

    # The scorecard, from the story's timeline (minutes after 09:00):
    # Ada MQL 1 -> touched 8 (SLA breached, 7 min); Alan MQL 1.5 -> touched 3.5 (2 min, between
    # two polls); Grace MQL 1 (failed gate, bounced), MQL again 5.0 -> touched 8 (met, 3 min).
    # Gate first attempts: Ada, winter, spring pass; Grace, partner, carousel, retarget fail.
    store = StateStore.open(tmp_path / "demo" / "state.db")
    end = DEMO_START + timedelta(minutes=10)
    report = build_report(demo_config, store, DEMO_START - timedelta(days=1), end, end)
    def kpi(name):
        value = report.value(name)
        return round(value.value, 2), value.count

    assert kpi("first_pass_yield") == (round(3 / 7 * 100, 2), 7)
    assert kpi("speed_to_lead_median") == (7.0, 3)
    assert kpi("speed_to_lead_within_target") == (round(1 / 3 * 100, 2), 3)
    assert kpi("sla_compliance") == (round(2 / 3 * 100, 2), 3)
    assert kpi("lead_acceptance_rate") == (100.0, 3)
    html = (tmp_path / "scorecard.html").read_text()
    assert "Handoff Health Scorecard" in html and "<script src" not in html
