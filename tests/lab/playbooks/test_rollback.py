"""playbooks/rollback.yml against the demo lab: a real receive_connector_tls run undone from its changes.json."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import pytest

from tests.conftest import ROOT, SCENARIOS
from ..modules.test_exchange_command import BIN, command, play, state, state_connector

pytestmark = pytest.mark.ansible

R10 = "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
R11 = "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
FRONTEND = "Default Frontend EX01"


def rollback(lab, changes_file, *args: str, cwd: pathlib.Path = ROOT) -> tuple[int, str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    extra = [] if changes_file is None else ["-e", f"connector_tls_changes_file={changes_file}"]
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), str(ROOT / "playbooks" / "rollback.yml"), *extra, *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def changes_file(tmp_path: pathlib.Path, changes: list[dict], host: str = "EX01", name: str = "changes.json") -> pathlib.Path:
    path = tmp_path / name
    path.write_text(json.dumps({
        "schema": "exchange.transport_tls/changes/v1", "generated_at": "2026-11-27T12:00:00Z", "mode": "remediate",
        "check_mode": False, "complete": True,
        "changes": [dict(c, host=host, status="applied", message=None) for c in changes],
    }, indent=1))
    return path


def journal(lab) -> list:
    return [json.loads(line) for line in lab.journal_path.read_text().splitlines()] if lab.journal_path.exists() else []


def exchange_state(lab) -> dict:
    """The state as Exchange holds it: the lab's launch counters and clock are not Exchange state."""
    doc = state(lab)
    doc.pop("now", None)
    for server in doc["servers"]:
        server.pop("launches", None)
    return doc


def remediate(lab, tmp_path) -> list[dict]:
    rc, output, results = play(lab, tmp_path, [{"exchange.transport_tls.receive_connector_tls": {}}], hosts="EX01")
    assert rc == 0, output
    changes = results["EX01"]["r0"]["changes"]
    assert {(c["object_type"], c["property"]) for c in changes} == {("certificate", "Services"),
                                                                   ("receive_connector", "TlsCertificateName")}
    return changes


