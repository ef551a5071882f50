"""An unreachable host gets advice as good as a wrong password's (issue 19 item 9): in report.json, report.html,
junit.xml and the role's end-of-run text, not urllib3's "Max retries exceeded" alone."""

from __future__ import annotations

import pytest

from tests.conftest import SCENARIOS
from .test_audit_and_remediate import run

pytestmark = pytest.mark.ansible
HINT = "Nothing accepted the connection on this host's WinRM port: check ansible_host and ansible_port"


def test_a_closed_winrm_port_says_what_to_check_in_every_report(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    # EX02's WinRM port closed: port 9 (discard) is not served on this machine.
    lines = []
    for line in lab.inventory_path.read_text().splitlines():
        if line.startswith("EX02 "):
            line = " ".join(w if not w.startswith("ansible_port=") else "ansible_port=9" for w in line.split(" "))
        lines.append(line)
    lab.inventory_path.write_text("\n".join(lines) + "\n")
    rc, output, report, _changes = run(lab, tmp_path / "out", "audit")
    assert rc != 0, output
    host = report["hosts"]["EX02"]
    assert host["status"] == "unreachable" and HINT in host["message"], host["message"]
    assert "firewall" in host["message"] and "winrm enumerate winrm/config/listener" in host["message"]
    latest = tmp_path / "out" / "latest"
    assert HINT in (latest / "junit.xml").read_text()
    assert "Nothing accepted the connection on this host&#x27;s WinRM port" in (latest / "report.html").read_text()
    # The end-of-run text (the debug task prints it as JSON strings).
    assert "EX02: unreachable: " in output and HINT in output.replace("\\'", "'")
    # The other hosts were still read and reported.
    assert report["hosts"]["EX01"]["status"] != "unreachable"
