"""Every fault kind of the lab on one host of a five-host fleet, during the audit and the remediation.

tests/lab/fixtures/fleet5.yml is five servers after a certificate renewal. EX02 is the
faulty host: it has writes (two stale receive connectors, so a batch that stopped
between them would show) and it is not the host that decides and writes the
organisation objects (EX01, the first Mailbox server). Per fault kind, one lab:

- the audit, with a fault hitting EX02's facts read (Get-ExchangeServer is only in it);
- the remediation, with a fault hitting EX02's write launch (Set-ReceiveConnector);
- the remediation again, the faults consumed.

What a person checks: the four other hosts and the organisation get exactly what a
fault-free run gives them (computed once from a fault-free lab); EX02 is `error` or
`unreachable` with a message that names what failed and what to do; the state file
agrees with changes.json both ways (every applied change at its `after`, every other
change at its `before`, every object absent from changes.json untouched); the rerun
ends in the fault-free end state.
"""

from __future__ import annotations

import fcntl
import json
import os
import pathlib
import re
import subprocess

import pytest
import yaml

from tests.conftest import ROOT, scenario_variant
from ...modules.test_exchange_command import BIN
from .test_audit_and_remediate import run

pytestmark = pytest.mark.ansible

FLEET = ROOT / "tests/lab/fixtures/fleet5.yml"
DOC = ROOT / "lab/docs/scenario-format.md"
FAULTY = "EX02"
OTHERS = ("EX01", "EX03", "EX04", "EDGE01")
READ_CMDLET = "Get-ExchangeServer"      # only the facts read runs it
WRITE_CMDLET = "Set-ReceiveConnector"
R10 = "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
# What the other administrator writes in the concurrent_change case: a name no certificate has.
FOREIGN = "<I>CN=E5, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
FOREIGN_CONNECTOR = "Client Frontend EX02"

KINDS = ["http_500", "connection_reset", "timeout", "auth_failure", "access_denied", "cmdlet_error",
         "snapin_missing", "concurrent_change"]
# Faults that hit a launch after the server acted (test_a_write_of_unknown_outcome_on_one_host_of_five).
AFTER_RUN_KINDS = ["reply_lost", "stray_error_record"]

# The ansible-core 2.19 leg of make test runs one kind per way a failure reaches Ansible: a WinRM error
# (http_500), a refused or lost connection (auth_failure), a failing cmdlet (access_denied), a guard
# (concurrent_change). These four take the same paths again; they run on the current leg only.
CURRENT_LEG_ONLY = {"connection_reset", "timeout", "cmdlet_error", "snapin_missing"}

# Per kind: words naming what failed (all must appear) and words saying what to do (one must appear).
WHAT_FAILED = {
    "http_500": ("500", "WinRM"),
    "connection_reset": ("reset",),
    "timeout": ("timed out",),
    "auth_failure": ("credentials",),
    "access_denied": ("Insufficient access rights",),
    "cmdlet_error": ("domain controllers",),
    "snapin_missing": ("Exchange session",),
    "concurrent_change": ("changed since it was read", FOREIGN_CONNECTOR, FOREIGN),
}
WHAT_TO_DO = {
    "http_500": ("check the server's WinRM service",),
    "connection_reset": ("run again",),
    "timeout": ("check that it is up",),
    "auth_failure": ("Check this host's WinRM credentials",),
    "access_denied": ("RBAC role",),
    "cmdlet_error": ("run again",),
    "snapin_missing": ("Check that the account holds an Exchange RBAC role",),
    "concurrent_change": ("run again to decide from the live value",),
}


def documented_kinds(text: str, section: str) -> list[str]:
    """The fault kinds a document lists, in its order."""
    body = text.split(section, 1)[1]
    body = body.split("\n#", 1)[0]
    if "Kinds:" in body:  # lab/docs/scenario-format.md: "- `http_500`: ...", one kind a line
        return re.findall(r"^- `([a-z][a-z0-9_]*)`:", body.split("Kinds:", 1)[1], re.M)
    return re.findall(r"^\| `([a-z][a-z0-9_]*)` \|", body, re.M)  # lab/README.md's table


