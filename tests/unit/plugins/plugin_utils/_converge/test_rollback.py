"""Rollback from changes.json: guarded steps per object type, order, check mode, hosts, what stays, validation."""

from __future__ import annotations

import copy
import pathlib

import pytest
import yaml
from hypothesis import given, strategies as st

from ansible.errors import AnsibleFilterError

from ansible_collections.exchange.transport_tls.plugins.filter import rollback as rollback_filter
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import rollback
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.rollback import (
    not_reversible,
    outcome,
    rollback_steps,
    validate,
)

from ..facts_factories import FRONTEND, OUTBOUND, R11_THUMB, R12_THUMB

ROOT = pathlib.Path(__file__).resolve().parents[5]
R10 = "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
R11 = "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
R12 = "<I>CN=R12, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
OWN = "07CAFBBE33FA57CD5C0BD3915A1794C6B35DE784"
HUB = "EX02\\Default EX02"


def change(object_type="receive_connector", obj=FRONTEND, prop="TlsCertificateName", before=R10, after=R11,
           host="EX01", server="EX01", status="applied", message=None) -> dict:
    return {"host": host, "server": server, "object_type": object_type, "object": obj, "property": prop,
            "before": before, "after": after, "status": status, "message": message}


def doc(*changes: dict, **overrides) -> dict:
    base = {"schema": "exchange.transport_tls/changes/v1", "generated_at": "2026-11-27T12:00:00Z", "mode": "remediate",
            "check_mode": False, "complete": True, "changes": list(changes)}
    base.update(overrides)
    return base


SERVICES = change("certificate", R11_THUMB, "Services", ["IIS"], ["IIS", "SMTP"])
RECEIVE = change()
SEND = change("send_connector", OUTBOUND)
HYBRID = change("hybrid_configuration", "Hybrid Configuration")
DEFAULT = change("transport_service", "EX01", "InternalTransportCertificateThumbprint", OWN, R11_THUMB)


def ids(steps):
    return [s["id"] for s in steps]


# --------------------------------------------------------------------------
# Steps per object type
# --------------------------------------------------------------------------

def test_receive_connector():
    assert rollback_steps(doc(RECEIVE), "EX01") == [
        {"id": f"guard|receive_connector|{FRONTEND}", "cmdlet": "Get-ReceiveConnector", "parameters": {"Identity": FRONTEND},
         "properties": ["Identity", "TlsCertificateName"], "guard": {"TlsCertificateName": R11}},
        {"id": f"set|receive_connector|{FRONTEND}", "cmdlet": "Set-ReceiveConnector",
         "parameters": {"Identity": FRONTEND, "TlsCertificateName": R10}, "properties": []},
        {"id": f"readback|receive_connector|{FRONTEND}", "cmdlet": "Get-ReceiveConnector", "parameters": {"Identity": FRONTEND},
         "properties": ["Identity", "TlsCertificateName"]},
    ]


def test_send_connector():
    steps = rollback_steps(doc(SEND), "EX01")
    assert [(s["cmdlet"], s["parameters"], s.get("guard")) for s in steps] == [
        ("Get-SendConnector", {"Identity": OUTBOUND}, {"TlsCertificateName": R11}),
        ("Set-SendConnector", {"Identity": OUTBOUND, "TlsCertificateName": R10}, None),
        ("Get-SendConnector", {"Identity": OUTBOUND}, None),
    ]


def test_hybrid_configuration():
    steps = rollback_steps(doc(HYBRID), "EX01")
    assert [(s["id"], s["cmdlet"], s["parameters"], s["properties"], s.get("guard")) for s in steps] == [
        ("guard|hybrid_configuration|Hybrid Configuration", "Get-HybridConfiguration", {}, ["TlsCertificateName"],
         {"TlsCertificateName": R11}),
        ("set|hybrid_configuration|Hybrid Configuration", "Set-HybridConfiguration", {"TlsCertificateName": R10}, [], None),
        ("readback|hybrid_configuration|Hybrid Configuration", "Get-HybridConfiguration", {}, ["TlsCertificateName"], None),
    ]


def test_a_null_before_is_written_as_null():
    steps = rollback_steps(doc(change(before=None)), "EX01")
    assert steps[1]["parameters"] == {"Identity": FRONTEND, "TlsCertificateName": None}


