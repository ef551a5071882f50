# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for plugin_utils/_converge/converge_action.py: applying a decided plan, and what the user reads afterwards.

The server is EX01 at 2026-11-27T12:00:00Z. Its Default Frontend connector
still names Let's Encrypt R10's certificate for mail.contoso.com; the renewal
from R11 is installed but not enabled for SMTP; the default SMTP (internal
transport) certificate is Exchange's own CN=EX01 (IMAP, POP, IIS, SMTP).

The plan is the real one (receive_plan.plan from facts). Ansible's executor
is not involved: the action's run_batch is replaced by a scripted
exchange_command that answers each launch from the steps it was given, in
the payload's result contract (steps[] and stop), so every test stays tied to
the step ids the plan really sends.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import requests
from ansible.errors import AnsibleConnectionFailure

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import receive_plan, smtp_enable
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import Change, diff_entries
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import converge_action
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge_action import ConvergeActionBase, facts_from
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload.exchange_action import BatchFailed

from ..facts_factories import FRONTEND, MAIL, R10, R11, R12, cert, own_certificate_of, receive_connector, server_facts

R10_NAME = f"<I>{R10}<S>{MAIL}"
R11_NAME = f"<I>{R11}<S>{MAIL}"
R12_NAME = f"<I>{R12}<S>{MAIL}"
R11_THUMB = "5B2F8C1E9A0D4E7F6A3B2C1D0E9F8A7B6C5D4E3F"
R12_THUMB = "7D4E1F2A3B4C5D6E7F8091A2B3C4D5E6F7081920"
# Someone else's certificate that became the default SMTP certificate.
OTHER_THUMB = "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567"
DEFAULT = own_certificate_of("EX01")
DEFAULT_THUMB = DEFAULT["thumbprint"]
CLIENT = "EX01\\Client Frontend EX01"
HUB = "EX01\\Default EX01"
KEY = f"EX01\\{R11_THUMB}"
ARGS = {"session": "auto"}
TASK_VARS = {"inventory_hostname": "ex01.contoso.com"}
# What Enable-ExchangeCertificate -Force did to the default, and how the user puts it back.
REPAIR = f"Enable-ExchangeCertificate -Server EX01 -Thumbprint {DEFAULT_THUMB} -Services SMTP -Force"


# --------------------------------------------------------------------------
# Facts and plans
# --------------------------------------------------------------------------


def renewal(**overrides) -> dict:
    """R11's certificate for mail.contoso.com, imported, SMTP not enabled yet."""
    return cert(**{"thumbprint": R11_THUMB, "services": ["IIS"], **overrides})


def r12(**overrides) -> dict:
    defaults = dict(issuer=R12, thumbprint=R12_THUMB, not_before="2026-11-20T00:00:00Z", not_after="2027-02-18T00:00:00Z")
    defaults.update(overrides)
    return cert(**defaults)


def client_frontend(**overrides) -> dict:
    defaults = dict(identity=CLIENT, name="Client Frontend EX01", bindings=["0.0.0.0:587"], ports=[587],
                    permission_groups=["ExchangeUsers"], tls_certificate_name=R10_NAME)
    defaults.update(overrides)
    return receive_connector(**defaults)


def hub(**overrides) -> dict:
    defaults = dict(identity=HUB, name="Default EX01", transport_role="HubTransport", bindings=["0.0.0.0:2525"],
                    ports=[2525], fqdn="ex01.contoso.com",
                    permission_groups=["ExchangeUsers", "ExchangeServers", "ExchangeLegacyServers"])
    defaults.update(overrides)
    return receive_connector(**defaults)


def facts(certificates=None, connectors=None) -> dict:
    """EX01 with its default, the given certificates (R11's renewal lacking SMTP) and connectors (the stale frontend)."""
    return server_facts(
        "EX01",
        certificates=[DEFAULT] + list(certificates if certificates is not None else [renewal()]),
        receive_connectors=list(connectors if connectors is not None else [receive_connector(tls_certificate_name=R10_NAME)]),
    )


def smtp_plan():
    """The frontend moves from R10 to R11, SMTP enabled on R11 first (two launches)."""
    plan = receive_plan.plan(facts())
    assert [i.key for i in plan.smtp] == [KEY]
    return plan


def plain_plan(connectors=None):
    """R11 already has SMTP: only the write launch."""
    plan = receive_plan.plan(facts([renewal(services=["IIS", "SMTP"])], connectors))
    assert plan.smtp == []
    return plan


# --------------------------------------------------------------------------
# A scripted exchange_command
# --------------------------------------------------------------------------


def ids(steps) -> list:
    return [s["id"] for s in steps]


def echo(step: dict, steps: list) -> list:
    """Plausible objects for a step that succeeded, derived from the batch itself."""
    sid = step["id"]
    if "guard" in step:
        return [dict(step["guard"])]
    if sid.startswith("readback|receive_connector|"):
        identity = sid.split("|", 2)[2]
        (written,) = [s["parameters"]["TlsCertificateName"] for s in steps if s["id"] == f"set|receive_connector|{identity}"]
        return [{"Identity": identity, "TlsCertificateName": written}]
    if sid.startswith("readback|transport_service|"):
        server = sid.split("|", 2)[2]
        (recorded,) = [s["guard"]["InternalTransportCertificateThumbprint"] for s in steps
                       if s["id"] == f"guard|transport_service|{server}"]
        return [{"InternalTransportCertificateThumbprint": recorded}]
    if sid.startswith("readback|certificate|"):
        return [{"Thumbprint": sid.rsplit("\\", 1)[1], "Services": "IIS, SMTP"}]
    return []


