"""`make demo` (tools/demo.py): audit, remediation, audit again on the demo lab, and a summary a newcomer can read."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ..conftest import ROOT

pytestmark = pytest.mark.ansible


def test_the_demo_finds_drift_fixes_it_and_audits_clean(tmp_path):
    env = dict(os.environ, DEMO_OUTPUT=str(tmp_path), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([sys.executable, str(ROOT / "tools/demo.py")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    summary = output[output.index("== Summary"):]
    assert "Verdict: first audit drift, remediation remediated, second audit compliant." in summary
    assert "EX01\\Default Frontend EX01: no certificate in the server's store matches" in summary
    assert "enabled SMTP on certificate" in summary and "(the default SMTP certificate was kept)" in summary
    assert "now <I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com" in summary
    # STARTTLS as the probe saw it, before and after, and the thumbprints are the lab's own.
    after = json.loads((tmp_path / "audit-after/latest/report.json").read_text())
    ex01 = after["hosts"]["EX01"]["probe"][-1]["thumbprint"]
    assert f"EX01: before: NOT offered; after: offered, certificate {ex01}" in summary
    for step in ("audit-before", "remediate", "audit-after"):
        assert {p.name for p in (tmp_path / step / "latest").iterdir()} >= {"report.json", "junit.xml", "report.html", "changes.json"}
    assert "Lab stopped" in summary