def test_a_null_after_is_guarded_as_null():
    steps = rollback_steps(doc(change(before=R10, after=None)), "EX01")
    assert steps[0]["guard"] == {"TlsCertificateName": None}


def test_default_smtp_certificate():
    """Put back with Enable-ExchangeCertificate -Services SMTP -Force, guarded by Get-TransportService and the certificate."""
    assert rollback_steps(doc(DEFAULT), "EX01") == [
        {"id": "guard|transport_service|EX01", "cmdlet": "Get-TransportService", "parameters": {"Identity": "EX01"},
         "properties": ["InternalTransportCertificateThumbprint"], "guard": {"InternalTransportCertificateThumbprint": R11_THUMB}},
        {"id": f"guard|certificate|EX01\\{OWN}", "cmdlet": "Get-ExchangeCertificate",
         "parameters": {"Server": "EX01", "Thumbprint": OWN}, "properties": ["Thumbprint"], "guard": {"Thumbprint": OWN}},
        {"id": "set|transport_service|EX01", "cmdlet": "Enable-ExchangeCertificate",
         "parameters": {"Server": "EX01", "Thumbprint": OWN, "Services": "SMTP", "Force": True}, "properties": []},
        {"id": "readback|transport_service|EX01", "cmdlet": "Get-TransportService", "parameters": {"Identity": "EX01"},
         "properties": ["InternalTransportCertificateThumbprint"]},
    ]


def test_default_smtp_certificate_of_another_server_than_the_host():
    steps = rollback_steps(doc(change("transport_service", "EX02", "InternalTransportCertificateThumbprint", OWN, R11_THUMB,
                                      server="EX02")), "EX01")
    assert steps[0]["parameters"] == {"Identity": "EX02"} and steps[2]["parameters"]["Server"] == "EX02"


def test_every_cmdlet_is_allow_listed_and_every_parameter_is_documented_by_the_lab():
    """The steps only use cmdlets and parameters exchange_command (and the lab's binding of them) accept."""
    from exchange_lab.cmdlets import CMDLETS

    steps = rollback_steps(doc(SERVICES, DEFAULT, RECEIVE, SEND, HYBRID), "EX01")
    for s in steps:
        spec = CMDLETS[s["cmdlet"].lower()]
        known = {p.name for p in spec.params}
        assert set(s["parameters"]) <= known, s


# --------------------------------------------------------------------------
# Order, check mode, hosts
# --------------------------------------------------------------------------

def test_all_guards_then_sets_then_readbacks_newest_first():
    steps = rollback_steps(doc(SERVICES, DEFAULT, RECEIVE, SEND, HYBRID), "EX01")
    kinds = [s["id"].split("|", 1)[0] for s in steps]
    assert kinds == ["guard"] * 5 + ["set"] * 4 + ["readback"] * 4
    assert ids(steps) == [
        "guard|hybrid_configuration|Hybrid Configuration",
        f"guard|send_connector|{OUTBOUND}",
        f"guard|receive_connector|{FRONTEND}",
        "guard|transport_service|EX01",
        f"guard|certificate|EX01\\{OWN}",
        "set|hybrid_configuration|Hybrid Configuration",
        f"set|send_connector|{OUTBOUND}",
        f"set|receive_connector|{FRONTEND}",
        "set|transport_service|EX01",
        "readback|hybrid_configuration|Hybrid Configuration",
        f"readback|send_connector|{OUTBOUND}",
        f"readback|receive_connector|{FRONTEND}",
        "readback|transport_service|EX01",
    ]


def test_check_mode_runs_only_the_guards():
    steps = rollback_steps(doc(SERVICES, DEFAULT, RECEIVE, SEND, HYBRID), "EX01", check_mode=True)
    assert all(s["cmdlet"].startswith("Get-") and "guard" in s for s in steps)
    assert ids(steps) == ids(rollback_steps(doc(SERVICES, DEFAULT, RECEIVE, SEND, HYBRID), "EX01"))[:5]


def test_only_the_hosts_own_applied_changes():
    other = change(obj=HUB, host="EX02", server="EX02")
    planned = change(obj="EX01\\Client Frontend EX01", status="planned")
    failed = change(obj="EX01\\Relay", status="not_applied", message="the guard failed")
    changes = doc(RECEIVE, other, planned, failed)
    assert ids(rollback_steps(changes, "EX01")) == [f"{k}|receive_connector|{FRONTEND}" for k in ("guard", "set", "readback")]
    assert ids(rollback_steps(changes, "EX02")) == [f"{k}|receive_connector|{HUB}" for k in ("guard", "set", "readback")]
    assert rollback_steps(changes, "EDGE01") == []
    assert rollback_steps(changes, "ex01") == []      # inventory host names are exact


