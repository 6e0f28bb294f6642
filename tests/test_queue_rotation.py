"""`queue:<name>` owners take turns over the queue's active members, the rotation kept in the
state: twenty tasks for a queue of three go 7/7/6, across a restart, each written once."""
from __future__ import annotations

from collections import Counter

from baton.store import StateStore
from baton.store.rotation import QueueRotation


def _remediation_team(box) -> list[str]:
    sf = box.salesforce
    members = [box.org.remediation_id]
    for first in ("Noor", "Tomas"):
        user = sf.create_record("User", {"FirstName": first, "LastName": "Remediation",
                                         "Username": f"{first.lower()}@acme-demo.example",
                                         "Email": f"{first.lower()}@acme-demo.example"})
        sf.create_record("GroupMember", {"GroupId": box.org.remediation_queue_id,
                                         "UserOrGroupId": user})
        members.append(user)
    sf.create_record("User", {"FirstName": "Gone", "LastName": "Member", "IsActive": False,
                              "Username": "gone@acme-demo.example", "Email": "gone@acme-demo.example"})
    return members


def test_twenty_tasks_for_a_queue_of_three_go_7_7_6_across_a_restart(make_sandbox, runtime_on):
    box = make_sandbox("salesforce")
    members = _remediation_team(box)
    sf = box.salesforce
    leads = [sf.create_record("Lead", {"LastName": f"Lead {n}", "Company": "Acme",
                                       "Email": f"lead{n}@acme.example",
                                       "Status": "Open - Not Contacted"}) for n in range(20)]
    runtime, runner = runtime_on(box)
    runner.run_all()  # the baseline
    for lead in leads[:10]:
        sf.update_record("Lead", lead, {"Status": "MQL"})  # no title, no consent: the gate fails
    box.clock.advance(60)
    runner.run_all()
    runtime.close()

    runtime, runner = runtime_on(box)  # a restart on the same state
    for lead in leads[10:]:
        sf.update_record("Lead", lead, {"Status": "MQL"})
    box.clock.advance(60)
    runner.run_all()
    runner.run_all()  # nothing more to write
    runtime.close()

    tasks = [t for t in sf.records("Task") if t["Subject"].startswith("Handoff blocked:")]
    assert len(tasks) == 20 and len({t["WhoId"] for t in tasks}) == 20  # one task per lead
    spread = Counter(t["OwnerId"] for t in tasks)
    assert set(spread) == set(members)
    assert sorted(spread.values()) == [6, 7, 7]


def test_a_retried_action_keeps_its_member_and_a_member_who_left_is_skipped(tmp_path):
    rotation = QueueRotation(StateStore.open(tmp_path / "state.db"))
    team = ["005A", "005B", "005C"]
    assert [rotation.assign("Data Remediation", f"k{n}", team) for n in range(4)] == \
        ["005A", "005B", "005C", "005A"]
    assert rotation.assign("Data Remediation", "k1", team) == "005B"  # the same action again
    assert rotation.assign("Other queue", "x1", team) == "005A"  # each queue has its own turn
    # 005B left the queue before k1 was written: k1 goes to the next in turn (3 given, 2 left)
    assert rotation.assign("Data Remediation", "k1", ["005A", "005C"]) == "005C"
    reopened = QueueRotation(StateStore.open(tmp_path / "state.db"))  # kept in the state
    assert reopened.counts("Data Remediation") == {"005A": 2, "005C": 2}
    assert reopened.assign("Data Remediation", "k4", team) == "005B"  # position 4 of 3: B