def assert_every_documented_kind_is_injected() -> None:
    """A fault kind added to the lab's documentation without a case here turns every case red."""
    readme = documented_kinds((ROOT / "lab/README.md").read_text(), "## Faults")
    assert sorted(KINDS + AFTER_RUN_KINDS) == sorted(readme), \
        f"lab/README.md documents the fault kinds {readme}, this suite injects {KINDS + AFTER_RUN_KINDS}"
    documented = documented_kinds(DOC.read_text(), "## Faults")
    assert sorted(KINDS) == sorted(documented), f"{DOC} documents the fault kinds {documented}, this suite injects {KINDS}"


# --------------------------------------------------------------------------
# The state file and changes.json, checked against each other
# --------------------------------------------------------------------------


def load_state(lab) -> dict:
    return yaml.safe_load(lab.state_path.read_text())


def _services(value):
    return sorted(value) if isinstance(value, list) else value


def tracked(doc: dict) -> dict:
    """Every property the collection may change, keyed as changes.json names it: (object_type, object, property).

    Certificates are keyed SERVER\\THUMBPRINT (changes.json gives the server in its own field).
    """
    out = {}
    if doc.get("hybrid_configuration"):
        out[("hybrid_configuration", "Hybrid Configuration", "TlsCertificateName")] = \
            doc["hybrid_configuration"].get("tls_certificate_name")
    for sc in doc.get("send_connectors") or []:
        out[("send_connector", sc["name"], "TlsCertificateName")] = sc.get("tls_certificate_name")
    for server in doc["servers"]:
        name = server["name"]
        thumbprints = {c["id"]: c["thumbprint"] for c in server["certificates"]}
        for rc in server["receive_connectors"]:
            out[("receive_connector", f"{name}\\{rc['name']}", "TlsCertificateName")] = rc.get("tls_certificate_name")
        for c in server["certificates"]:
            out[("certificate", f"{name}\\{c['thumbprint']}", "Services")] = _services(c["services"])
        out[("transport_service", name, "InternalTransportCertificateThumbprint")] = \
            thumbprints[server["internal_transport_certificate"]]
    return out


def untracked(doc: dict) -> str:
    """The rest of the state: everything but the tracked properties, the lab's counters and clock, the
    faults left (consumed as they fire) and what the model derives from the tracked properties."""
    doc = json.loads(json.dumps(doc, default=str))
    doc.pop("now", None)
    doc.get("hybrid_configuration", {}).pop("tls_certificate_name", None)
    for sc in doc.get("send_connectors") or []:
        sc.pop("tls_certificate_name", None)
        sc.pop("outbound_tls", None)
    for server in doc["servers"]:
        for key in ("launches", "writes", "restarts", "events", "faults", "internal_transport_certificate", "edgesync"):
            server.pop(key, None)
        for rc in server["receive_connectors"]:
            rc.pop("tls_certificate_name", None)
        for c in server["certificates"]:
            c.pop("services", None)
    return json.dumps(doc, sort_keys=True)


def change_key(change: dict) -> tuple:
    obj = f"{change['server']}\\{change['object']}" if change["object_type"] == "certificate" else change["object"]
    return change["object_type"], obj, change["property"]