def test_two_changes_of_one_object_collapse():
    """Files joined from two runs: guard on the newest after, put back the oldest before."""
    steps = rollback_steps(doc(change(before=R10, after=R11), SEND, change(before=R11, after=R12)), "EX01")
    assert ids(steps)[:2] == [f"guard|receive_connector|{FRONTEND}", f"guard|send_connector|{OUTBOUND}"]
    assert steps[0]["guard"] == {"TlsCertificateName": R12}
    assert steps[2]["parameters"]["TlsCertificateName"] == R10
    assert len(steps) == 6


def test_nothing_to_restore():
    assert rollback_steps(doc(), "EX01") == []
    assert rollback_steps(doc(SERVICES), "EX01") == []
    assert rollback_steps(doc(change(status="planned")), "EX01") == []


# --------------------------------------------------------------------------
# What cannot be undone
# --------------------------------------------------------------------------

def test_services_are_skipped_and_said_so():
    (skipped,) = not_reversible(doc(SERVICES, RECEIVE), "EX01")
    assert skipped["change"] == SERVICES
    assert skipped["reason"].startswith(f"SMTP stays enabled on certificate {R11_THUMB} on EX01")
    assert "only adds services" in skipped["reason"] and "services before: IIS; after: IIS, SMTP" in skipped["reason"]


def test_services_as_unknown():
    (skipped,) = not_reversible(doc(change("certificate", R11_THUMB, "Services", "unknown", ["SMTP"])), "EX01")
    assert "SMTP stays enabled" in skipped["reason"] and "services before: unknown" in skipped["reason"]


def test_a_default_from_none_cannot_be_undone():
    none_before = change("transport_service", "EX01", "InternalTransportCertificateThumbprint", None, R11_THUMB)
    (skipped,) = not_reversible(doc(none_before), "EX01")
    assert "had no default SMTP certificate" in skipped["reason"]
    assert rollback_steps(doc(none_before), "EX01") == []


def test_skipped_only_for_the_host_and_applied():
    changes = doc(SERVICES, change("certificate", R12_THUMB, "Services", ["IIS"], ["IIS", "SMTP"], host="EX02", server="EX02"),
                  change("certificate", R12_THUMB, "Services", ["IIS"], ["IIS", "SMTP"], status="planned"))
    assert [s["change"]["object"] for s in not_reversible(changes, "EX01")] == [R11_THUMB]
    assert [s["change"]["server"] for s in not_reversible(changes, "EX02")] == ["EX02"]
    assert not_reversible(changes, "EDGE01") == []


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------

@pytest.mark.parametrize("bad, words", [
    ([], "must hold a JSON object"),
    ({"schema": "exchange.transport_tls/report/v1", "changes": []}, "report.json is not a changes file"),
    ({"changes": []}, "schema is None"),
    ({"schema": "exchange.transport_tls/changes/v2", "changes": []}, "'exchange.transport_tls/changes/v2'"),
    ({"schema": "exchange.transport_tls/changes/v1"}, "no list 'changes'"),
    ({"schema": "exchange.transport_tls/changes/v1", "changes": {}}, "no list 'changes'"),
    (doc("x"), "changes[0] is str, not an object"),
    (doc({k: v for k, v in RECEIVE.items() if k not in ("after", "status")}), "changes[0] lacks after, status"),
    (doc(RECEIVE, change(object_type="mailbox")), "changes[1] has the unknown object_type 'mailbox'"),
    (doc(change(status="done")), "unknown status 'done'"),
    (doc(change(prop="Services")), "changes 'Services' of a receive_connector"),
    (doc(change("certificate", R11_THUMB, "TlsCertificateName")), "only ever changes Services"),
    (doc(change(host="")), "has host ''"),
    (doc(change(obj=None)), "has object None"),
    (doc(change(before=5)), "has before 5"),
    (doc(change("certificate", R11_THUMB, "Services", ["IIS"], [1])), "not a list of service names"),
    (doc(change("certificate", R11_THUMB, "Services", ["IIS"], ["SMTP"], server=None)), "no server"),
    (doc(change(server=5)), "has server 5"),
])
def test_validation(bad, words):
    with pytest.raises(ValueError) as caught:
        validate(bad)
    assert words in str(caught.value)
    # Every entry point validates.
    for call in (lambda: rollback_steps(bad, "EX01"), lambda: not_reversible(bad, "EX01"), lambda: outcome(None, bad, "EX01")):
        with pytest.raises(ValueError):
            call()