def entry(index: int, step: dict, status: str = "ok", objects=None, error=None) -> dict:
    return {"index": index, "id": step["id"], "cmdlet": step["cmdlet"], "status": status, "objects": list(objects or []),
            "warnings": [], "error": error, "error_id": None}


def completes(read=None):
    """A launch that runs every step; ``read`` replaces the objects of some steps (by id)."""
    read = read or {}

    def answer(steps):
        ran = [entry(i, s, objects=read[s["id"]] if s["id"] in read else echo(s, steps)) for i, s in enumerate(steps)]
        return {"changed": True, "failed": False, "stop": None, "steps": ran}

    return answer


def stops_at(step_id: str, reason: str = "error", error=None, mismatches=None):
    """A launch that stops at ``step_id``: a cmdlet error, or a guard whose live values differ."""

    def answer(steps):
        index = ids(steps).index(step_id)  # ValueError when the plan does not send this step
        step = steps[index]
        ran = [entry(i, s, objects=echo(s, steps)) for i, s in enumerate(steps[:index])]
        if reason == "guard":
            problems = "; ".join(f"{m['property']} is '{m['actual']}' but '{m['expected']}' was expected" for m in mismatches)
            message = f"guard failed on step {index} ({step['cmdlet']}): {problems}"
            ran.append(entry(index, step, "guard_failed", objects=[{m["property"]: m["actual"] for m in mismatches}]))
        else:
            message = f"step {index} ({step['cmdlet']}) failed: {error}"
            ran.append(entry(index, step, "error", error=error))
        stop = {"index": index, "reason": reason, "message": message, "mismatches": list(mismatches or [])}
        raise BatchFailed({"failed": True, "msg": message, "changed": False, "steps": ran, "stop": stop})

    return answer


def rereads(live: dict):
    """The new launch that reads again what a failed write launch meant to change: only read-backs, each allowed to
    fail alone; ``live`` maps a step id to its objects, or to an error text."""

    def answer(steps):
        assert all(s["id"].startswith("readback|") and s["cmdlet"].startswith("Get-") and s["continue_on_error"] for s in steps), ids(steps)
        ran = []
        for i, s in enumerate(steps):
            value = live.get(s["id"], "not scripted")
            ran.append(entry(i, s, "error", error=value) if isinstance(value, str) else entry(i, s, objects=value))
        return {"changed": False, "failed": False, "stop": None, "steps": ran}

    return answer


def connector_reads(**values) -> dict:
    """Re-read answers for receive connectors: identity -> TlsCertificateName."""
    return {f"readback|receive_connector|{k}": [{"Identity": k, "TlsCertificateName": v}] for k, v in values.items()}


def smtp_reads(services: str, default: str) -> dict:
    return {f"readback|certificate|{KEY}": [{"Thumbprint": R11_THUMB, "Services": services}],
            "readback|transport_service|EX01": [{"InternalTransportCertificateThumbprint": default}]}


def mismatch(prop: str, expected: str, actual: str) -> list:
    return [{"property": prop, "expected": expected, "actual": actual}]