def check_changes_against_state(before: dict, after: dict, changes: dict, foreign: dict | None = None) -> None:
    """changes.json and the state file agree, both ways.

    - an `applied` change: the object was at its `before` and is now at its `after`;
    - a `planned` or `not_applied` one: the object was at its `before` and still is;
    - an object changes.json does not name is unchanged (except ``foreign``: key -> the value someone
      else wrote, which must be there, not overwritten);
    - nothing else in the state moved.
    """
    foreign = foreign or {}
    old, new = tracked(before), tracked(after)
    listed = {}
    for c in changes["changes"]:
        if c["object_type"] == "service":
            continue  # a transport restart: recorded, but no property of the state
        key = change_key(c)
        assert key in old, f"changes.json names {key}, which the state does not have"
        assert key not in listed, f"changes.json lists {key} twice"
        listed[key] = c
        assert _services(c["before"]) == old[key], f"{key}: changes.json 'before' {c['before']!r}, state had {old[key]!r}"
        if c["status"] == "applied":
            assert new[key] == _services(c["after"]), f"{key}: applied as {c['after']!r} but the state has {new[key]!r}"
        elif key in foreign:
            assert new[key] == foreign[key], f"{key}: another administrator's {foreign[key]!r} was overwritten: {new[key]!r}"
        else:
            assert new[key] == old[key], f"{key} is {c['status']} but changed from {old[key]!r} to {new[key]!r}"
    for key in old:
        if key in foreign and key not in listed:
            assert new[key] == foreign[key], key
        elif key not in listed:
            assert new[key] == old[key], f"{key} is not in changes.json but changed from {old[key]!r} to {new[key]!r}"
    assert untracked(after) == untracked(before), "something outside the tracked properties changed"


# --------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------


def host_view(entry: dict) -> dict:
    """What a reader compares between two runs for one host."""
    return {
        "status": entry["status"], "message": entry["message"], "plans": entry["plans"], "changes": entry["changes"],
        "restarts": entry["restarts"], "launches": entry["launches"],
        "findings": sorted((f["code"], f["object"]) for f in entry["findings"]),
        "connectors": sorted((c["identity"], c["status"]) for c in entry["connectors"]),
    }


def org_view(org: dict) -> dict:
    return {"status": org["status"], "message": org["message"], "runner": org["runner"], "plans": org["plans"],
            "changes": org["changes"], "findings": sorted((f["code"], f["object"]) for f in org["findings"])}


def changes_of(changes: dict, keep) -> list:
    return sorted(json.dumps(c, sort_keys=True) for c in changes["changes"] if keep(c))


def assert_others_as_without_fault(report: dict, changes: dict, baseline_report: dict, baseline_changes: dict,
                                   faulty: str = FAULTY) -> None:
    for host in (h for h in baseline_report["hosts"] if h != faulty):
        assert host_view(report["hosts"][host]) == host_view(baseline_report["hosts"][host]), host
    assert org_view(report["organization"]) == org_view(baseline_report["organization"])
    others = lambda c: c["host"] != faulty  # noqa: E731
    assert changes_of(changes, others) == changes_of(baseline_changes, others)