def test_validation_lists_several_problems():
    changes = doc(*[change(status="x")] * 7)
    message = str(pytest.raises(ValueError, validate, changes).value)
    assert "changes[0]" in message and "changes[4]" in message and "and 2 more" in message


def test_a_check_mode_or_incomplete_file_is_valid():
    validate(doc(change(status="planned"), check_mode=True, complete=False))
    validate({"schema": "exchange.transport_tls/changes/v1", "changes": []})


# --------------------------------------------------------------------------
# What happened (the result of the exchange_command task)
# --------------------------------------------------------------------------

def ok_result(steps, live: dict) -> dict:
    """exchange_command's result when every step ran; live: readback id -> the object it returned."""
    return {"changed": True, "stop": None, "steps": [
        {"index": i, "id": s["id"], "cmdlet": s["cmdlet"], "status": "ok",
         "objects": [live.get(s["id"], {})] if s["cmdlet"].startswith("Get-") else [], "warnings": [],
         "error": None, "error_id": None}
        for i, s in enumerate(steps)]}


def test_outcome_restored():
    changes = doc(SERVICES, RECEIVE, DEFAULT)
    steps = rollback_steps(changes, "EX01")
    result = ok_result(steps, {f"readback|receive_connector|{FRONTEND}": {"Identity": FRONTEND, "TlsCertificateName": R10},
                               "readback|transport_service|EX01": {"InternalTransportCertificateThumbprint": OWN}})
    summary = outcome(result, changes, "EX01")
    assert summary["failed"] is False and summary["message"] == "2 value(s) restored."
    assert [(r["object"], r["live"]) for r in summary["restored"]] == [("EX01", OWN), (FRONTEND, R10)]
    assert [s["change"]["property"] for s in summary["skipped"]] == ["Services"]


def test_outcome_write_that_did_not_take():
    changes = doc(RECEIVE)
    result = ok_result(rollback_steps(changes, "EX01"), {f"readback|receive_connector|{FRONTEND}": {"TlsCertificateName": R11}})
    summary = outcome(result, changes, "EX01")
    assert summary["failed"] and f"'{R10}' was written but '{R11}' was read back" in summary["message"]


def test_outcome_guard_failed_names_the_object_and_the_value_found():
    changes = doc(RECEIVE, SEND)
    steps = rollback_steps(changes, "EX01")
    result = {"failed": True, "msg": "guard failed", "steps": [
        {"index": 0, "id": steps[0]["id"], "cmdlet": steps[0]["cmdlet"], "status": "ok", "objects": []},
        {"index": 1, "id": steps[1]["id"], "cmdlet": steps[1]["cmdlet"], "status": "guard_failed", "objects": []}],
        "stop": {"index": 1, "reason": "guard", "message": "...",
                 "mismatches": [{"property": "TlsCertificateName", "expected": R11, "actual": R12}]}}
    summary = outcome(result, changes, "EX01")
    assert summary["failed"] and summary["restored"] == []
    assert summary["message"].startswith(f"Receive connector {FRONTEND} was changed after the run that wrote the changes file:"
                                         f" its TlsCertificateName is '{R12}', not '{R11}' as the run left it.")
    assert "Nothing was restored on this host" in summary["message"]


def test_outcome_guard_read_failed():
    changes = doc(DEFAULT)
    steps = rollback_steps(changes, "EX01")
    result = {"failed": True, "steps": [
        {"index": 0, "id": steps[0]["id"], "status": "ok", "objects": [{}]},
        {"index": 1, "id": steps[1]["id"], "status": "error", "error": f"The certificate with thumbprint {OWN} was not found."}],
        "stop": {"index": 1, "reason": "error", "message": "step 1 failed"}}
    summary = outcome(result, changes, "EX01")
    assert summary["message"] == (f"reading certificate EX01\\{OWN} before restoring failed: The certificate with thumbprint"
                                  f" {OWN} was not found. Nothing was restored on this host.")