class Launches:
    """Stands in for run_batch: records every batch, answers with the next scripted launch."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.batches = []
        self.passed = []

    def __call__(self, steps, args, task_vars):
        assert len(self.batches) < len(self.answers), f"launch {len(self.batches) + 1} was not expected: {ids(steps)}"
        self.batches.append(steps)
        self.passed.append((args, task_vars))
        return self.answers[len(self.batches) - 1](steps)


class _Action(ConvergeActionBase):
    def run(self, tmp=None, task_vars=None):
        raise NotImplementedError("these tests call converge directly")


def converge(plan, *answers, check_mode=False, diff=False, launches=1):
    """Run ConvergeActionBase.converge as the action plugins do; the result and the launches it made."""
    action = object.__new__(_Action)
    action._task = SimpleNamespace(check_mode=check_mode, diff=diff)
    fake = Launches(*answers)
    action.run_batch = fake
    built = []

    def write_steps():
        built.append(True)
        return receive_plan.write_steps(plan)

    result = action.converge({"changed": False}, plan, write_steps, ARGS, TASK_VARS, launches)
    fake.write_steps_built = bool(built)
    return result, fake


def services_change(after=None) -> dict:
    return Change("certificate", R11_THUMB, "Services", ["IIS"], after or ["IIS", "SMTP"], "EX01").as_dict()


def connector_change(identity: str = FRONTEND, after: str = R11_NAME, before: str = R10_NAME, server="EX01") -> dict:
    return Change("receive_connector", identity, "TlsCertificateName", before, after, server).as_dict()


def default_change(after: str) -> dict:
    return Change("transport_service", "EX01", "InternalTransportCertificateThumbprint", DEFAULT_THUMB, after, "EX01").as_dict()


def diff_of(changes: list) -> list:
    return diff_entries([Change(**c) for c in changes])


# --------------------------------------------------------------------------
# Check mode, and nothing to do
# --------------------------------------------------------------------------


@pytest.mark.parametrize("diff", [True, False], ids=["diff", "no-diff"])
def test_check_mode_reports_the_plan_and_launches_nothing(diff) -> None:
    plan = smtp_plan()
    result, fake = converge(plan, check_mode=True, diff=diff, launches=1)

    assert fake.batches == [] and not fake.write_steps_built
    assert result["changed"] is True
    assert "failed" not in result and "msg" not in result
    assert result["launches"] == 1
    assert result["changes"] == [c.as_dict() for c in plan.changes]
    assert connector_change() in result["changes"] and services_change() in result["changes"]
    assert result["plans"] == [d.as_dict() for d in plan.decisions]
    assert [(s["enabled"], s["done"]) for s in result["smtp"]] == [(R11_THUMB, False)]
    if diff:
        assert result["diff"] == diff_entries(plan.changes)
        assert any(R10_NAME in d["before"] and R11_NAME in d["after"] for d in result["diff"])
    else:
        assert "diff" not in result


def test_nothing_to_change_launches_nothing_even_outside_check_mode() -> None:
    plan = receive_plan.plan(facts([renewal(services=["IIS", "SMTP"])], [receive_connector(tls_certificate_name=R11_NAME)]))
    result, fake = converge(plan, diff=True, launches=1)
    assert fake.batches == []
    assert (result["changed"], result["changes"], result["launches"]) == (False, [], 1)
    assert "diff" not in result and "failed" not in result


def test_plan_warnings_are_passed_on() -> None:
    plan = receive_plan.plan(facts([renewal(services="unknown", properties_complete=False)]), enable_smtp=False)
    result, _fake = converge(plan, check_mode=True)
    (warning,) = result["warnings"]
    assert R11_THUMB in warning and "enable_smtp=false" in warning


# --------------------------------------------------------------------------
# The happy path
# --------------------------------------------------------------------------


def test_smtp_then_write_two_launches_and_changes_as_read_back() -> None:
    plan = smtp_plan()
    result, fake = converge(plan, completes(), completes(), diff=True, launches=1)

    assert ids(fake.batches[0]) == ids(smtp_enable.enable_steps(plan.smtp))
    assert ids(fake.batches[0]) == [
        "guard|transport_service|EX01", f"guard|certificate|EX01\\{DEFAULT_THUMB}", f"guard|certificate|{KEY}",
        f"enable|certificate|{KEY}", f"restore|{KEY}", "readback|transport_service|EX01", f"readback|certificate|{KEY}",
    ]
    assert ids(fake.batches[1]) == ids(receive_plan.write_steps(plan))
    assert fake.batches[1][0]["id"] == "verify|transport_service|EX01"
    assert fake.passed == [(ARGS, TASK_VARS)] * 2

    assert "failed" not in result and "msg" not in result
    assert result["changed"] is True
    assert result["launches"] == 3
    assert result["changes"] == [services_change(), connector_change()]
    (smtp,) = result["smtp"]
    assert smtp["done"] is True
    assert smtp["services_after"] == ["IIS", "SMTP"]
    assert smtp["internal_transport_certificate"] == {"before": DEFAULT_THUMB, "after": DEFAULT_THUMB}
    assert result["diff"] == diff_of(result["changes"])


def test_after_is_the_value_read_back_not_the_value_sent() -> None:
    # Exchange answers the name in its own spelling; the user sees what the server holds.
    live = "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com".upper()
    plan = plain_plan()
    readback = {f"readback|receive_connector|{FRONTEND}": [{"Identity": FRONTEND, "TlsCertificateName": live}]}
    result, fake = converge(plan, completes(readback), diff=True, launches=0)

    assert len(fake.batches) == 1 and result["launches"] == 1
    assert "failed" not in result
    assert result["changes"] == [connector_change(after=live)]
    assert result["diff"] == diff_of(result["changes"])
    assert live in result["diff"][0]["after"]


# --------------------------------------------------------------------------
# The SMTP launch fails
# --------------------------------------------------------------------------


@pytest.mark.parametrize("diff", [True, False], ids=["diff", "no-diff"])
def test_smtp_launch_stopped_by_a_guard_writes_nothing(diff) -> None:
    plan = smtp_plan()
    guard = stops_at("guard|transport_service|EX01", "guard",
                     mismatches=mismatch("InternalTransportCertificateThumbprint", DEFAULT_THUMB, OTHER_THUMB))
    result, fake = converge(plan, guard, diff=diff, launches=1)

    assert len(fake.batches) == 1 and not fake.write_steps_built
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["changes"] == []
    assert result["launches"] == 2
    message = result["msg"]
    assert message.startswith("Transport service of EX01 changed since it was read:")
    assert f"its InternalTransportCertificateThumbprint was '{DEFAULT_THUMB}' when read and is now '{OTHER_THUMB}'" in message
    assert "Nothing was written." in message
    assert "Earlier in this run" not in message
    assert [s["done"] for s in result["smtp"]] == [False]
    if diff:
        assert result["diff"] == []
    else:
        assert "diff" not in result


def test_restore_failed_reports_the_new_default_and_how_to_repair_it() -> None:
    plan = smtp_plan()
    assert plan.smtp[0].repair_command() == REPAIR
    failed = stops_at(f"restore|{KEY}", error="The certificate could not be enabled: access denied.")
    # A failed write step may have written: what it did is read again, in a new launch.
    result, fake = converge(plan, failed, rereads(smtp_reads("IIS, SMTP", R11_THUMB)), diff=True, launches=1)

    assert len(fake.batches) == 2 and not fake.write_steps_built
    assert ids(fake.batches[1]) == ["readback|transport_service|EX01", f"readback|certificate|{KEY}"]
    assert result["failed"] is True
    # Enable-ExchangeCertificate -Force did run: the task changed the server, and says how.
    assert result["changed"] is True
    assert result["changes"] == [services_change(), default_change(R11_THUMB)]
    assert result["unknown_changes"] == []
    assert result["diff"] == diff_of(result["changes"])
    assert result["launches"] == 3
    message = result["msg"]
    assert REPAIR in message
    assert "no connector was changed" in message
    assert "The certificate could not be enabled: access denied." in message
    assert f"EX01's default SMTP (internal transport) certificate is now {R11_THUMB}" in message
    (smtp,) = result["smtp"]
    assert smtp["internal_transport_certificate"] == {"before": DEFAULT_THUMB, "after": R11_THUMB}
    assert smtp["done"] is False


@pytest.fixture
def sleeps(monkeypatch) -> list:
    """The read-back polling's waits, recorded instead of slept."""
    waited: list = []
    monkeypatch.setattr(converge_action.time, "sleep", waited.append)
    return waited


