"""Concurrency on the five-server fleet (tests/lab/fixtures/fleet5.yml).

- Another administrator changes one of EX02's connectors between the remediation's read
  and its write (the lab's `concurrent_change` fault): nothing of theirs is overwritten,
  the report names the value found, changes.json says not_applied, and a rerun decides
  from the live value. When the value found is the one the run was going to write (as
  when another run got there first), the message says so.
- Two `ansible-playbook exchange.transport_tls.remediate` started at the same moment on
  the same lab, a few rounds: the end state is the plan's, the lab's journal shows every
  write made successfully exactly once, each change is applied by exactly one run, and
  the run that lost a race says so.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import pathlib

import jsonschema
import pytest

from tests.conftest import ROOT, scenario_variant
from .test_audit_and_remediate import CHANGES_SCHEMA, SCHEMA, run
from .test_fleet_faults import (
    FAULTY,
    FLEET,
    R10,
    check_changes_against_state,
    load_state,
    tracked,
    untracked,
)

pytestmark = pytest.mark.ansible
BIN = pathlib.Path(sys.executable).parent
OTHERS = ("EX01", "EX03", "EX04", "EDGE01")
R11 = "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
DIGICERT_2026 = ("<I>CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1, O=DigiCert Inc, C=US"
                 "<S>CN=smtp.contoso.com, O=Contoso Ltd, L=Redmond, S=Washington, C=US")
EX02_SELF_SIGNED = "<I>CN=EX02<S>CN=EX02"
ALREADY = "already the value this run was going to write"
WRITES = ("Set-ReceiveConnector", "Set-SendConnector", "Set-HybridConfiguration", "Enable-ExchangeCertificate")


def fleet(tmp_path: pathlib.Path, name: str, faults: list | None = None, launch_seconds: float | None = None) -> pathlib.Path:
    directory = tmp_path / name
    directory.mkdir()
    return scenario_variant(directory, FLEET, faults={FAULTY: faults} if faults else None, launch_seconds=launch_seconds)


def key(obj: str) -> tuple:
    return "receive_connector", obj, "TlsCertificateName"


# --------------------------------------------------------------------------
# Another administrator between read and write
# --------------------------------------------------------------------------


@pytest.mark.reliability("Concurrency", "another administrator changes a connector between the remediation's read and its write")
@pytest.mark.parametrize("connector, value, says", [
    # A deliberate other choice: EX02's own certificate on the client connector.
    ("Client Frontend EX02", EX02_SELF_SIGNED, "run again to decide from the live value"),
    # The same fix as this run's, made first (as another run would): the message says the object is fine.
    ("Default Frontend EX02", R11, ALREADY),
], ids=["other-value", "same-value"])
def test_a_change_between_read_and_write_is_not_overwritten(connector, value, says, running_lab, tmp_path, reliability):
    fault = {"kind": "concurrent_change", "cmdlet": "Set-ReceiveConnector", "connector": connector, "value": value}
    lab = running_lab(fleet(tmp_path, "fleet5-concurrent", [fault]))
    initial = load_state(lab)
    changed = key(f"{FAULTY}\\{connector}")
    other = key(f"{FAULTY}\\" + ("Default Frontend EX02" if connector == "Client Frontend EX02" else "Client Frontend EX02"))

    rc, output, report, changes = run(lab, tmp_path / "remediate", "remediate")
    assert rc != 0, output
    live = tracked(load_state(lab))
    assert live[changed] == value, "the other administrator's value was overwritten"
    assert live[other] == R10, "a write of the batch ran after its guard had stopped it"
    check_changes_against_state(initial, load_state(lab), changes, {changed: value})
    entry = report["hosts"][FAULTY]
    assert entry["status"] == "error"
    message = entry["message"]
    # Names the object, the value read, the value found, and what to do.
    assert f"{FAULTY}\\{connector}" in message and f"'{R10}' when read" in message and f"is now '{value}'" in message, message
    assert says in message and "Nothing was written." in message, message
    if value == R11:
        assert "needs nothing more" in message and "run again to check them from the live values" in message, message
    else:
        assert ALREADY not in message, message
    mine = [c for c in changes["changes"] if c["host"] == FAULTY]
    assert len(mine) == 2 and all(c["status"] == "not_applied" and c["message"] and c["message"] in message for c in mine), mine
    assert {h: report["hosts"][h]["status"] for h in OTHERS} == {
        "EX01": "remediated", "EX03": "compliant", "EX04": "remediated", "EDGE01": "remediated"}

    # The rerun decides from what is there now, not from the first run's read.
    before = load_state(lab)
    rc, output, rerun, rerun_changes = run(lab, tmp_path / "rerun", "remediate")
    check_changes_against_state(before, load_state(lab), rerun_changes)
    (plan,) = [p for p in rerun["hosts"][FAULTY]["plans"] if p["object"] == f"{FAULTY}\\{connector}"]
    # Both values name a certificate EX02 holds, with SMTP: the other administrator's choice stands.
    assert rc == 0 and plan["current"] == value and plan["status"] == "unchanged", (plan, output)
    written = {c["object"]: c for c in rerun_changes["changes"]}
    assert f"{FAULTY}\\{connector}" not in written, "the rerun overwrote the other administrator's value"
    assert written[other[1]]["status"] == "applied" and written[other[1]]["before"] == R10
    assert rerun["hosts"][FAULTY]["status"] == "remediated"
    assert tracked(load_state(lab))[changed] == value
    reliability(1)


# --------------------------------------------------------------------------
# Two remediations at once
# --------------------------------------------------------------------------


def expected_end(initial: dict) -> dict:
    """The fleet's fault-free plan, stated: every stale name replaced, SMTP enabled where the new one lacked it."""
    want = tracked(initial)
    thumbprints = {(s["name"], c["id"]): c["thumbprint"] for s in initial["servers"] for c in s["certificates"]}
    for server, name in (("EX01", "Default Frontend EX01"), ("EX02", "Default Frontend EX02"),
                         ("EX02", "Client Frontend EX02"), ("EX04", "Default Frontend EX04")):
        want[key(f"{server}\\{name}")] = R11
    want[key("EDGE01\\Default internal receive connector EDGE01")] = DIGICERT_2026
    want[("send_connector", initial["send_connectors"][0]["name"], "TlsCertificateName")] = R11
    want[("hybrid_configuration", "Hybrid Configuration", "TlsCertificateName")] = R11
    want[("certificate", f"EX04\\{thumbprints['EX04', 'le-r11']}", "Services")] = ["IIS", "SMTP"]
    want[("certificate", f"EDGE01\\{thumbprints['EDGE01', 'digicert-2026']}", "Services")] = ["SMTP"]
    return want