def test_outcome_write_failed_says_what_was_restored_before():
    changes = doc(RECEIVE, SEND)
    steps = rollback_steps(changes, "EX01")
    result = {"failed": True, "steps": [
        {"index": 0, "id": steps[0]["id"], "status": "ok"}, {"index": 1, "id": steps[1]["id"], "status": "ok"},
        {"index": 2, "id": steps[2]["id"], "status": "ok"},
        {"index": 3, "id": steps[3]["id"], "status": "error", "error": "Access denied"}],
        "stop": {"index": 3, "reason": "error", "message": "step 3 failed"}}
    summary = outcome(result, changes, "EX01")
    assert summary["failed"]
    assert summary["message"] == (f"the rollback stopped: Access denied. Restored before the failure: send connector {OUTBOUND};"
                                  " later writes did not run.")


def test_outcome_unreachable():
    summary = outcome({"unreachable": True, "msg": "connection refused"}, doc(RECEIVE), "EX01")
    assert summary["failed"] and "connection refused" in summary["message"]


def test_outcome_check_mode():
    changes = doc(RECEIVE)
    steps = rollback_steps(changes, "EX01", check_mode=True)
    summary = outcome(ok_result(steps, {}), changes, "EX01", check_mode=True)
    assert not summary["failed"] and summary["restored"] == []
    assert summary["would_restore"] == [{"object_type": "receive_connector", "object": FRONTEND, "property": "TlsCertificateName",
                                         "server": "EX01", "before": R10, "after": R11}]


def test_outcome_nothing_to_do():
    assert outcome({"skipped": True}, doc(SERVICES), "EX01")["message"] == (
        "nothing to restore on this host; 1 change(s) cannot be undone (see skipped)")
    assert outcome({"skipped": True}, doc(), "EX01") == {
        "restored": [], "would_restore": [], "skipped": [], "failed": False, "message": "nothing to restore on this host",
        "check_mode": False, "already_restored": [], "not_applied": [], "warnings": []}


# --------------------------------------------------------------------------
# The filters
# --------------------------------------------------------------------------

def test_filters():
    filters = rollback_filter.FilterModule().filters()
    assert set(filters) == {"rollback_steps", "rollback_skipped", "rollback_outcome", "rollback_reads", "rollback_plan",
                            "rollback_changes_file"}
    assert filters["rollback_steps"](doc(RECEIVE), "EX01", True) == rollback_steps(doc(RECEIVE), "EX01", True)
    assert filters["rollback_skipped"](doc(SERVICES), "EX01") == not_reversible(doc(SERVICES), "EX01")
    with pytest.raises(AnsibleFilterError, match="^connector_tls_changes_file: the changes file's schema is"):
        filters["rollback_steps"]({"schema": "x", "changes": []}, "EX01")


def test_filters_take_ansible_tagged_values():
    class Tagged(str):
        pass

    tagged = copy.deepcopy(doc(RECEIVE))
    tagged["changes"][0] = {Tagged(k): (Tagged(v) if isinstance(v, str) else v) for k, v in tagged["changes"][0].items()}
    steps = rollback_filter.rollback_steps(tagged, Tagged("EX01"))
    assert steps == rollback_steps(doc(RECEIVE), "EX01")
    assert not any(isinstance(s["id"], Tagged) for s in steps)


@pytest.mark.parametrize("name", ["rollback_steps", "rollback_skipped", "rollback_outcome", "rollback_reads", "rollback_plan",
                                  "rollback_changes_file"])
def test_sidecar_documentation(name):
    documentation = yaml.safe_load((ROOT / "plugins" / "filter" / f"{name}.yml").read_text())
    assert documentation["DOCUMENTATION"]["name"] == name
    assert "_value" in documentation["RETURN"]


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

OBJECTS = [
    ("receive_connector", FRONTEND), ("receive_connector", "EX01\\Client Frontend EX01"), ("send_connector", OUTBOUND),
    ("send_connector", "Partner"), ("hybrid_configuration", "Hybrid Configuration"),
]


@given(st.lists(st.tuples(st.sampled_from(OBJECTS), st.sampled_from(["EX01", "EX02"]),
                          st.sampled_from(["applied", "planned", "not_applied", "attempted", "unknown"])), max_size=8),
       st.booleans())