def reads(default: str, services: str = "IIS, SMTP"):
    """A read-only launch (smtp_enable.readback_steps) that reads ``default`` as EX01's default."""
    return completes({"readback|transport_service|EX01": [{"InternalTransportCertificateThumbprint": default}],
                      f"readback|certificate|{KEY}": [{"Thumbprint": R11_THUMB, "Services": services}]})


def test_read_back_showing_another_default_reports_the_live_default(sleeps) -> None:
    plan = smtp_plan()
    other = completes({"readback|transport_service|EX01": [{"InternalTransportCertificateThumbprint": OTHER_THUMB}]})
    result, fake = converge(plan, other, reads(OTHER_THUMB), reads(OTHER_THUMB), reads(OTHER_THUMB), launches=1)

    # Read again three times, 10 s apart (Microsoft's script waits 10 s), before declaring it.
    assert sleeps == list(smtp_enable.READBACK_WAITS) == [10, 10, 10]
    assert len(fake.batches) == 4 and not fake.write_steps_built
    assert [ids(b) for b in fake.batches[1:]] == [["readback|transport_service|EX01", f"readback|certificate|{KEY}"]] * 3
    assert result["launches"] == 5
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["changes"] == [services_change(), default_change(OTHER_THUMB)]
    message = result["msg"]
    assert "the default read back afterwards is another certificate (read again for 30 seconds)" in message
    assert f"is now {OTHER_THUMB}; no connector was changed" in message
    assert REPAIR in message
    assert [s["done"] for s in result["smtp"]] == [False]


def test_a_stale_read_back_is_read_again_until_it_shows_the_restored_default(sleeps) -> None:
    # The enable launch read the default through a domain controller that had not seen the restore yet.
    plan = smtp_plan()
    stale = completes({"readback|transport_service|EX01": [{"InternalTransportCertificateThumbprint": R11_THUMB}]})
    failing_read = stops_at("readback|transport_service|EX01", error="The LDAP server is unavailable.")
    result, fake = converge(plan, stale, failing_read, reads(DEFAULT_THUMB), completes(), launches=1)

    assert sleeps == [10, 10], "a failed re-read proves nothing: read once more, then stop polling once it agrees"
    assert fake.write_steps_built and len(fake.batches) == 4
    assert result.get("failed") is not True, result.get("msg")
    assert result["launches"] == 5
    assert result["changes"] == [services_change(), connector_change()]
    assert [s["done"] for s in result["smtp"]] == [True]
    assert result["smtp"][0]["internal_transport_certificate"] == {"before": DEFAULT_THUMB, "after": DEFAULT_THUMB}


def test_a_restore_that_failed_is_not_polled(sleeps) -> None:
    plan = smtp_plan()
    result, fake = converge(plan, stops_at(f"restore|{KEY}", error="UMStartupMode is TCP."), launches=1)
    assert sleeps == [] and len(fake.batches) == 1 and result["failed"] is True


@pytest.mark.parametrize("given, expected", [(None, "dc2.contoso.com"), ("dc1.contoso.com", "dc1.contoso.com")])
def test_every_write_launch_pins_one_domain_controller(given, expected) -> None:
    # The facts' domain controller (OriginatingServer of their read) unless the user named one.
    source = facts()
    source["domain_controller"] = "dc2.contoso.com"
    plan = receive_plan.plan(source)
    action = object.__new__(_Action)
    action._task = SimpleNamespace(check_mode=False, diff=False)
    fake = Launches(completes(), completes())
    action.run_batch = fake
    args = dict(ARGS, domain_controller=given)
    result = action.converge({"changed": False}, plan, lambda: receive_plan.write_steps(plan), args, TASK_VARS, 1)
    assert result.get("failed") is not True, result.get("msg")
    assert [passed["domain_controller"] for passed, _vars in fake.passed] == [expected, expected]
    assert args["domain_controller"] == given, "the task's own options are not changed"