def _fault_free_run(tmp: pathlib.Path) -> dict:
    from exchange_lab.server import Lab, LabThread

    with LabThread(Lab(FLEET, state_path=tmp / "state.yml", inventory_path=tmp / "inventory.ini",
                       journal_path=tmp / "journal.jsonl")) as lab:
        initial = load_state(lab)
        rc, output, audit, audit_changes = run(lab, tmp / "audit", "audit")
        assert rc != 0 and audit["status"] == "drift", output
        rc, output, remediation, changes = run(lab, tmp / "remediate", "remediate")
        assert rc == 0, output
        remediated = lab.state_path.read_text()
        check_changes_against_state(initial, yaml.safe_load(remediated), changes)
        # A further remediation from that end state changes nothing.
        rc, output, again, again_changes = run(lab, tmp / "again", "remediate")
        assert rc == 0 and again_changes["changes"] == [], output
        assert tracked(load_state(lab)) == tracked(yaml.safe_load(remediated))
        assert {e["status"] for e in again["hosts"].values()} == {"compliant"}
    # The faulty host has something to lose: two connector writes.
    assert [c["status"] for c in changes["changes"] if c["host"] == FAULTY] == ["applied", "applied"]
    return {"audit": audit, "audit_changes": audit_changes, "remediation": remediation, "changes": changes,
            "remediated": remediated}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, worker_id):
    """The fault-free run of the same fleet (audit, remediation, a further remediation), once per test session:
    xdist workers share it through a file under their common temporary directory."""
    if worker_id == "master":
        result = _fault_free_run(tmp_path_factory.mktemp("fleet5-baseline"))
    else:
        shared = tmp_path_factory.getbasetemp().parent / "fleet5-baseline"
        shared.mkdir(exist_ok=True)
        with open(shared / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            cached = shared / "baseline.json"
            if cached.exists():
                result = json.loads(cached.read_text())
            else:
                result = _fault_free_run(shared)
                cached.write_text(json.dumps(result))
    return dict(result, remediated=yaml.safe_load(result["remediated"]))


def faults_left(lab, server: str = FAULTY) -> list:
    return [f for s in load_state(lab)["servers"] if s["name"] == server for f in s.get("faults") or []]


def assert_actionable(message: str | None, kind: str) -> None:
    assert message, "the faulty host has no message"
    for word in WHAT_FAILED[kind]:
        assert word.lower() in message.lower(), f"{kind}: the message does not name {word!r}: {message}"
    assert any(w.lower() in message.lower() for w in WHAT_TO_DO[kind]), f"{kind}: the message says nothing to do: {message}"


@pytest.mark.reliability("Faults", "each fault kind on one host of five, on its audit read and on its remediation write, then a rerun")
@pytest.mark.parametrize("kind", [pytest.param(k, marks=pytest.mark.current_leg_only) if k in CURRENT_LEG_ONLY else k
                                  for k in KINDS])
def test_a_fault_on_one_host_of_five(kind, running_lab, tmp_path, baseline, reliability):
    assert_every_documented_kind_is_injected()
    extra = {"connector": FOREIGN_CONNECTOR, "value": FOREIGN} if kind == "concurrent_change" else {}
    injected = [dict(kind=kind, cmdlet=READ_CMDLET, **extra), dict(kind=kind, cmdlet=WRITE_CMDLET, **extra)]
    path = scenario_variant(tmp_path, FLEET, faults={FAULTY: injected})
    lab = running_lab(path, **({"winrm_read_timeout": 6} if kind == "timeout" else {}))
    initial = load_state(lab)

    # -- the audit: the fault hits EX02's facts read
    rc, output, audit, audit_changes = run(lab, tmp_path / "audit", "audit")
    assert rc != 0, output
    assert_others_as_without_fault(audit, audit_changes, baseline["audit"], baseline["audit_changes"])
    check_changes_against_state(initial, load_state(lab), audit_changes)
    assert {c["status"] for c in audit_changes["changes"]} == {"planned"}
    audited = load_state(lab)
    if kind == "concurrent_change":
        # An audit launch holds no write, so the other administrator's change (which lands when a write
        # launch starts) never comes: the audit reads EX02 as a fault-free audit does, the fault is still pending.
        assert host_view(audit["hosts"][FAULTY]) == host_view(baseline["audit"]["hosts"][FAULTY])
        assert [f["cmdlet"] for f in faults_left(lab)] == [READ_CMDLET, WRITE_CMDLET]
    else:
        entry = audit["hosts"][FAULTY]
        assert entry["status"] in ("error", "unreachable") and entry["server"] is None, entry
        assert_actionable(entry["message"], kind)
        assert [f["cmdlet"] for f in faults_left(lab)] == [WRITE_CMDLET], "the audit's fault did not fire"
        # Nothing is planned for a host that could not be read.
        assert not [c for c in audit_changes["changes"] if c["host"] == FAULTY]
    for line in lab.journal_path.read_text().splitlines():
        steps = json.loads(line).get("steps") or []
        assert all(s["cmdlet"].startswith("Get-") for s in steps), f"the audit wrote: {line}"

    # -- the remediation: the fault hits EX02's write launch
    rc, output, remediation, changes = run(lab, tmp_path / "remediate", "remediate")
    assert rc != 0, output
    assert_others_as_without_fault(remediation, changes, baseline["remediation"], baseline["changes"])
    entry = remediation["hosts"][FAULTY]
    assert entry["status"] in ("error", "unreachable"), entry
    assert_actionable(entry["message"], kind)
    mine = [c for c in changes["changes"] if c["host"] == FAULTY]
    assert {c["object"] for c in mine} == {f"{FAULTY}\\Default Frontend EX02", f"{FAULTY}\\{FOREIGN_CONNECTOR}"}
    for c in mine:
        assert c["status"] == "not_applied", c
        assert_actionable(c["message"], kind)
    foreign = {("receive_connector", f"{FAULTY}\\{FOREIGN_CONNECTOR}", "TlsCertificateName"): FOREIGN} \
        if kind == "concurrent_change" else {}
    check_changes_against_state(audited, load_state(lab), changes, foreign)
    assert [f["cmdlet"] for f in faults_left(lab)] == ([READ_CMDLET] if kind == "concurrent_change" else []), \
        "the remediation's fault did not fire"

    # -- the rerun, the fault gone: EX02 converges from what it finds; the fleet ends as without faults
    before_rerun = load_state(lab)
    rc, output, rerun, rerun_changes = run(lab, tmp_path / "rerun", "remediate")
    assert rc == 0, output
    assert {h: e["status"] for h, e in rerun["hosts"].items()} == {h: "compliant" for h in OTHERS} | {FAULTY: "remediated"}
    assert rerun["organization"]["status"] == "compliant"
    assert {(c["object"], c["status"]) for c in rerun_changes["changes"]} == {
        (f"{FAULTY}\\Default Frontend EX02", "applied"), (f"{FAULTY}\\{FOREIGN_CONNECTOR}", "applied")}
    check_changes_against_state(before_rerun, load_state(lab), rerun_changes)
    # The fault-free end state, from which the baseline's further remediation changed nothing.
    assert tracked(load_state(lab)) == tracked(baseline["remediated"])
    assert untracked(load_state(lab)) == untracked(baseline["remediated"])
    reliability(len(injected))


# --------------------------------------------------------------------------
# A write whose outcome the reply does not tell
# --------------------------------------------------------------------------

# EX04 needs SMTP enabled on its renewal before its connector can name it, so its remediation has two write
# launches: the enabling (Enable-ExchangeCertificate on the renewal, then on the previous default to put it
# back) and the connector write. Per case: the fault, and what changes.json must say for EX04 afterwards
# (status per (object_type, property)), the state agreeing both ways.
SMTP_HOST = "EX04"
SERVICES = ("certificate", "Services")
CONNECTOR = ("receive_connector", "TlsCertificateName")
DEFAULT_SMTP = ("transport_service", "InternalTransportCertificateThumbprint")
UNKNOWN_OUTCOME = {
    # The connector launch ran to the end; its reply is lost, or unreadable. The enabling launch before it was confirmed.
    # (DEFAULT_SMTP: the planned swap of the default, put back by the same enabling launch: applied, after == before.)
    "reply_lost": ({"kind": "reply_lost", "cmdlet": "Set-ReceiveConnector"},
                   {SERVICES: "applied", DEFAULT_SMTP: "applied", CONNECTOR: "applied"}),
    "stray_error_record": ({"kind": "stray_error_record", "cmdlet": "Set-ReceiveConnector"},
                           {SERVICES: "applied", DEFAULT_SMTP: "applied", CONNECTOR: "applied"}),
    # The enabling launch ran to the end and its reply was lost: the connector launch never came.
    "reply_lost_enabling": ({"kind": "reply_lost", "cmdlet": "Enable-ExchangeCertificate"},
                            {SERVICES: "applied", DEFAULT_SMTP: "applied", CONNECTOR: "not_applied"}),
    # The second Enable-ExchangeCertificate (putting the previous default back) fails after the first made the renewal
    # the default: the dangerous case, recorded as a change of the default so that rollback puts it back.
    "restore_fails": ({"kind": "cmdlet_error", "cmdlet": "Enable-ExchangeCertificate", "occurrence": 2},
                      {SERVICES: "applied", DEFAULT_SMTP: "applied", CONNECTOR: "not_applied"}),
}
UNKNOWN_OUTCOME_WORDS = {
    "reply_lost": ("read again in a new launch", "Applied (read back at the value sent)", "reset"),
    "stray_error_record": ("read again in a new launch", "Applied (read back at the value sent)", "deserialization"),
    "reply_lost_enabling": ("read again in a new launch", "Applied (read back at the value sent)", "reset"),
    "restore_fails": ("Enable-ExchangeCertificate -Server EX04 -Thumbprint", "default SMTP (internal transport) certificate is now",
                      "domain controllers"),
}


def rollback(lab, changes_file: pathlib.Path) -> tuple[int, str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), "exchange.transport_tls.rollback",
         "-e", f"connector_tls_changes_file={changes_file}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.reliability("Faults", "a write launch whose reply is lost or unreadable, or whose second write fails, on one host"
                         " of five: the record matches the server, rollback restores it, a rerun converges")