def test_any_file(entries, check_mode):
    """Guards before sets before read-backs; one guard, set and read-back per restored object; Get-* only in check mode."""
    # A receive connector's entry is on its own server's host (a record that says otherwise is refused, tested below).
    entries = [((t, o), o.split("\\")[0] if t == "receive_connector" else h, s) for (t, o), h, s in entries]
    changes = doc(*[change(t, o, host=h, server=h, status=s) for (t, o), h, s in entries])
    steps = rollback_steps(changes, "EX01", check_mode)
    restored = {(t, o) for (t, o), h, s in entries if h == "EX01" and s in ("applied", "attempted", "unknown")}
    kinds = [s["id"].split("|", 1)[0] for s in steps]
    assert kinds == sorted(kinds, key=["guard", "set", "readback"].index)
    assert kinds.count("guard") == len(restored)
    assert kinds.count("set") == kinds.count("readback") == (0 if check_mode else len(restored))
    assert all(s["cmdlet"].startswith("Get-") for s in steps) or not check_mode
    assert {tuple(s["id"].split("|")[1:]) for s in steps} == restored
    # The guard step of each object names the same object as its set.
    for s in steps:
        if s["id"].startswith("set|"):
            assert ("guard|" + s["id"][4:]) in ids(steps)


def test_rollback_module_exports():
    assert set(rollback.__all__) >= {"rollback_steps", "not_reversible", "validate", "outcome"}


# --------------------------------------------------------------------------
# A record that does not match its hosts and objects is refused (issue 19 item 3, review F8)
# --------------------------------------------------------------------------

ATTACKER = "<I>CN=Attacker CA<S>CN=mail.contoso.com"
SELF_SIGNED = "0" * 40


@pytest.mark.parametrize("entries, words", [
    # F8: EX01 told to write a name of the attacker's choice onto EX02's connector.
    ([change(obj="EX02\\Default Frontend EX02", before=ATTACKER, host="EX01", server="EX01")],
     "changes[0] (host EX01, receive_connector 'EX02\\\\Default Frontend EX02') is a connector of server EX02, but the"
     " entry's server is EX01"),
    # The same with the server field forged too: EX01's other entries put it on EX01.
    ([RECEIVE, change(obj="EX02\\Default Frontend EX02", before=ATTACKER, host="EX01", server="EX02")],
     "changes[1] (host EX01, receive_connector 'EX02\\\\Default Frontend EX02') is on server EX02, but host EX01's other"),
    ([change(obj="EX02\\Default Frontend EX02", host="EX01", server="EX02"),
      change(obj="EX02\\Client Frontend EX02", host="EX02", server="EX02")],
     "puts server EX02 under host EX02, but host EX01's entries are on it too"),
    # F8: a public certificate made the default SMTP certificate through a forged before.
    ([change("transport_service", "EX01", "InternalTransportCertificateThumbprint", "mail.contoso.com", SELF_SIGNED)],
     "has before 'mail.contoso.com', not a certificate thumbprint"),
    ([change("transport_service", "EX02", "InternalTransportCertificateThumbprint", OWN, SELF_SIGNED)],
     "is the transport service of EX02, but the entry's server is EX01"),
    ([change(before="CN=mail.contoso.com")], "which is not a TlsCertificateName"),
    ([change(obj="Default Frontend EX01")], "is not SERVER\\Name"),
    ([change("certificate", "not-a-thumbprint", "Services", ["IIS"], ["IIS", "SMTP"])], "is not a certificate thumbprint"),
    ([change("service", "Spooler", "Restart", None, None)], "is not a transport service"),
    ([change(server=None)], "has no server, which a receive_connector change needs"),
])
def test_a_forged_record_is_refused_naming_the_entry(entries, words):
    with pytest.raises(ValueError, match="^the changes file is not valid: ") as raised:
        validate(doc(*entries))
    assert words in str(raised.value)
    # Refused before any launch: the playbook builds no step from it.
    with pytest.raises(ValueError):
        rollback.read_steps(doc(*entries), "EX01")


def test_a_malformed_run_id_is_refused():
    with pytest.raises(ValueError, match="run_id '../x' is not a run id"):
        validate(doc(RECEIVE, run_id="../x"))
    validate(doc(RECEIVE, run_id="20261207T233904.123Z-2"))


def read_result(*objects, computer="EX01", certificates=()):
    """exchange_command's result of read_steps(doc(...)) with each target's object as given (None: not found)."""
    steps = [{"id": f"read|{t}", "status": "ok", "objects": [] if o is None else [o]} for t, o in objects]
    steps.append({"id": "read|certificates|EX01", "status": "ok", "objects": list(certificates)})
    return {"changed": False, "computer_name": computer, "steps": steps}