def expected_writes(initial: dict) -> set:
    """Each write the plan makes, as (cmdlet, object): Enable-ExchangeCertificate once for the new certificate
    and once to give the default back its services."""
    thumbprints = {(s["name"], c["id"]): c["thumbprint"] for s in initial["servers"] for c in s["certificates"]}
    return {
        ("Set-ReceiveConnector", "EX01\\Default Frontend EX01"), ("Set-ReceiveConnector", "EX02\\Default Frontend EX02"),
        ("Set-ReceiveConnector", "EX02\\Client Frontend EX02"), ("Set-ReceiveConnector", "EX04\\Default Frontend EX04"),
        ("Set-ReceiveConnector", "EDGE01\\Default internal receive connector EDGE01"),
        ("Set-SendConnector", initial["send_connectors"][0]["name"]),
        ("Set-HybridConfiguration", "Hybrid Configuration"),
        ("Enable-ExchangeCertificate", f"EX04\\{thumbprints['EX04', 'le-r11']}"),
        ("Enable-ExchangeCertificate", f"EX04\\{thumbprints['EX04', 'selfsigned']}"),
        ("Enable-ExchangeCertificate", f"EDGE01\\{thumbprints['EDGE01', 'digicert-2026']}"),
        ("Enable-ExchangeCertificate", f"EDGE01\\{thumbprints['EDGE01', 'selfsigned']}"),
    }


def successful_writes(journal: pathlib.Path) -> collections.Counter:
    counted = collections.Counter()
    for line in journal.read_text().splitlines():
        for s in json.loads(line).get("steps") or []:
            if s["cmdlet"] not in WRITES or s.get("error"):
                continue
            p = s["parameters"]
            obj = (f"{p['Server']}\\{p['Thumbprint']}" if s["cmdlet"] == "Enable-ExchangeCertificate"
                   else p.get("Identity", "Hybrid Configuration"))
            counted[s["cmdlet"], obj] += 1
    return counted


