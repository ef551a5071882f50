"""Issue 19 item 1: a probe that cannot connect or never answers restarts nothing, and is reported unknown.

The role through its playbook against the lab, as a controller whose outbound port 25 is
blocked (a closed port) or whose probe meets a listener that accepts and never answers.
The lab's journal is the proof: it records every cmdlet each server ran.
"""

from __future__ import annotations

import json
import socket

import pytest

from tests.conftest import ROOT, SCENARIOS
from .test_audit_and_remediate import run, statuses

pytestmark = pytest.mark.ansible
FLEET = ROOT / "tests/lab/fixtures/fleet5.yml"


def restarts_in_journal(lab) -> list:
    entries = [json.loads(line) for line in lab.journal_path.read_text().splitlines()] if lab.journal_path.exists() else []
    return [(e.get("server"), s["parameters"].get("Name")) for e in entries for s in e.get("steps") or []
            if s.get("cmdlet") == "Restart-Service"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_unknown_without_restart(report: dict, changes: dict, output: str) -> None:
    for host, entry in report["hosts"].items():
        assert entry["restarts"] == [], host
        # A server the run changed is probed before and after the change; every probe failed to connect: unknown.
        assert entry["probe"] and {p["status"] for p in entry["probe"]} == {"unknown"}, (host, entry["probe"])
        assert [p["phase"] for p in entry["probe"]] == (["before", "after"] if entry["changes"] else ["before"]), host
        assert entry["status"] == "error" and "STARTTLS is unknown" in entry["message"], (host, entry["message"])
    assert not [c for c in changes["changes"] if c["object_type"] == "service"]
    assert "0 transport restart(s)" in output


@pytest.mark.reliability("Faults", "role: probe port closed or black hole on a remediated fleet: no restart, probe unknown")
def test_a_probe_that_cannot_connect_or_never_answers_restarts_nothing(running_lab, tmp_path):
    lab = running_lab(FLEET)
    rc, output, first, _changes = run(lab, tmp_path / "first", "remediate")
    assert rc == 0 and set(statuses(first).values()) <= {"remediated", "compliant"}, output
    restarted = restarts_in_journal(lab)

    rc, output, report, changes = run(lab, tmp_path / "closed", "remediate", "-e", f"connector_tls_probe_port={closed_port()}")
    assert rc != 0, output
    assert_unknown_without_restart(report, changes, output)
    assert restarts_in_journal(lab) == restarted

    # A black hole: the port accepts (the kernel completes the handshake) and nothing ever answers.
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        rc, output, report, changes = run(lab, tmp_path / "hole", "remediate", "-e", f"connector_tls_probe_port={hole.getsockname()[1]}",
                                          "-e", "connector_tls_probe_timeout=1")
    assert rc != 0, output
    assert_unknown_without_restart(report, changes, output)
    assert all("timed out" in p["error"].lower() for e in report["hosts"].values() for p in e["probe"]), report["hosts"]
    assert restarts_in_journal(lab) == restarted


def test_a_changed_server_whose_probe_fails_is_not_restarted_even_if_it_needs_it(running_lab, tmp_path):
    """needs-restart: transport only loads the fix after a restart; with no probe evidence none is made, and the report says so."""
    lab = running_lab(SCENARIOS / "needs-restart.yml")
    rc, output, report, changes = run(lab, tmp_path / "closed", "remediate", "-e", f"connector_tls_probe_port={closed_port()}")
    assert rc != 0, output
    assert [c["status"] for c in changes["changes"]] and {c["status"] for c in changes["changes"]} == {"applied"}
    assert_unknown_without_restart(report, changes, output)
    assert restarts_in_journal(lab) == []
    # With the probe reaching port 25 again, the next run restarts nothing either: it changes nothing.
    rc, output, again, again_changes = run(lab, tmp_path / "again", "remediate")
    assert restarts_in_journal(lab) == [] and again_changes["changes"] == []
    assert [p["status"] for p in again["hosts"]["EX01"]["probe"]] == ["problem"], again["hosts"]["EX01"]["probe"]
