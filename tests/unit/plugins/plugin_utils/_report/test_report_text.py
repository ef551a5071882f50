"""plugin_utils/_report/report_text.py: the lines the role prints at the end of every run."""

from __future__ import annotations

import json
import pathlib

import pytest

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.report_text import summary_lines

FIXTURE = pathlib.Path(__file__).resolve().parents[3] / "fixtures" / "report-sample.json"


@pytest.fixture
def report() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def test_a_remediation_says_what_was_wrong_what_changed_starttls_and_where_the_reports_are(report):
    lines = summary_lines(report, "/reports/run-1")
    text = "\n".join(lines)
    assert lines[0] == "What is still wrong after this run:"
    ex02 = report["hosts"]["EX02"]
    assert f"  EX02: blocked: {ex02['message']}" in lines
    assert f"  EDGE01: unreachable: {report['hosts']['EDGE01']['message']}" in lines
    change = next(c for c in report["hosts"]["EX01"]["changes"] if c["property"] == "TlsCertificateName")
    assert f"      was {change['before']}" in lines and f"      now {change['after']}" in lines
    assert "STARTTLS on port 25, as a sending server sees it (SMTP probe from the controller):" in lines
    probe = report["hosts"]["EX01"]["probe"][-1]
    assert f"{probe['phase']}: offered, certificate {probe['thumbprint']}" in text
    assert lines[-1] == "Reports: /reports/run-1/report.html (open in a browser), report.json, junit.xml, changes.json"
    assert any(line.startswith("Verdict: error (organisation: blocked); hosts: ") for line in lines)


def test_an_audit_says_what_is_wrong_and_no_change_section(report):
    report["mode"] = "audit"
    lines = summary_lines(report)
    assert lines[0] == "What is wrong:" and not any(line.startswith("What this run changed") for line in lines)


def test_a_probe_that_could_not_connect_is_unknown_never_not_offered(report):
    probe = report["hosts"]["EX01"]["probe"][-1]
    probe.update(connected=False, starttls_offered=False, thumbprint=None, error="Connection refused.")
    text = "\n".join(summary_lines(report))
    assert "unknown (the probe could not connect: Connection refused)" in text


def test_a_clean_fleet_says_nothing_is_wrong(report):
    for host in report["hosts"].values():
        host.update(status="compliant", message=None, findings=[], changes=[], restarts=[])
    report["organization"].update(status="compliant", message=None, findings=[], changes=[])
    report["mode"] = "audit"
    assert summary_lines(report)[:2] == ["What is wrong:", "  nothing: every host read is compliant"]


def test_run_problems_come_first(report):
    report["problems"] = ["connector_tls_scope selected no connector on any server ('x')"]
    assert summary_lines(report)[0] == "PROBLEM: connector_tls_scope selected no connector on any server ('x')"