FRONTEND_ID = f"receive_connector|{FRONTEND}"
R11_CERT = {"Thumbprint": R11_THUMB, "Issuer": "CN=R11, O=Let's Encrypt, C=US", "Subject": "CN=mail.contoso.com"}
R10_CERT = dict(R11_CERT, Issuer="CN=R10, O=Let's Encrypt, C=US")


def test_the_read_comes_before_any_write_and_reads_every_unsettled_entry():
    steps = rollback.read_steps(doc(change(status="attempted"), change("send_connector", OUTBOUND, status="unknown"),
                                    change(obj="EX01\\Client Frontend EX01", status="not_applied")), "EX01")
    assert [(s["id"], s["cmdlet"]) for s in steps] == [
        (f"read|send_connector|{OUTBOUND}", "Get-SendConnector"), (f"read|{FRONTEND_ID}", "Get-ReceiveConnector"),
        ("read|certificates|EX01", "Get-ExchangeCertificate")]
    assert all("guard" not in s for s in steps)


@pytest.mark.parametrize("status, live, restore, where, words", [
    ("applied", R11, True, None, None),
    ("attempted", R11, True, None, None),
    ("unknown", R11, True, None, None),
    # Idempotent: a second rollback finds the value from before the run.
    ("applied", R10, False, "already", "1 value(s) already restored"),
    ("attempted", R10, False, "not_applied", "1 recorded write(s) not applied, nothing to restore"),
    ("unknown", R10, False, "not_applied", "1 recorded write(s) not applied, nothing to restore"),
])
def test_decide_restores_only_what_holds_the_runs_value(status, live, restore, where, words):
    changes = doc(change(status=status))
    plan = rollback.decide(read_result((FRONTEND_ID, {"Identity": FRONTEND, "TlsCertificateName": live}),
                                       certificates=[R10_CERT, R11_CERT]), changes, "EX01")
    assert [r["id"] for r in plan["restore"]] == ([FRONTEND_ID] if restore else [])
    assert plan["conflicts"] == [] and plan["problem"] is None and plan["warnings"] == []
    steps = rollback_steps(changes, "EX01", False, plan)
    assert len(steps) == (3 if restore else 0)
    if where:
        assert [r["object"] for r in plan[where]] == [FRONTEND]
        result = outcome({"skipped": True}, changes, "EX01", False, plan)
        assert result["failed"] is False and result["message"].startswith(words), result


def test_decide_refuses_a_host_when_an_object_holds_a_third_value():
    changes = doc(change(status="attempted"), SEND)
    plan = rollback.decide(read_result((f"send_connector|{OUTBOUND}", {"TlsCertificateName": R11}),
                                       (FRONTEND_ID, {"TlsCertificateName": R12})), changes, "EX01")
    assert plan["conflicts"] == [f"Receive connector {FRONTEND} was changed after the run that wrote the changes file: its"
                                 f" TlsCertificateName is '{R12}', not '{R11}' as the run left it (nor '{R10}', the value"
                                 " before the run)"]
    assert rollback_steps(changes, "EX01", False, plan) == []
    result = outcome({"skipped": True}, changes, "EX01", False, plan)
    assert result["failed"] and "Nothing was restored on this host" in result["message"]


def test_decide_refuses_a_host_that_is_another_server():
    plan = rollback.decide(read_result((FRONTEND_ID, {"TlsCertificateName": R11}), computer="EX02"), doc(RECEIVE), "EX01")
    assert plan["problem"].startswith("this host is Exchange server EX02, but the changes file puts its entries on EX01")
    assert rollback_steps(doc(RECEIVE), "EX01", False, plan) == []


def test_decide_warns_when_the_restored_name_matches_no_certificate():
    plan = rollback.decide(read_result((FRONTEND_ID, {"TlsCertificateName": R11}), certificates=[R11_CERT]),
                           doc(RECEIVE), "EX01")
    assert [r["id"] for r in plan["restore"]] == [FRONTEND_ID]
    assert plan["warnings"] == [f"Receive connector {FRONTEND}: the name put back, '{R10}', matches no certificate on EX01,"
                                " so STARTTLS on it will fail again (as before the run); restore only if that is what you want"]