def remediate_at_once(lab, tmp_path: pathlib.Path) -> list:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    outs = [tmp_path / "run-a", tmp_path / "run-b"]
    procs = [subprocess.Popen(
        [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), "exchange.transport_tls.remediate",
         "-e", f"connector_tls_report_dir={out}", "-e", "connector_tls_probe_wait=2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for out in outs]
    runs = []
    for proc, out in zip(procs, outs):
        output = proc.communicate(timeout=300)[0]
        report = json.loads((out / "latest" / "report.json").read_text())
        changes = json.loads((out / "latest" / "changes.json").read_text())
        jsonschema.validate(report, SCHEMA)
        jsonschema.validate(changes, CHANGES_SCHEMA)
        runs.append((proc.returncode, output, report, changes))
    return runs


# The guard this race ends in is tested on both legs (test_a_change_between_read_and_write_is_not_overwritten);
# the race itself, rounds of two whole remediations, runs on the current leg only.
@pytest.mark.current_leg_only
@pytest.mark.reliability("Concurrency", "two remediations of the same five-server lab started at the same moment, repeated")
def test_two_remediations_at_once_write_everything_exactly_once(tmp_path, reliability):
    from exchange_lab.server import Lab, LabThread

    rounds = collisions = 0
    # Without latency, then with a slower Exchange session, which widens the window between read and write.
    for number, latency in enumerate((None, 0.3, 0.6)):
        here = tmp_path / f"round-{number}"
        here.mkdir()
        lab_file = fleet(here, "fleet5", launch_seconds=latency)
        with LabThread(Lab(lab_file, state_path=here / "state.yml", inventory_path=here / "inventory.ini",
                           journal_path=here / "journal.jsonl")) as lab:
            initial = load_state(lab)
            runs = remediate_at_once(lab, here)
            final = load_state(lab)
            writes = successful_writes(lab.journal_path)
        rounds += 1
        outputs = "\n".join(o for _rc, o, _r, _c in runs)
        assert tracked(final) == expected_end(initial), outputs
        assert untracked(final) == untracked(initial)
        # From the lab's own record: nothing lost, nothing done twice.
        assert set(writes) == expected_writes(initial), writes
        assert {w: n for w, n in writes.items() if n != 1} == {}, "a write ran more than once"
        # Each run's changes.json against the state; together they are the plan, each change made by one run. A default
        # SMTP certificate swap put back by the same launch is on the record with after == before: it changed nothing.
        def left(c):
            return c["status"] == "applied" and c["before"] != c["after"]
        applied = [{(c["object_type"], c["server"], c["object"]) for c in changes["changes"] if left(c)}
                   for _rc, _o, _r, changes in runs]
        assert applied[0] & applied[1] == set(), "both runs say they applied the same change"
        changed_keys = {k for k, v in expected_end(initial).items() if tracked(initial)[k] != v}
        applied_keys = set()
        for _rc, _o, _r, changes in runs:
            applied_keys |= {(c["object_type"], f"{c['server']}\\{c['object']}" if c["object_type"] == "certificate"
                              else c["object"], c["property"]) for c in changes["changes"] if left(c)}
        assert applied_keys == changed_keys
        # The run that lost a race says so: every change it did not make was found already made.
        for rc, output, report, changes in runs:
            lost = [c for c in changes["changes"] if c["status"] != "applied"]
            assert all(c["status"] == "not_applied" and ALREADY in c["message"] for c in lost), lost
            for host, entry in report["hosts"].items():
                if any(c["host"] == host for c in lost if c["object_type"] not in ("send_connector", "hybrid_configuration")):
                    assert entry["status"] == "error" and ALREADY in entry["message"], (host, entry)
                else:
                    assert entry["status"] in ("remediated", "compliant"), (host, entry, output)
            assert (rc == 0) == (not lost and report["organization"]["status"] in ("remediated", "compliant")), output
            collisions += bool(lost)
    assert collisions, "no round made the two runs meet: the race was not tested"
    reliability(rounds)
