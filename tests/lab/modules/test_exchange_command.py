"""The lab driven as users drive it: ansible-playbook over the real winrm connection, and pywinrm.

Runs with the ansible-core of the venv running pytest, so `make test` covers
2.21 (.venv) and 2.19 (.venv-2.19).
"""

from __future__ import annotations

import json
import os
import re
import pathlib
import signal
import subprocess
import sys
import time

import pytest
import winrm
import yaml

from exchange_lab.scenario import load_scenario

from tests.conftest import ROOT, SCENARIOS, StartTls, scenario_variant, starttls

BIN = pathlib.Path(sys.executable).parent
pytestmark = pytest.mark.ansible


def play(lab, tmp_path: pathlib.Path, tasks: list[dict], *, hosts: str = "exchange", args: tuple = ()) -> tuple[int, str, dict]:
    """Run a playbook of `tasks` against the lab; each task's registered result is saved as JSON per host."""
    out = tmp_path / "results"
    out.mkdir(exist_ok=True)
    body = []
    for i, task in enumerate(tasks):
        body.append({**task, "register": f"r{i}", "ignore_errors": True})
    body.append(
        {
            "name": "save results",
            "ansible.builtin.copy": {
                "content": "{{ {" + ", ".join(f"'r{i}': r{i}" for i in range(len(tasks))) + "} | to_json }}",
                "dest": f"{out}/{{{{ inventory_hostname }}}}.json",
                "mode": "0600",
            },
            "delegate_to": "localhost",
            "check_mode": False,
        }
    )
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": hosts, "gather_facts": False, "tasks": body}]))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), str(playbook), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    return proc.returncode, proc.stdout + proc.stderr, results


def command(*steps: dict, **options) -> dict:
    return {"exchange.transport_tls.exchange_command": {"steps": list(steps), **options}}


def state(lab) -> dict:
    return load_scenario(lab.state_path)


def state_connector(doc: dict, server: str, name: str) -> dict:
    srv = next(s for s in doc["servers"] if s["name"] == server)
    return next(rc for rc in srv["receive_connectors"] if rc["name"] == name)