def test_without_a_known_domain_controller_none_is_passed() -> None:
    result, fake = converge(smtp_plan(), completes(), completes(), launches=1)
    assert result.get("failed") is not True
    assert [passed for passed, _vars in fake.passed] == [ARGS, ARGS]


def test_certificate_read_back_without_smtp_stops_before_the_connectors(sleeps) -> None:
    plan = smtp_plan()
    iis = reads(DEFAULT_THUMB, "IIS")
    result, fake = converge(plan, completes({f"readback|certificate|{KEY}": [{"Thumbprint": R11_THUMB, "Services": "IIS"}]}),
                            iis, iis, iis)
    assert len(fake.batches) == 4 and sleeps == [10, 10, 10]
    assert result["failed"] is True
    assert "certificate's services read back as IIS (read again for 30 seconds); no connector was changed" in result["msg"]
    assert not any(c["object_type"] == "receive_connector" for c in result["changes"])


def test_smtp_launch_error_before_enabling_changed_nothing() -> None:
    plan = smtp_plan()
    result, fake = converge(plan, stops_at(f"guard|certificate|{KEY}", error="The certificate was not found."))
    assert len(fake.batches) == 1
    assert result["failed"] is True
    assert result["changed"] is False and result["changes"] == []
    assert result["msg"].startswith("enabling SMTP failed: step 2 (Get-ExchangeCertificate) failed: The certificate was not found.")
    assert "No connector was changed." in result["msg"]
    assert REPAIR not in result["msg"]


# --------------------------------------------------------------------------
# The write launch fails after SMTP was enabled
# --------------------------------------------------------------------------


def test_verify_guard_mismatch_says_the_default_is_no_longer_ours() -> None:
    plan = smtp_plan()
    verify = stops_at("verify|transport_service|EX01", "guard",
                      mismatches=mismatch("InternalTransportCertificateThumbprint", DEFAULT_THUMB, OTHER_THUMB))
    result, fake = converge(plan, completes(), verify, diff=True, launches=1)

    assert len(fake.batches) == 2 and result["launches"] == 3
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["changes"] == [services_change()]
    assert result["diff"] == diff_of([services_change()])
    expected = smtp_enable.not_restored_message(
        plan.smtp[0], OTHER_THUMB, "it was no longer the default when the connectors were to be written")
    assert result["msg"] == (f"{expected} Earlier in this run, before this failure: {R11_THUMB} (Services) changed"
                             " (see 'changes').")
    assert f"is now {OTHER_THUMB}" in result["msg"] and REPAIR in result["msg"]


def test_verify_read_error_says_reading_failed_without_a_repair_command() -> None:
    plan = smtp_plan()
    verify = stops_at("verify|transport_service|EX01", error="Active Directory operation failed.")
    result, fake = converge(plan, completes(), verify, diff=True, launches=1)

    assert len(fake.batches) == 2
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["changes"] == [services_change()]
    message = result["msg"]
    assert message.startswith("reading the default SMTP certificate of EX01 again before writing failed:"
                              " Active Directory operation failed.")
    assert f"It was read back as {DEFAULT_THUMB} right after SMTP was enabled. No connector was written; run again." in message
    assert REPAIR not in message and "Enable-ExchangeCertificate" not in message
    assert f"Earlier in this run, before this failure: {R11_THUMB} (Services) changed" in message


def test_connector_guard_mismatch_after_smtp_names_both_values_and_the_smtp_change() -> None:
    plan = smtp_plan()
    guard = stops_at(f"guard|receive_connector|{FRONTEND}", "guard", mismatches=mismatch("TlsCertificateName", R10_NAME, R12_NAME))
    result, fake = converge(plan, completes(), guard, diff=True, launches=1)

    assert len(fake.batches) == 2 and result["launches"] == 3
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["changes"] == [services_change()]
    assert result["diff"] == diff_of([services_change()])
    message = result["msg"]
    assert message.startswith(f"Receive connector {FRONTEND} changed since it was read:")
    assert f"its TlsCertificateName was '{R10_NAME}' when read and is now '{R12_NAME}'" in message
    assert "Nothing more was written." in message and "Nothing was written" not in message
    assert f"Earlier in this run, before this failure: {R11_THUMB} (Services) changed (see 'changes')." in message
    assert [s["done"] for s in result["smtp"]] == [True]


def test_connector_guard_read_error_after_smtp_does_not_claim_nothing_was_written() -> None:
    plan = smtp_plan()
    failed = stops_at(f"guard|receive_connector|{FRONTEND}", error="The operation couldn't be performed because object couldn't be found.")
    result, _fake = converge(plan, completes(), failed, launches=1)

    message = result["msg"]
    assert message.startswith(f"reading receive connector {FRONTEND} again before writing failed:")
    assert f"Earlier in this run, before this failure: {R11_THUMB} (Services) changed" in message
    assert "Nothing was written" not in message


def test_connector_guard_read_error_without_smtp_says_nothing_was_written() -> None:
    plan = plain_plan()
    failed = stops_at(f"guard|receive_connector|{FRONTEND}", error="The operation couldn't be performed because object couldn't be found.")
    result, _fake = converge(plan, failed, launches=1)
    assert result["failed"] is True and result["changed"] is False and result["changes"] == []
    assert result["msg"].startswith(f"reading receive connector {FRONTEND} again before writing failed: The operation couldn't be"
                                    " performed because object couldn't be found.")
    assert result["msg"].endswith(" Nothing was written. Gather facts again and rerun.")