def test_rollback_restores_the_connector_and_then_refuses_a_second_time(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    changes = remediate(lab, tmp_path)
    assert state_connector(state(lab), "EX01", FRONTEND)["tls_certificate_name"] == R11
    path = changes_file(tmp_path, changes)

    # --check: the guards run, nothing changes.
    before = exchange_state(lab)
    rc, output = rollback(lab, path, "--check")
    assert rc == 0, output
    assert "1 value(s) would be restored" in output and "would restore: receive_connector EX01\\\\Default Frontend EX01" in output
    assert exchange_state(lab) == before

    # The real run: the connector names R10 again; SMTP on the renewal stays, and the run says so.
    rc, output = rollback(lab, path)
    assert rc == 0, output
    doc = state(lab)
    assert state_connector(doc, "EX01", FRONTEND)["tls_certificate_name"] == R10
    assert "1 value(s) restored." in output
    assert "skipped: certificate" in output and "SMTP stays enabled on certificate" in output
    assert "only adds services" in output
    assert "EX02" in output and "nothing to restore on this host" in output
    ex01 = next(s for s in doc["servers"] if s["name"] == "EX01")
    (services,) = [c for c in changes if c["property"] == "Services"]
    renewal = next(c for c in ex01["certificates"] if c.get("thumbprint") == services["object"])
    assert "SMTP" in renewal["services"]

    # Again: idempotent. The connector holds its value from before the run, so it is "already restored", not
    # "someone changed it"; the read is the only launch and nothing is written.
    before, launches = exchange_state(lab), len(journal(lab))
    rc, output = rollback(lab, path)
    assert rc == 0, output
    assert "1 value(s) already restored (the object holds its value from before the run)." in output
    assert f"already restored: receive_connector EX01\\\\Default Frontend EX01 TlsCertificateName is {R10}" in output
    assert exchange_state(lab) == before
    assert [[s["cmdlet"] for s in e["steps"]] for e in journal(lab)[launches:]] == [["Get-ReceiveConnector", "Get-ExchangeCertificate"]]


def test_rollback_restores_the_default_smtp_certificate(running_lab, tmp_path):
    """Enable-ExchangeCertificate -Force replaced EX01's default; the rollback makes the previous one the default again."""
    lab = running_lab(SCENARIOS / "demo.yml")
    ex01 = lab.org.server("EX01")
    own, renewal = ex01.internal_transport_certificate, ex01.certificate_by_id("le-r11").thumbprint
    rc, output, _results = play(lab, tmp_path, [command(
        {"cmdlet": "Enable-ExchangeCertificate",
         "parameters": {"Server": "EX01", "Thumbprint": renewal, "Services": "SMTP", "Force": True}})], hosts="EX01")
    assert rc == 0, output
    assert lab.org.server("EX01").internal_transport_certificate == renewal
    path = changes_file(tmp_path, [
        {"server": "EX01", "object_type": "certificate", "object": renewal, "property": "Services",
         "before": ["IIS"], "after": ["IIS", "SMTP"]},
        {"server": "EX01", "object_type": "transport_service", "object": "EX01",
         "property": "InternalTransportCertificateThumbprint", "before": own, "after": renewal},
    ])
    rc, output = rollback(lab, path, "-e", "connector_tls_target=EX01")
    assert rc == 0, output
    assert lab.org.server("EX01").internal_transport_certificate == own
    assert "restored: transport_service EX01 InternalTransportCertificateThumbprint" in output
    assert "EX02" not in output           # narrowed to EX01


def test_a_rollback_that_finds_another_value_names_it(running_lab, tmp_path):
    """Someone renamed the connector after the run: the rollback stops before any write, naming the live value."""
    lab = running_lab(SCENARIOS / "demo.yml")
    changes = remediate(lab, tmp_path)
    other = "<I>CN=EX01<S>CN=EX01"
    rc, output, _results = play(lab, tmp_path, [command(
        {"cmdlet": "Set-ReceiveConnector", "parameters": {"Identity": f"EX01\\{FRONTEND}", "TlsCertificateName": other}})],
        hosts="EX01")
    assert rc == 0, output
    before = exchange_state(lab)
    rc, output = rollback(lab, changes_file(tmp_path, changes), "--check")
    assert rc != 0 and f"TlsCertificateName is '{other}', not '{R11}' as the run left it" in output
    rc, output = rollback(lab, changes_file(tmp_path, changes))
    assert rc != 0 and f"TlsCertificateName is '{other}', not '{R11}' as the run left it" in output
    assert exchange_state(lab) == before


def test_relative_paths_are_relative_to_the_working_directory(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    changes_file(tmp_path, [], name="empty.json")
    rc, output = rollback(lab, "empty.json", cwd=tmp_path)
    assert rc == 0, output
    assert "nothing to restore on this host" in output
    assert state(lab)["servers"][0]["launches"] == 0


@pytest.mark.parametrize("content, words", [
    (None, "connector_tls_run (not set) cannot be used: no run under "),
    ("missing", "File not found"),
    ("{not json", "cannot be used:"),
    (json.dumps({"schema": "exchange.transport_tls/report/v1", "hosts": {}}),
     "cannot be used: the changes file's schema is 'exchange.transport_tls/report/v1'"),
    (json.dumps({"schema": "exchange.transport_tls/changes/v1", "changes": [{"host": "EX01"}]}),
     "cannot be used: the changes file is not valid: changes[0] lacks server, object_type"),
])
def test_refuses_a_missing_or_wrong_changes_file(running_lab, tmp_path, content, words):
    lab = running_lab(SCENARIOS / "demo.yml")
    path = None
    if content is not None:
        path = tmp_path / "changes.json"
        if content != "missing":
            path.write_text(content)
    rc, output = rollback(lab, path)
    assert rc != 0
    assert words in output, output
    assert all(s["launches"] == 0 for s in state(lab)["servers"])


def test_warns_about_an_incomplete_file(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    path = tmp_path / "changes.json"
    path.write_text(json.dumps({"schema": "exchange.transport_tls/changes/v1", "complete": False, "changes": []}))
    rc, output = rollback(lab, path)
    assert rc == 0, output
    assert "is not complete" in output