@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.current_leg_only) if c != "stray_error_record" else c
                                  for c in UNKNOWN_OUTCOME])
def test_a_write_of_unknown_outcome_on_one_host_of_five(case, running_lab, tmp_path, baseline, reliability):
    fault, expected = UNKNOWN_OUTCOME[case]
    lab = running_lab(scenario_variant(tmp_path, FLEET, faults={SMTP_HOST: [fault]}))
    rc, output, audit, audit_changes = run(lab, tmp_path / "audit", "audit")
    assert rc != 0, output
    assert host_view(audit["hosts"][SMTP_HOST]) == host_view(baseline["audit"]["hosts"][SMTP_HOST])
    audited = load_state(lab)

    # -- the remediation: the fault hits EX04's write; the four others and the organisation as without it
    rc, output, remediation, changes = run(lab, tmp_path / "remediate", "remediate")
    assert rc != 0, output
    assert faults_left(lab, SMTP_HOST) == [], "the fault did not fire"
    assert_others_as_without_fault(remediation, changes, baseline["remediation"], baseline["changes"], faulty=SMTP_HOST)
    entry = remediation["hosts"][SMTP_HOST]
    assert entry["status"] == "error", entry
    for words in UNKNOWN_OUTCOME_WORDS[case]:
        assert words.lower() in entry["message"].lower(), f"{case}: the message does not say {words!r}: {entry['message']}"
    mine = {(c["object_type"], c["property"]): c["status"] for c in changes["changes"] if c["host"] == SMTP_HOST}
    assert mine == expected, changes["changes"]
    # The record and the server agree both ways: nothing applied is recorded not_applied, and the reverse.
    after = load_state(lab)
    check_changes_against_state(audited, after, changes)

    # -- rollback of that run restores exactly what it applied (SMTP enabled on a certificate cannot be undone: it stays)
    rc, output = rollback(lab, tmp_path / "remediate" / "latest" / "changes.json")
    assert rc == 0, output
    rolled = tracked(load_state(lab))
    for key, value in tracked(audited).items():
        if key[0] == "certificate" and key in {change_key(c) for c in changes["changes"] if c["status"] == "applied"}:
            assert rolled[key] == tracked(after)[key], key
        else:
            assert rolled[key] == value, f"{key}: rollback left {rolled[key]!r}, the audit saw {value!r}"

    # -- the rerun, the fault gone: EX04 converges, and the fleet ends as in the fault-free run
    rc, output, rerun, rerun_changes = run(lab, tmp_path / "rerun", "remediate")
    assert rc == 0, output
    assert rerun["hosts"][SMTP_HOST]["status"] == "remediated", rerun["hosts"][SMTP_HOST]
    assert tracked(load_state(lab)) == tracked(baseline["remediated"])
    assert untracked(load_state(lab)) == untracked(baseline["remediated"])
    reliability(1)