@pytest.mark.parametrize("step_id", [f"guard|receive_connector|{FRONTEND}", f"set|receive_connector|{FRONTEND}"], ids=["guard", "set"])
def test_an_error_ending_with_a_period_is_not_doubled(step_id) -> None:
    failed = stops_at(step_id, error="The operation couldn't be performed because object couldn't be found.")
    result, _fake = converge(plain_plan(), failed, rereads(connector_reads(**{FRONTEND: R10_NAME})), launches=1)
    assert result["failed"] is True
    assert ".." not in result["msg"]


# --------------------------------------------------------------------------
# The write launch fails partway, or does not take
# --------------------------------------------------------------------------


def two_connectors():
    plan = plain_plan([receive_connector(tls_certificate_name=R10_NAME), client_frontend()])
    assert [c.object for c in plan.changes] == [FRONTEND, CLIENT]
    return plan


def test_error_on_the_second_set_is_settled_by_a_new_read() -> None:
    plan = two_connectors()
    failed = stops_at(f"set|receive_connector|{CLIENT}", error="Active Directory response: The server is unwilling to process the request")
    live = rereads(connector_reads(**{FRONTEND: R11_NAME, CLIENT: R10_NAME}))
    result, fake = converge(plan, failed, live, diff=True, launches=1)

    assert len(fake.batches) == 2 and result["launches"] == 3
    assert ids(fake.batches[1]) == [f"readback|receive_connector|{FRONTEND}", f"readback|receive_connector|{CLIENT}"]
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["changes"] == [connector_change(FRONTEND)]
    assert result["unknown_changes"] == []
    assert result["diff"] == diff_of(result["changes"])
    index = ids(fake.batches[0]).index(f"set|receive_connector|{CLIENT}")
    assert result["msg"] == (
        f"step {index} (Set-ReceiveConnector) failed: Active Directory response: The server is unwilling to process the"
        " request. The launch that wrote the connectors may have run all the same, so the objects it meant to change were"
        f" read again in a new launch. Applied (read back at the value sent): {FRONTEND} (TlsCertificateName {R11_NAME})."
        f" Not applied (read back at the value before): {CLIENT} (TlsCertificateName)."
        " Run again: the rerun decides from the live values.")


def test_a_write_step_that_failed_after_writing_is_recorded_applied() -> None:
    # Exchange threw after the AD write (a domain controller change mid-call): the new read finds the value sent.
    plan = two_connectors()
    failed = stops_at(f"set|receive_connector|{FRONTEND}", error="An error caused a change in the current set of domain controllers.")
    result, _fake = converge(plan, failed, rereads(connector_reads(**{FRONTEND: R11_NAME, CLIENT: R10_NAME})), launches=1)
    assert result["failed"] is True and result["changes"] == [connector_change(FRONTEND)]
    assert f"Applied (read back at the value sent): {FRONTEND}" in result["msg"]


def test_changes_written_before_a_failure_name_their_server() -> None:
    plan = two_connectors()
    failed = stops_at(f"set|receive_connector|{CLIENT}", error="unwilling to process")
    result, _fake = converge(plan, failed, rereads(connector_reads(**{FRONTEND: R11_NAME, CLIENT: R10_NAME})), launches=1)
    assert result["changes"] == [connector_change(FRONTEND)]


def lost(steps):
    """A write launch that ran to the end, whose reply never came back (a dropped connection)."""
    raise AnsibleConnectionFailure("winrm connection error: ('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))")


def reset(steps):
    """The same as Ansible's winrm connection lets it through: requests' own exception, not an AnsibleError."""
    raise requests.exceptions.ConnectionError("('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))")


def unparseable(steps):
    """The module's own JSON followed by a second document (an error record module_wrapper.ps1 wrote): MODULE FAILURE."""
    raise BatchFailed({"failed": True, "msg": "Module result deserialization failed: Extra data: line 2 column 1 (char 812)",
                       "module_stdout": '{"changed": true, "steps": []}\r\n{"failed": true}\r\n', "rc": 0})


def unreachable(steps):
    raise BatchFailed({"unreachable": True, "msg": "winrm connection error: timed out"})


SHAPES = {"connection_error": lost, "requests_error": reset, "module_failure": unparseable, "unreachable_result": unreachable}


@pytest.mark.parametrize("shape", SHAPES)
def test_a_lost_write_reply_is_settled_by_a_new_read(shape) -> None:
    plan = two_connectors()
    result, fake = converge(plan, SHAPES[shape], rereads(connector_reads(**{FRONTEND: R11_NAME, CLIENT: R11_NAME})), launches=1)
    assert len(fake.batches) == 2 and result["launches"] == 3
    assert result["failed"] is True and result["changed"] is True
    assert result["changes"] == [connector_change(FRONTEND), connector_change(CLIENT)]
    assert result["unknown_changes"] == []
    assert f"Applied (read back at the value sent): {FRONTEND} (TlsCertificateName {R11_NAME}), {CLIENT}" in result["msg"]
    assert "Not applied (read back at the value before): nothing." in result["msg"]


