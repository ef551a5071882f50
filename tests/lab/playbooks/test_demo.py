"""`make demo` (tools/demo.py): audit, remediation, audit again on the demo lab, and a summary a newcomer can read."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.ansible


def test_the_demo_finds_drift_fixes_it_and_audits_clean(tmp_path):
    env = dict(os.environ, DEMO_OUTPUT=str(tmp_path), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([sys.executable, str(ROOT / "tools/demo.py")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    # What the role itself prints at the end of each run (plugins/plugin_utils/_report/report_text.py); the demo adds nothing.
    first, remediation, second = (output[output.index(f"== {title}"):] for title in (
        "1. Audit: what is wrong", "2. Remediate: fix it with guarded writes", "3. Audit again: is it clean?"))
    remediation = remediation[:remediation.index("== 3. Audit again")]
    first = first[:first.index("== 2. Remediate")]
    assert "What is wrong:" in first and "EX01\\\\Default Frontend EX01: no certificate in the server's store matches" in first
    assert "What this run changed (guarded writes, read back; changes.json):" in remediation
    assert "enabled SMTP on certificate" in remediation and "(the default SMTP certificate was kept)" in remediation
    assert "now <I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com" in remediation
    # STARTTLS as the probe saw it before and after the change, in the remediation's own record; the thumbprint is the lab's.
    fixed = json.loads((tmp_path / "remediate/latest/report.json").read_text())
    ex01 = fixed["hosts"]["EX01"]["probe"][-1]["thumbprint"]
    assert [p["phase"] for p in fixed["hosts"]["EX01"]["probe"]] == ["before", "after"]
    assert f"EX01: before: NOT offered; after: offered, certificate {ex01}" in remediation
    assert "Verdict: compliant" in second
    for step in ("audit-before", "remediate", "audit-after"):
        assert {p.name for p in (tmp_path / step / "latest").iterdir()} >= {"report.json", "junit.xml", "report.html", "changes.json"}
        assert f"{step}/latest/ (exit status" in output
    assert "Lab stopped" in output
