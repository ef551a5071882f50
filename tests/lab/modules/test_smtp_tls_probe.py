"""smtp_tls_probe through ansible-playbook against the lab, as the role runs it.

Each task probes its own server's SMTP listener from the controller
(delegate_to: localhost, the inventory's exchange_smtp_host/port), and the
answers must be what the scenario says Exchange presents.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.conftest import ROOT, SCENARIOS, starttls
from .test_exchange_command import BIN, play

pytestmark = pytest.mark.ansible

MODULE = "exchange.transport_tls.smtp_tls_probe"


def probe_task(**options) -> dict:
    args = {"host": "{{ exchange_smtp_host }}", "port": "{{ exchange_smtp_port }}", "helo_name": "ansible.contoso.com", **options}
    return {MODULE: args, "delegate_to": "localhost"}


@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
def test_the_demo_fleet_as_a_sender_sees_it(running_lab, tmp_path, check):
    lab = running_lab(SCENARIOS / "demo.yml")
    before = lab.state_path.read_text()
    rc, output, results = play(lab, tmp_path, [probe_task()], args=("--check",) if check else ())
    assert rc == 0, output
    assert set(results) == {"EX01", "EX02", "EDGE01"}
    r = {name: results[name]["r0"] for name in results}
    assert all(not x.get("failed") and x["changed"] is False and x["connected"] for x in r.values()), output

    # EX01's connector names the removed R10 certificate, EDGE01's the pre-2022 subject: no STARTTLS.
    for name in ("EX01", "EDGE01"):
        assert r[name]["starttls_offered"] is False and r[name]["thumbprint"] is None, name
        assert starttls("127.0.0.1", lab.smtp[name].port).offered is False
    assert r["EDGE01"]["banner"].startswith("220 smtp.contoso.com Microsoft ESMTP MAIL Service ready at ")

    # EX02 presents the R11 renewal.
    cert = lab.org.server("EX02").certificate_by_id("le-r11")
    ex02 = r["EX02"]
    assert ex02["tls_established"] and ex02["error"] is None
    assert ex02["thumbprint"] == cert.thumbprint == starttls("127.0.0.1", lab.smtp["EX02"].port).thumbprint
    assert (ex02["subject"], ex02["issuer"]) == ("CN=mail.contoso.com", "CN=R11, O=Let's Encrypt, C=US")
    assert ex02["domains"] == ["mail.contoso.com", "autodiscover.contoso.com"]
    assert ex02["port"] == lab.smtp["EX02"].port and ex02["attempts"] == 1 and ex02["matched"] is None
    assert lab.state_path.read_text() == before  # a probe is no launch and no change


def test_expect_thumbprint_as_pasted_from_windows(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    thumb = lab.org.server("EX02").certificate_by_id("le-r11").thumbprint
    pasted = "\u200e" + " ".join(thumb[i:i + 2].lower() for i in range(0, 40, 2))
    rc, output, results = play(lab, tmp_path, [probe_task(expect_thumbprint=pasted, wait_timeout=1, delay=0.2)],
                               hosts="EX01,EX02")
    assert rc == 0, output
    assert results["EX02"]["r0"]["matched"] is True and results["EX02"]["r0"]["attempts"] == 1
    # EX01 never presents it: re-probed until wait_timeout, then reported, not failed.
    ex01 = results["EX01"]["r0"]
    assert not ex01.get("failed") and ex01["matched"] is False
    assert ex01["attempts"] >= 3 and ex01["elapsed"] >= 1


def test_a_handshake_failure_is_a_result_not_a_failed_task(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "smtp-not-enabled.yml")
    rc, output, results = play(lab, tmp_path, [probe_task()])
    r = results["EX01"]["r0"]
    assert rc == 0 and not r.get("failed"), output
    assert r["starttls_offered"] is True and r["tls_established"] is False
    assert r["error"].startswith("TLS handshake failed: ") and r["thumbprint"] is None


def test_failures_name_the_port_or_the_option(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    rc, output, results = play(
        lab, tmp_path,
        [probe_task(port=1), probe_task(port=70000), probe_task(helo_name="not a name"),
         probe_task(expect_thumbprint="12345")],
        hosts="EX01",
    )
    refused, port, helo, thumb = (results["EX01"][f"r{i}"] for i in range(4))
    assert refused["failed"] and refused["msg"].startswith("Cannot connect to 127.0.0.1:1: ") and "firewall" in refused["msg"]
    assert refused["connected"] is False and refused["starttls_offered"] is False
    assert port["failed"] and port["msg"] == "port must be between 1 and 65535, not 70000"
    assert helo["failed"] and helo["msg"].startswith("helo_name 'not a name' is not a host name")
    assert thumb["failed"] and thumb["msg"].startswith("expect_thumbprint must be a certificate thumbprint")


def test_ansible_doc_renders_the_probe():
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(BIN / "ansible-doc"), MODULE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout).split())
    assert f"MODULE {MODULE}" in text
    assert all(f"- {option}" in text or f" {option} " in text
               for option in ("host", "port", "timeout", "helo_name", "expect_thumbprint", "wait_timeout", "delay"))
    assert all(key in text for key in ("starttls_offered", "tls_established", "thumbprint", "not_after", "matched", "attempts"))
    assert "delegate_to: localhost" in text