@pytest.mark.parametrize("shape", SHAPES)
def test_a_lost_write_reply_whose_writes_did_not_run_is_recorded_not_applied(shape) -> None:
    result, _fake = converge(plain_plan(), SHAPES[shape], rereads(connector_reads(**{FRONTEND: R10_NAME})), launches=1)
    assert result["failed"] is True and result["changed"] is False
    assert result["changes"] == [] and result["unknown_changes"] == []
    assert f"Not applied (read back at the value before): {FRONTEND}" in result["msg"]


def test_when_the_new_read_fails_too_every_planned_write_is_unknown() -> None:
    def still_lost(steps):
        raise AnsibleConnectionFailure("winrm connection error: Read timed out. (read timeout=30)")

    plan = two_connectors()
    result, fake = converge(plan, lost, still_lost, launches=1)
    assert len(fake.batches) == 2 and result["launches"] == 3
    assert result["failed"] is True and result["changed"] is True and result["changes"] == []
    assert result["unknown_changes"] == [connector_change(FRONTEND), connector_change(CLIENT)]
    message = result["msg"]
    assert message.startswith("winrm connection error: ('Connection aborted.'")
    assert "That read failed too: winrm connection error: Read timed out." in message
    assert f"Unknown (see unknown_changes; the value shown is the one sent): {FRONTEND} (TlsCertificateName {R11_NAME})" in message
    assert "Check those objects on the server before running again" in message


def test_one_object_unread_or_at_a_third_value_is_unknown_the_others_settled() -> None:
    plan = two_connectors()
    live = rereads({**connector_reads(**{FRONTEND: R12_NAME}),
                    f"readback|receive_connector|{CLIENT}": "The operation couldn't be performed because object couldn't be found."})
    result, _fake = converge(plan, unparseable, live, launches=1)
    assert result["changes"] == []
    assert result["unknown_changes"] == [connector_change(FRONTEND), connector_change(CLIENT)]


def test_a_lost_write_reply_keeps_the_smtp_enabling_the_earlier_launch_confirmed() -> None:
    # F2: the enabling launch completed and was read back; the connector launch then lost its connection.
    plan = smtp_plan()
    result, fake = converge(plan, completes(), lost, rereads(connector_reads(**{FRONTEND: R10_NAME})), launches=1)
    assert len(fake.batches) == 3 and result["launches"] == 4
    assert result["failed"] is True and result["changed"] is True
    assert result["changes"] == [services_change()]
    assert result["unknown_changes"] == []
    assert f"Earlier in this run, before this failure: {R11_THUMB} (Services) changed" in result["msg"]
    assert f"Not applied (read back at the value before): {FRONTEND}" in result["msg"]


@pytest.mark.parametrize("shape", SHAPES)
def test_a_lost_enabling_reply_is_settled_by_a_new_read(shape) -> None:
    plan = smtp_plan()
    result, fake = converge(plan, SHAPES[shape], rereads(smtp_reads("IIS, SMTP", DEFAULT_THUMB)), launches=1)
    # The connectors are not written in the same task: the rerun does them, from the live values.
    assert len(fake.batches) == 2 and not fake.write_steps_built and result["launches"] == 3
    assert result["failed"] is True and result["changed"] is True
    assert result["changes"] == [services_change()]
    assert result["unknown_changes"] == []
    assert [s["done"] for s in result["smtp"]] == [True]
    assert f"Applied (read back at the value sent): {R11_THUMB} (Services IIS, SMTP)." in result["msg"]
    assert REPAIR not in result["msg"]


def test_a_lost_enabling_reply_with_the_default_not_back_says_so_first_with_the_repair() -> None:
    plan = smtp_plan()
    result, _fake = converge(plan, lost, rereads(smtp_reads("IIS, SMTP", R11_THUMB)), launches=1)
    assert result["changes"] == [services_change(), default_change(R11_THUMB)]
    message = result["msg"]
    assert message.startswith(f"SMTP was enabled on {R11_THUMB} on EX01, and Enable-ExchangeCertificate -Force made it the default")
    assert f"EX01's default SMTP (internal transport) certificate is now {R11_THUMB}" in message
    assert REPAIR in message
    assert [s["done"] for s in result["smtp"]] == [False]


def test_a_lost_enabling_reply_unread_is_unknown_for_services_and_default() -> None:
    plan = smtp_plan()
    result, _fake = converge(plan, unparseable, rereads({}), launches=1)
    assert result["changes"] == []
    assert result["unknown_changes"] == [
        Change("certificate", R11_THUMB, "Services", ["IIS"], ["IIS", "SMTP"], "EX01").as_dict(), default_change(R11_THUMB)]
    assert "Check those objects on the server before running again" in result["msg"]


def test_a_lost_enabling_reply_that_enabled_nothing_is_not_applied() -> None:
    plan = smtp_plan()
    result, _fake = converge(plan, lost, rereads(smtp_reads("IIS", DEFAULT_THUMB)), launches=1)
    assert result["changes"] == [] and result["unknown_changes"] == [] and result["changed"] is False
    assert f"Not applied (read back at the value before): {R11_THUMB} (Services)." in result["msg"]


def test_error_on_the_first_set_reports_nothing_written() -> None:
    plan = two_connectors()
    failed = stops_at(f"set|receive_connector|{FRONTEND}", error="unwilling to process")
    result, _fake = converge(plan, failed, rereads(connector_reads(**{FRONTEND: R10_NAME, CLIENT: R10_NAME})), launches=1)
    assert result["failed"] is True and result["changed"] is False and result["changes"] == []
    assert f"Applied (read back at the value sent): nothing. Not applied (read back at the value before): {FRONTEND}" in result["msg"]


