"""playbooks/rollout.yml against the lab: a mixed fleet where no server holds the renewed certificate.

tests/lab/fixtures/rollout.yml: four Mailbox servers and an Edge, a send connector to Microsoft 365 on three source
servers, a hybrid configuration, every connector naming the superseded Let's Encrypt R10 certificate. What is
checked is what an administrator checks: the lab's state (every store, every name, every default SMTP
certificate) and what a TLS client is shown on each server's port 25.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

from exchange_lab import pfx
from exchange_lab.pki import Minter
from exchange_lab.scenario import load_scenario

from tests.conftest import ROOT, starttls

BIN = pathlib.Path(sys.executable).parent
FIXTURE = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "rollout.yml"
PASSWORD = "Pfx-Secret-4711"
R10 = "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
R11 = "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
SERVERS = ("EX01", "EX02", "EX03", "EX04", "EDGE01")
UTC = dt.timezone.utc

pytestmark = pytest.mark.ansible


def renewal(**changes):
    fields = dict(subject="CN=mail.contoso.com", issuer="CN=R11, O=Let's Encrypt, C=US", self_signed=False,
                  domains=["mail.contoso.com"], not_before=dt.datetime(2026, 11, 20, tzinfo=UTC),
                  not_after=dt.datetime(2027, 2, 18, tzinfo=UTC))
    fields.update(changes)
    return Minter().mint(**fields)


def write_pfx(tmp_path, minted, password=PASSWORD, with_key=True) -> pathlib.Path:
    path = tmp_path / "candidate.pfx"
    path.write_bytes(pfx.build_pfx(minted, password, with_key=with_key))
    # The lab's CA stands in for Let's Encrypt's root: the impact analysis is told to trust it, as a user would
    # be trusting their public root.
    (tmp_path / "roots.pem").write_bytes(minted.chain_pem[len(minted.cert_pem):])
    return path


def rollout(lab, candidate: pathlib.Path, *args: str, password: str = PASSWORD) -> tuple[int, str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), "exchange.transport_tls.rollout",
         "-e", f"connector_tls_candidate={candidate}", "-e", f"connector_tls_candidate_password={password}",
         "-e", f"connector_tls_candidate_trust={candidate.parent / 'roots.pem'}",
         "-e", "connector_tls_probe_wait=5", "-e", f"connector_tls_report_dir={lab.state_path.parent / 'reports'}", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    return proc.returncode, proc.stdout + proc.stderr


def state(lab) -> dict:
    return load_scenario(lab.state_path)


def server(doc: dict, name: str) -> dict:
    return next(s for s in doc["servers"] if s["name"] == name)


def thumbprints(doc: dict, name: str) -> set[str]:
    return {c["thumbprint"] for c in server(doc, name)["certificates"] if c["in_store"]}


def certificate(doc: dict, name: str, thumbprint: str) -> dict:
    return next(c for c in server(doc, name)["certificates"] if c["thumbprint"] == thumbprint)


def names(doc: dict) -> dict:
    found = {f"{s['name']}\\{rc['name']}": rc["tls_certificate_name"] for s in doc["servers"] for rc in s["receive_connectors"]}
    found.update({sc["name"]: sc["tls_certificate_name"] for sc in doc["send_connectors"]})
    found["hybrid"] = doc["hybrid_configuration"]["tls_certificate_name"]
    return found


def record(lab) -> dict:
    return json.loads((lab.state_path.parent / "reports" / "latest" / "changes.json").read_text())


def presented(lab, name: str) -> str:
    return starttls(lab.host, lab.smtp[name].port).thumbprint


def test_check_mode_shows_the_plan_and_writes_nothing(running_lab, tmp_path):
    lab = running_lab(FIXTURE)
    original, new = state(lab), renewal()
    rc, output = rollout(lab, write_pfx(tmp_path, new), "--check", "-e", "connector_tls_retire_old=true")
    assert rc == 0, output
    doc = state(lab)
    assert all(server(doc, n)["writes"] == 0 for n in SERVERS)
    assert names(doc) == names(original) and all(new.thumbprint not in thumbprints(doc, n) for n in SERVERS)
    # The plan: the import, every stale name, and the removal with its warning.
    assert output.count(f"imported {new.thumbprint}") == len(SERVERS)
    assert "EX03\\\\Default Frontend EX03" in output and "Outbound to Office 365" in output
    assert "removal cannot be undone" in output
    assert PASSWORD not in output


def test_the_fleet_ends_with_the_renewal_everywhere_the_old_one_kept_and_a_second_run_changes_nothing(running_lab, tmp_path):
    lab = running_lab(FIXTURE)
    new = renewal()
    candidate = write_pfx(tmp_path, new)
    original = state(lab)
    rc, output = rollout(lab, candidate)
    assert rc == 0, output
    assert PASSWORD not in output
    doc = state(lab)
    for name in SERVERS:
        assert new.thumbprint in thumbprints(doc, name), name
        imported = certificate(doc, name, new.thumbprint)
        assert "SMTP" in imported["services"] and imported["has_private_key"] and not imported["exportable"]
        # Each default SMTP certificate is the one it was.
        assert server(doc, name)["internal_transport_certificate"] == server(original, name)["internal_transport_certificate"]
        # Without connector_tls_retire_old the superseded certificate stays.
        assert thumbprints(original, name) <= thumbprints(doc, name)
        assert presented(lab, name) == new.thumbprint
    assert set(names(doc).values()) == {R11}
    writes = {n: server(doc, n)["writes"] for n in SERVERS}
    rc, output = rollout(lab, candidate)
    assert rc == 0, output
    again = state(lab)
    assert {n: server(again, n)["writes"] for n in SERVERS} == writes
    assert names(again) == names(doc)


def test_retire_removes_the_old_certificate_exactly_where_allowed(running_lab, tmp_path):
    lab = running_lab(FIXTURE)
    new = renewal()
    original = state(lab)
    rc, output = rollout(lab, write_pfx(tmp_path, new), "-e", "connector_tls_retire_old=true")
    assert rc == 0, output
    doc = state(lab)
    for name in SERVERS:
        old = next(c["thumbprint"] for c in server(original, name)["certificates"] if c["id"] == "le-r10")
        assert old not in thumbprints(doc, name), name
        # The internal transport and the Auth certificate share nothing with the renewal and stay.
        assert server(doc, name)["internal_transport_certificate"] == server(original, name)["internal_transport_certificate"]
        assert presented(lab, name) == new.thumbprint
    assert doc["auth_certificate"] == original["auth_certificate"]
    assert "cannot be undone" in output
    # The record has every kind of change, and each removal says it cannot be undone.
    changes = record(lab)["changes"]
    kinds = {(c["object_type"], c["after"] if c["object_type"] == "certificate_store" else None) for c in changes}
    assert {("certificate_store", "present"), ("certificate_store", "absent"), ("receive_connector", None),
            ("send_connector", None), ("hybrid_configuration", None), ("certificate", None)} <= kinds
    removals = [c for c in changes if c["object_type"] == "certificate_store" and c["after"] == "absent"]
    assert len(removals) == len(SERVERS) and all("cannot be undone" in c["message"] for c in removals)
    assert all(c["status"] == "applied" for c in changes)


def test_a_wrong_password_changes_nothing_and_never_shows_either_password(running_lab, tmp_path):
    lab = running_lab(FIXTURE)
    candidate = write_pfx(tmp_path, renewal())
    rc, output = rollout(lab, candidate, password="Wrong-Secret-0815")
    assert rc != 0
    assert "this password does not open" in output
    assert "Wrong-Secret-0815" not in output and PASSWORD not in output
    doc = state(lab)
    assert all(server(doc, n)["writes"] == 0 for n in SERVERS)


def test_a_pfx_without_a_private_key_is_refused_before_anything_is_written(running_lab, tmp_path):
    lab = running_lab(FIXTURE)
    candidate = write_pfx(tmp_path, renewal(), with_key=False)
    rc, output = rollout(lab, candidate)
    # The impact analysis stops it first ...
    assert rc != 0 and "the candidate has no private key" in output and "nothing was changed" in output
    # ... and the import refuses it too, should that finding be accepted.
    rc, output = rollout(lab, candidate, "-e", '{"connector_tls_rollout_accept": ["candidate_no_private_key"]}')
    assert rc != 0 and "holds no private key" in output and "Nothing was imported" in output
    doc = state(lab)
    assert all(server(doc, n)["writes"] == 0 for n in SERVERS)


def test_a_fault_on_one_server_leaves_the_others_converged_and_a_rerun_resumes_it(running_lab, tmp_path):
    scenario = yaml.safe_load(FIXTURE.read_text())
    ex04 = next(s for s in scenario["servers"] if s["name"] == "EX04")
    ex04["faults"] = [{"kind": "cmdlet_error", "cmdlet": "Import-ExchangeCertificate", "times": 1}]
    path = tmp_path / "fault.yml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    lab = running_lab(path)
    new = renewal()
    candidate = write_pfx(tmp_path, new)
    rc, output = rollout(lab, candidate)
    assert rc != 0
    doc = state(lab)
    assert new.thumbprint not in thumbprints(doc, "EX04")
    for name in ("EX01", "EX02", "EX03", "EDGE01"):
        assert presented(lab, name) == new.thumbprint, name
    rc, output = rollout(lab, candidate)
    assert rc == 0, output
    doc = state(lab)
    assert new.thumbprint in thumbprints(doc, "EX04") and presented(lab, "EX04") == new.thumbprint
    assert set(names(doc).values()) == {R11}


def test_retire_holds_against_a_concurrent_change(running_lab, tmp_path):
    # Between the retire's read and its removal, someone names the old certificate on EX04's connector again.
    scenario = yaml.safe_load(FIXTURE.read_text())
    ex04 = next(s for s in scenario["servers"] if s["name"] == "EX04")
    ex04["faults"] = [{"kind": "concurrent_change", "cmdlet": "Remove-ExchangeCertificate",
                       "connector": "Default Frontend EX04", "value": R10}]
    path = tmp_path / "concurrent.yml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    lab = running_lab(path)
    original = state(lab)
    rc, output = rollout(lab, write_pfx(tmp_path, renewal()), "-e", "connector_tls_retire_old=true")
    assert rc != 0
    assert "changed since it was read" in output
    doc = state(lab)
    old = next(c["thumbprint"] for c in server(original, "EX04")["certificates"] if c["id"] == "le-r10")
    assert old in thumbprints(doc, "EX04")


def test_the_rollout_page_commands_run(running_lab, tmp_path):
    """docs/rollout.md's commands as written, from a directory with the lab's inventory, the PFX and vault.yml."""
    from tests.gates.test_doc_examples import block, user_env

    lab = running_lab(FIXTURE)
    new = renewal()
    (tmp_path / "inventory").write_text(lab.inventory_path.read_text())
    candidate = write_pfx(tmp_path, new)
    # The lab's CA is no public root: the user's vars file here also names it as trusted for the impact analysis.
    (tmp_path / "vault.yml").write_text(f"connector_tls_candidate_password: {PASSWORD}\n"
                                        f"connector_tls_candidate_trust: {tmp_path / 'roots.pem'}\n")
    script = block("docs/rollout.md", "ansible-playbook exchange.transport_tls.rollout")
    # The page's PFX path is the user's; here it is the renewal minted for the lab's fleet.
    script = script.replace("/srv/certificates/mail-2027.pfx", str(candidate))
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=user_env(), capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = state(lab)
    for name in SERVERS:
        assert new.thumbprint in thumbprints(doc, name) and presented(lab, name) == new.thumbprint
        assert not any(c["id"] == "le-r10" for c in server(doc, name)["certificates"]), name
    assert PASSWORD not in proc.stdout + proc.stderr


def test_rollback_puts_every_name_back_and_says_what_it_does_not_undo(running_lab, tmp_path):
    lab = running_lab(FIXTURE)
    new = renewal()
    original = state(lab)
    rc, output = rollout(lab, write_pfx(tmp_path, new))
    assert rc == 0, output
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), "exchange.transport_tls.rollback",
         "-e", f"connector_tls_report_dir={lab.state_path.parent / 'reports'}", "-e", "connector_tls_probe_wait=5"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    doc = state(lab)
    assert names(doc) == names(original), output
    # The import goes too, after the names: every store is as before the rollout.
    for name in SERVERS:
        assert thumbprints(doc, name) == thumbprints(original, name), name
        assert f"import removed: certificate {new.thumbprint} from {name}" in output
        assert server(doc, name)["internal_transport_certificate"] == server(original, name)["internal_transport_certificate"]
        old = next(c["thumbprint"] for c in server(original, name)["certificates"] if c["id"] == "le-r10")
        assert presented(lab, name) == old, name
    # A second rollback finds everything as before the rollout and writes nothing.
    writes = {n: server(doc, n)["writes"] for n in SERVERS}
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), "exchange.transport_tls.rollback",
         "-e", f"connector_tls_report_dir={lab.state_path.parent / 'reports'}", "-e", "connector_tls_probe_wait=5"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert {n: server(state(lab), n)["writes"] for n in SERVERS} == writes
    assert output.count(f"import already removed: certificate {new.thumbprint}") == len(SERVERS)
    assert "already restored" in output


def test_the_impact_analysis_runs_first_and_a_breaking_finding_stops_every_write_unless_accepted(running_lab, tmp_path):
    lab = running_lab(FIXTURE)
    weak = renewal(signature_hash="sha1")
    candidate = write_pfx(tmp_path, weak)
    rc, output = rollout(lab, candidate)
    assert rc != 0 and "would break mail, so nothing was changed" in output and "candidate_weak_signature" in output
    doc = state(lab)
    assert all(server(doc, n)["writes"] == 0 for n in SERVERS)
    rc, output = rollout(lab, candidate, "-e", '{"connector_tls_rollout_accept": ["candidate_weak_signature"]}')
    assert rc == 0, output
    assert all(weak.thumbprint in thumbprints(state(lab), n) for n in SERVERS)


def test_a_rename_holds_against_a_concurrent_change_and_a_rerun_converges(running_lab, tmp_path):
    # Between the rename's read and its write, someone sets EX04's connector to the old name again.
    scenario = yaml.safe_load(FIXTURE.read_text())
    ex04 = next(s for s in scenario["servers"] if s["name"] == "EX04")
    ex04["faults"] = [{"kind": "concurrent_change", "cmdlet": "Set-ReceiveConnector", "connector": "Default Frontend EX04",
                       "value": "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=MAIL.contoso.com"}]
    path = tmp_path / "concurrent-rename.yml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    lab = running_lab(path)
    new = renewal()
    candidate = write_pfx(tmp_path, new)
    rc, output = rollout(lab, candidate)
    assert rc != 0 and "changed since it was read" in output
    doc = state(lab)
    # The guard held: the other administrator's value stands, and nothing of ours overwrote it.
    assert names(doc)["EX04\\Default Frontend EX04"] == "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=MAIL.contoso.com"
    for name in ("EX01", "EX02", "EX03", "EDGE01"):
        assert presented(lab, name) == new.thumbprint, name
    rc, output = rollout(lab, candidate)
    assert rc == 0, output
    assert set(names(state(lab)).values()) == {R11} and presented(lab, "EX04") == new.thumbprint


def test_the_pfx_password_stays_out_of_verbose_output(running_lab, tmp_path):
    lab = running_lab(FIXTURE)
    rc, output = rollout(lab, write_pfx(tmp_path, renewal()), "-vvv")
    assert rc == 0, output[-3000:]
    assert PASSWORD not in output


def test_iis_on_request_is_enabled_on_every_mailbox_server_and_skipped_on_edge(running_lab, tmp_path):
    lab = running_lab(FIXTURE)
    new = renewal()
    candidate = write_pfx(tmp_path, new)
    original = state(lab)
    services = '{"connector_tls_rollout_services": ["SMTP", "IIS"]}'
    rc, output = rollout(lab, candidate, "-e", services)
    assert rc == 0, output
    doc = state(lab)
    mailbox = [n for n in SERVERS if server(doc, n)["role"] == "Mailbox"]
    assert mailbox == ["EX01", "EX02", "EX03", "EX04"]
    for name in mailbox:
        assert {"IIS", "SMTP"} <= set(certificate(doc, name, new.thumbprint)["services"]), name
        assert server(doc, name)["internal_transport_certificate"] == server(original, name)["internal_transport_certificate"]
    # Edge runs no IIS for Exchange: the certificate gets SMTP only, and the run says why.
    assert "IIS" not in certificate(doc, "EDGE01", new.thumbprint)["services"]
    assert "an Edge Transport server runs no IIS web site" in output
    # The record has IIS enabled once per Mailbox server (the SMTP enables that follow record their own Services change).
    enabled = [c for c in record(lab)["changes"] if c["object_type"] == "certificate" and c["object"] == new.thumbprint
               and "IIS" in (c["after"] or []) and "IIS" not in (c["before"] or [])]
    assert sorted(c["server"] for c in enabled) == mailbox
    assert all(c["status"] == "applied" for c in enabled)
    # A second run changes nothing.
    writes = {n: server(doc, n)["writes"] for n in SERVERS}
    rc, output = rollout(lab, candidate, "-e", services)
    assert rc == 0, output
    assert {n: server(state(lab), n)["writes"] for n in SERVERS} == writes


def test_iis_in_check_mode_is_shown_with_what_it_binds_and_nothing_is_written(running_lab, tmp_path):
    lab = running_lab(FIXTURE)
    rc, output = rollout(lab, write_pfx(tmp_path, renewal()), "--check", "-e", '{"connector_tls_rollout_services": ["SMTP", "IIS"]}')
    assert rc == 0, output
    assert all(server(state(lab), n)["writes"] == 0 for n in SERVERS)
    assert output.count("enabled: enabling IIS binds the certificate to the Default Web Site's HTTPS") == 4


@pytest.mark.parametrize("value", ['["SMTP", "POP"]', '["IIS"]', '"SMTP"', '["SMTP", "IIS", "IMAP"]', '[]'])
def test_services_outside_the_allowed_set_are_refused_before_any_launch(running_lab, tmp_path, value):
    lab = running_lab(FIXTURE)
    rc, output = rollout(lab, write_pfx(tmp_path, renewal()), "-e", f'{{"connector_tls_rollout_services": {value}}}')
    assert rc != 0
    assert "connector_tls_rollout_services must be a list, [SMTP]" in output and "or [SMTP, IIS]" in output
    doc = state(lab)
    assert all(server(doc, n)["launches"] == 0 and server(doc, n)["writes"] == 0 for n in SERVERS)


def rollback(lab, *args: str) -> tuple[int, str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), "exchange.transport_tls.rollback",
         "-e", f"connector_tls_report_dir={lab.state_path.parent / 'reports'}", "-e", "connector_tls_probe_wait=5", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def test_rollback_in_check_mode_shows_the_import_removals_and_changes_nothing(running_lab, tmp_path):
    lab = running_lab(FIXTURE)
    new = renewal()
    rc, output = rollout(lab, write_pfx(tmp_path, new))
    assert rc == 0, output
    after = state(lab)
    rc, output = rollback(lab, "--check")
    assert rc == 0, output
    doc = state(lab)
    assert names(doc) == names(after)
    for name in SERVERS:
        assert new.thumbprint in thumbprints(doc, name)
        assert server(doc, name)["writes"] == server(after, name)["writes"]
        # Decided on the names as the rollback will leave them: nothing would need the import any more.
        assert f"import would be removed: certificate {new.thumbprint} from {name}" in output


def test_rollback_keeps_an_import_that_something_now_names_and_says_why(running_lab, tmp_path):
    # A receive connector outside the run's record names the renewed pair: the rollback does not touch it, so the
    # renewed certificate it needs stays on EX02, and only there.
    scenario = yaml.safe_load(FIXTURE.read_text())
    ex02 = next(s for s in scenario["servers"] if s["name"] == "EX02")
    relay = dict(ex02["receive_connectors"][0], name="Relay EX02", bindings=["0.0.0.0:2525"], tls_certificate_name=R11)
    ex02["receive_connectors"].append(relay)
    path = tmp_path / "named.yml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    lab = running_lab(path)
    original, new = state(lab), renewal()
    rc, output = rollout(lab, write_pfx(tmp_path, new))
    assert rc == 0, output
    rc, output = rollback(lab)
    assert rc == 0, output
    doc = state(lab)
    assert names(doc) == names(original)
    assert new.thumbprint in thumbprints(doc, "EX02")
    assert f"import kept: certificate {new.thumbprint} on EX02: receive connector EX02\\\\Relay EX02 still names it" in output
    for name in SERVERS:
        if name != "EX02":
            assert thumbprints(doc, name) == thumbprints(original, name), name