def test_reads_the_demo_scenarios_certificates_and_connectors(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    rc, output, results = play(
        lab,
        tmp_path,
        [
            command(
                {"cmdlet": "Get-ExchangeCertificate", "properties": ["Thumbprint", "Subject", "Issuer", "Services", "NotAfter"]},
                {"cmdlet": "Get-ReceiveConnector", "parameters": {"Server": "{{ inventory_hostname }}"}, "properties": ["Identity", "TlsCertificateName", "Bindings"]},
            )
        ],
    )
    assert rc == 0, output
    assert set(results) == {"EX01", "EX02", "EDGE01"}
    ex01 = results["EX01"]["r0"]
    assert ex01["session"] == "remote" and results["EDGE01"]["r0"]["session"] == "snapin"
    certs = {c["Thumbprint"]: c for c in ex01["steps"][0]["objects"]}
    server = lab.org.server("EX01")
    # The removed R10 certificate is not in the store; the renewal is, with IIS only.
    assert set(certs) == {c.thumbprint for c in server.certificates if c.in_store}
    r11 = certs[server.certificate_by_id("le-r11").thumbprint]
    assert r11 == {
        "Thumbprint": r11["Thumbprint"],
        "Subject": "CN=mail.contoso.com",
        "Issuer": "CN=R11, O=Let's Encrypt, C=US",
        "Services": "IIS",
        "NotAfter": "2027-01-17T00:00:00Z",
    }
    connectors = {c["Identity"]: c for c in ex01["steps"][1]["objects"]}
    assert connectors["EX01\\Default Frontend EX01"]["TlsCertificateName"] == "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
    assert connectors["EX01\\Default Frontend EX01"]["Bindings"] == ["0.0.0.0:25", "[::]:25"]
    assert connectors["EX01\\Default EX01"]["TlsCertificateName"] is None
    assert state(lab)["servers"][0]["launches"] == 1


def guarded_set(identity: str, expected, new) -> dict:
    return command(
        {"cmdlet": "Get-ReceiveConnector", "parameters": {"Identity": identity}, "properties": ["TlsCertificateName"], "guard": {"TlsCertificateName": expected}},
        {"cmdlet": "Set-ReceiveConnector", "parameters": {"Identity": identity, "TlsCertificateName": new}},
    )


R10 = "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
R11 = "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"


def test_a_guarded_set_succeeds_and_shows_in_the_state_file(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    rc, output, results = play(lab, tmp_path, [guarded_set("EX01\\Default Frontend EX01", R10, R11)], hosts="EX01")
    assert rc == 0, output
    assert results["EX01"]["r0"]["changed"] is True and results["EX01"]["r0"]["stop"] is None
    doc = state(lab)
    assert state_connector(doc, "EX01", "Default Frontend EX01")["tls_certificate_name"] == R11
    assert doc["servers"][0]["writes"] == 1


def test_a_guarded_set_whose_guard_fails_changes_nothing(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    before = lab.state_path.read_text()
    rc, output, results = play(lab, tmp_path, [guarded_set("EX01\\Default Frontend EX01", R11, R11)], hosts="EX01")
    r = results["EX01"]["r0"]
    assert r["failed"] is True and r["changed"] is False
    assert r["stop"]["reason"] == "guard" and r["stop"]["mismatches"][0]["actual"] == R10
    assert "TlsCertificateName is '" + R10 + "' but '" + R11 + "' was expected" in r["msg"]
    doc = state(lab)
    assert state_connector(doc, "EX01", "Default Frontend EX01")["tls_certificate_name"] == R10
    assert doc["servers"][0]["writes"] == 0
    assert _without_counters(lab.state_path.read_text()) == _without_counters(before)


def _without_counters(text: str) -> dict:
    doc = yaml.safe_load(text)
    doc.pop("now", None)
    for s in doc["servers"]:
        s.pop("launches", None)
    return doc


def test_check_mode_refuses_a_set_and_runs_nothing(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    rc, output, results = play(lab, tmp_path, [guarded_set("EX01\\Default Frontend EX01", R10, R11)], hosts="EX01", args=("--check",))
    r = results["EX01"]["r0"]
    assert r["failed"] is True and "check mode: Set-ReceiveConnector would change the server" in r["msg"]
    doc = state(lab)
    assert state_connector(doc, "EX01", "Default Frontend EX01")["tls_certificate_name"] == R10
    assert doc["servers"][0]["launches"] == 0


def test_a_cmdlet_outside_the_allow_list_is_refused(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    rc, output, results = play(
        lab, tmp_path, [command({"cmdlet": "New-ExchangeCertificate", "parameters": {"Thumbprint": "00"}})], hosts="EX01"
    )
    r = results["EX01"]["r0"]
    assert r["failed"] is True and "cmdlet 'New-ExchangeCertificate' is not allowed" in r["msg"]
    assert state(lab)["servers"][0]["launches"] == 0


def test_a_raw_command_gets_the_error_of_a_host_without_it(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    rc, output, results = play(lab, tmp_path, [{"ansible.builtin.raw": "Get-Mailbox"}], hosts="EX01")
    r = results["EX01"]["r0"]
    assert r["rc"] == 1 and "The term 'Get-Mailbox' is not recognized" in r["stderr"]


def test_a_transport_fault_on_one_host_leaves_the_others_working(running_lab, tmp_path):
    lab = running_lab(scenario_variant(tmp_path, "demo.yml", faults={"EX02": [{"kind": "http_500"}]}))
    rc, output, results = play(lab, tmp_path, [command({"cmdlet": "Get-ExchangeServer", "properties": ["Name"]})])
    assert results["EX01"]["r0"]["steps"][0]["objects"]
    assert results["EDGE01"]["r0"]["steps"][0]["objects"] == [{"Name": "EDGE01"}]
    assert results["EX02"]["r0"].get("failed") or results["EX02"]["r0"].get("unreachable"), results["EX02"]
    assert "500" in json.dumps(results["EX02"]["r0"])


def test_pywinrm_run_ps_gets_a_powershell_style_error(running_lab):
    lab = running_lab(SCENARIOS / "demo.yml")
    session = winrm.Session(f"http://127.0.0.1:{lab.winrm['EX01'].port}/wsman", auth=(lab.username, lab.password), transport="basic")
    result = session.run_ps("Get-ExchangeCertificate")
    assert result.status_code == 1
    assert b"The term 'Get-ExchangeCertificate' is not recognized as the name of a cmdlet" in result.std_err


def test_the_cli_serves_writes_inventory_and_state_and_stops_on_sigterm(tmp_path):
    inventory, state_file = tmp_path / "inventory.ini", tmp_path / "state.yml"
    proc = subprocess.Popen(
        [str(BIN / "exchange-lab"), "serve", str(SCENARIOS / "demo.yml"), "--inventory", str(inventory), "--state", str(state_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not inventory.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        text = inventory.read_text()
        assert "[exchange:children]" in text and "mailbox" in text and "edge" in text
        assert "EX01 ansible_host=127.0.0.1" in text and "exchange_smtp_port=" in text
        assert oct(inventory.stat().st_mode & 0o777) == "0o600"
        doc = load_scenario(state_file)
        assert all(c.get("thumbprint") for s in doc["servers"] for c in s["certificates"])
        assert state_connector(doc, "EX01", "Default Frontend EX01")["tls_certificate_name"] == R10
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "exchange-lab: stopped" in out


def test_the_cli_check_names_file_line_and_key(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text((SCENARIOS / "demo.yml").read_text().replace("role: Edge", "role: Edgy"))
    ok = subprocess.run([str(BIN / "exchange-lab"), "check", str(SCENARIOS / "demo.yml")], capture_output=True, text=True)
    assert ok.returncode == 0 and "ok (3 servers" in ok.stdout
    proc = subprocess.run([str(BIN / "exchange-lab"), "check", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 1
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1) if "role: Edgy" in t)
    assert f"bad.yml:{line}:" in proc.stderr and "role" in proc.stderr and "Edgy" in proc.stderr


def test_ad_hoc_ansible_resolves_the_checkout_as_the_collection(running_lab):
    lab = running_lab(SCENARIOS / "demo.yml")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    args = json.dumps({"steps": [{"cmdlet": "Get-TransportService", "properties": ["Name", "InternalTransportCertificateThumbprint"]}]})
    proc = subprocess.run(
        [str(BIN / "ansible"), "EDGE01", "-i", str(lab.inventory_path), "-m", "exchange.transport_tls.exchange_command", "-a", args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    selfsigned = lab.org.server("EDGE01").certificate_by_id("selfsigned").thumbprint
    assert f'"InternalTransportCertificateThumbprint": "{selfsigned}"' in proc.stdout


def test_ansible_doc_renders_the_payloads_documentation():
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [str(BIN / "ansible-doc"), "exchange.transport_tls.exchange_command"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    # ansible-doc colours the module name even with ANSIBLE_NOCOLOR on some versions.
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout).split())
    assert "MODULE exchange.transport_tls.exchange_command" in text
    assert "The one PowerShell payload of this collection." in text
    assert all(f"- {option}" in text for option in ("steps", "guard", "session", "connection_uri", "domain_controller"))


def test_the_show_playbook_prints_certificates_and_connectors_and_is_safe_under_check(running_lab):
    lab = running_lab(SCENARIOS / "demo.yml")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    for extra in ([], ["--check"]):
        proc = subprocess.run(
            [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), "playbooks/show_tls.yml", *extra],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "TlsCertificateName <I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com" in proc.stdout
        assert "subject CN=smtp.contoso.com, O=Contoso Ltd, L=Redmond, S=Washington, C=US" in proc.stdout
    assert all(s["writes"] == 0 for s in state(lab)["servers"])


def test_another_module_gets_the_error_of_a_host_without_it(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    library = tmp_path / "library"
    library.mkdir()
    (library / "win_whoami.ps1").write_text("#!powershell\n#AnsibleRequires -CSharpUtil Ansible.Basic\n$m = [Ansible.Basic.AnsibleModule]::Create($args, @{})\n$m.ExitJson()\n")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_LIBRARY=str(library), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [str(BIN / "ansible"), "EX01", "-i", str(lab.inventory_path), "-m", "win_whoami"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0
    assert "The term 'win_whoami' is not recognized" in proc.stdout + proc.stderr
    assert state(lab)["servers"][0]["launches"] == 0


def test_the_session_password_never_shows_at_vvvv_nor_in_the_labs_files(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    secret = "Pa55-w0rd-that-must-not-leak"
    task = command(
        {"cmdlet": "Get-ExchangeServer", "properties": ["Name"]},
        username="CONTOSO\\svc-exchange",
        password=secret,
    )
    rc, output, results = play(lab, tmp_path, [task], hosts="EX01", args=("-vvvv",))
    r = results["EX01"]["r0"]
    assert r["steps"][0]["objects"] == [{"Name": "EX01"}, {"Name": "EX02"}, {"Name": "EDGE01"}]
    # 2.21 keeps the module's invocation in the registered result; 2.19 prints it only at -vvv and up.
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in output + json.dumps(results)
    assert "ESTABLISH WINRM CONNECTION" in output, "the run was verbose"
    for where, text in (("ansible output", output), ("results", json.dumps(results)),
                        ("journal", lab.journal_path.read_text()), ("state", lab.state_path.read_text())):
        assert secret not in text, where


def test_the_kb_fix_as_raw_steps_brings_starttls_back_and_keeps_the_default_certificate(running_lab, tmp_path):
    """The lab supports the whole repair: SMTP enabled on the renewal without losing the default, then the name."""
    lab = running_lab(SCENARIOS / "demo.yml")
    server = lab.org.server("EX01")
    selfsigned, r11 = server.certificate_by_id("selfsigned").thumbprint, server.certificate_by_id("le-r11").thumbprint
    assert starttls("127.0.0.1", lab.smtp["EX01"].port).offered is False
    identity = "EX01\\Default Frontend EX01"
    task = command(
        {"cmdlet": "Get-TransportService", "parameters": {"Identity": "EX01"}, "properties": ["InternalTransportCertificateThumbprint"],
         "guard": {"InternalTransportCertificateThumbprint": selfsigned}},
        {"cmdlet": "Enable-ExchangeCertificate", "parameters": {"Thumbprint": r11, "Services": "SMTP", "Force": True}},
        {"cmdlet": "Enable-ExchangeCertificate", "parameters": {"Thumbprint": selfsigned, "Services": "SMTP", "Force": True}},
        {"cmdlet": "Get-ReceiveConnector", "parameters": {"Identity": identity}, "properties": ["TlsCertificateName"], "guard": {"TlsCertificateName": R10}},
        {"cmdlet": "Set-ReceiveConnector", "parameters": {"Identity": identity, "TlsCertificateName": R11}},
        {"cmdlet": "Get-TransportService", "parameters": {"Identity": "EX01"}, "properties": ["InternalTransportCertificateThumbprint"]},
    )
    rc, output, results = play(lab, tmp_path, [task], hosts="EX01")
    r = results["EX01"]["r0"]
    assert rc == 0 and r["changed"] and r["stop"] is None, output
    assert r["steps"][5]["objects"] == [{"InternalTransportCertificateThumbprint": selfsigned}]
    assert starttls("127.0.0.1", lab.smtp["EX01"].port) == StartTls(True, r11)
    doc = state(lab)
    ex01 = doc["servers"][0]
    assert ex01["internal_transport_certificate"] == "selfsigned" and ex01["launches"] == 1
    assert next(c for c in ex01["certificates"] if c["id"] == "le-r11")["services"] == ["IIS", "SMTP"]
    assert state_connector(doc, "EX01", "Default Frontend EX01")["tls_certificate_name"] == R11


def test_a_timeout_fault_fails_only_its_host_within_the_read_timeout(running_lab, tmp_path):
    lab = running_lab(scenario_variant(tmp_path, "demo.yml", faults={"EX02": [{"kind": "timeout"}]}), winrm_read_timeout=6)
    assert "ansible_winrm_read_timeout_sec=6" in lab.inventory_path.read_text()
    start = time.monotonic()
    rc, output, results = play(lab, tmp_path, [command({"cmdlet": "Get-ExchangeServer", "properties": ["Name"]})])
    assert time.monotonic() - start < 30, "the read timeout from the inventory bounds the wait"
    assert results["EX01"]["r0"]["steps"][0]["objects"] and results["EDGE01"]["r0"]["steps"][0]["objects"]
    # An unreachable host leaves the play, so its verdict is in the output, not in a saved result.
    assert "EX02" not in results
    verdict = next(line for line in output.splitlines() if line.startswith("fatal: [EX02]"))
    assert "UNREACHABLE!" in verdict and "timed out" in verdict.lower(), verdict
    assert rc != 0


def test_the_journal_records_each_cmdlets_parameters_exactly(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    value = "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
    play(lab, tmp_path, [guarded_set("EX01\\Default Frontend EX01", R10, value)], hosts="EX01")
    entries = [json.loads(line) for line in lab.journal_path.read_text().splitlines()]
    (launch,) = [e for e in entries if e.get("server") == "EX01"]
    assert launch["steps"][1] == {"cmdlet": "Set-ReceiveConnector", "parameters": {"Identity": "EX01\\Default Frontend EX01", "TlsCertificateName": value}}
    assert launch["check_mode"] is False and launch["failed"] is False


def test_the_cli_listens_on_loopback_only(tmp_path):
    proc = subprocess.run(
        [str(BIN / "exchange-lab"), "serve", str(SCENARIOS / "demo.yml"), "--inventory", str(tmp_path / "i.ini"), "--host", "10.0.0.1"],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 2 and "loopback" in proc.stderr and not (tmp_path / "i.ini").exists()