def test_read_back_of_another_value_says_the_write_did_not_take() -> None:
    plan = plain_plan()
    stale = completes({f"readback|receive_connector|{FRONTEND}": [{"Identity": FRONTEND, "TlsCertificateName": R10_NAME}]})
    result, _fake = converge(plan, stale, launches=1)

    assert result["failed"] is True
    assert result["msg"] == f"the write did not take: {FRONTEND}: {R11_NAME!r} was written but {R10_NAME!r} was read back"
    # The change reports what the server holds, not what was sent.
    assert result["changes"] == [connector_change(after=R10_NAME)]


def test_missing_read_back_says_it_did_not_run() -> None:
    plan = plain_plan()
    result, _fake = converge(plan, completes({f"readback|receive_connector|{FRONTEND}": []}), launches=1)
    assert result["failed"] is True
    assert result["msg"] == f"the write did not take: {FRONTEND}: its read-back did not run"


def test_read_back_mismatch_after_smtp_lists_the_smtp_change_too() -> None:
    plan = smtp_plan()
    stale = completes({f"readback|receive_connector|{FRONTEND}": [{"Identity": FRONTEND, "TlsCertificateName": R10_NAME}]})
    result, _fake = converge(plan, completes(), stale, diff=True, launches=1)
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"].startswith("the write did not take:")
    assert f"Earlier in this run, before this failure: {R11_THUMB} (Services) changed" in result["msg"]
    assert result["changes"] == [services_change(), connector_change(after=R10_NAME)]
    assert result["diff"] == diff_of(result["changes"])


# --------------------------------------------------------------------------
# A sweep with a blocked connector
# --------------------------------------------------------------------------


def sweep():
    stale_other = "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=relay.contoso.com"
    server = facts([renewal(services=["IIS", "SMTP"]), r12()],
                   [receive_connector(tls_certificate_name=R10_NAME), hub(tls_certificate_name=stale_other)])
    plan = receive_plan.plan(server, certificate=R12_THUMB)
    (blocked,) = plan.blocked
    assert blocked.object == HUB
    return plan, blocked


def test_sweep_converges_the_changeable_connector_then_fails_naming_the_blocked_one() -> None:
    plan, blocked = sweep()
    result, fake = converge(plan, completes(), diff=True, launches=1)

    assert len(fake.batches) == 1
    assert not any(HUB in s["id"] for s in fake.batches[0])
    assert result["changed"] is True
    assert result["changes"] == [connector_change(after=R12_NAME)]
    assert result["failed"] is True
    assert result["msg"] == f"1 object(s) cannot be converged and were left unchanged: {HUB}: {blocked.reason}"
    assert "covers neither ex01.contoso.com nor relay.contoso.com" in result["msg"]


def test_sweep_in_check_mode_fails_naming_the_blocked_one_too() -> None:
    plan, _blocked = sweep()
    result, fake = converge(plan, check_mode=True, launches=1)
    assert fake.batches == []
    assert result["changed"] is True and result["failed"] is True
    assert result["msg"].startswith(f"1 object(s) cannot be converged and were left unchanged: {HUB}:")


# --------------------------------------------------------------------------
# facts_from
# --------------------------------------------------------------------------


def test_facts_from_a_registered_result_and_from_bare_facts() -> None:
    gathered = facts()
    assert facts_from({"changed": False, "ansible_facts": {"exchange_tls": gathered}}) is gathered
    assert facts_from(gathered) is gathered
    assert facts_from(None) is None


@pytest.mark.parametrize(
    "registered, words",
    [
        ({"failed": True, "msg": "reading EX01 failed"}, "is the result of a task that failed (reading EX01 failed)"),
        ({"unreachable": True}, "is the result of a task that failed (no message)"),
        ({"skipped": True, "changed": False}, "is the result of a task that skipped (no message)"),
    ],
    ids=["failed", "unreachable", "skipped"],
)
def test_facts_from_refuses_a_result_without_facts(registered, words) -> None:
    with pytest.raises(ValueError) as raised:
        facts_from(registered)
    assert str(raised.value).startswith(f"facts {words}; there are no facts to decide from")


def test_facts_from_names_every_missing_key() -> None:
    with pytest.raises(ValueError) as raised:
        facts_from({"changed": False, "ansible_facts": {}})
    assert str(raised.value).endswith("it lacks collected_at, server, certificates, receive_connectors, send_connectors")

    partial = {k: v for k, v in facts().items() if k != "send_connectors"}
    with pytest.raises(ValueError, match=r"it lacks send_connectors$"):
        facts_from(partial, option="fleet")
    with pytest.raises(ValueError, match=r"^fleet must be the registered result"):
        facts_from(partial, option="fleet")


def test_facts_from_refuses_what_is_not_a_dict() -> None:
    with pytest.raises(ValueError, match=r"got list$"):
        facts_from([facts()])


def test_facts_from_refuses_ansible_facts_that_are_not_a_dict() -> None:
    with pytest.raises(ValueError, match="it lacks collected_at"):
        facts_from({"changed": False, "ansible_facts": None})
