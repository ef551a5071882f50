# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for plugin_utils/_converge/smtp_enable.py: enabling SMTP on a certificate without losing the default.

Enable-ExchangeCertificate -Services SMTP -Force makes the certificate the
server's default SMTP (internal transport) certificate. The launch must
record the default, enable, put the default back (its services without IIS,
with SMTP) in the same launch, behind guards, and say exactly how to repair
the server when putting it back failed.
"""

from __future__ import annotations

import pytest

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import smtp_enable
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import PlanError, guard_id, readback_id

from ..facts_factories import MAIL, R12, cert, own_certificate_of, server_facts

R11_THUMB = "5B2F8C1E9A0D4E7F6A3B2C1D0E9F8A7B6C5D4E3F"
R12_THUMB = "7D4E1F2A3B4C5D6E7F8091A2B3C4D5E6F7081920"
EX01_DEFAULT = own_certificate_of("EX01")["thumbprint"]
EX02_DEFAULT = own_certificate_of("EX02")["thumbprint"]
EDGE_DEFAULT = own_certificate_of("EDGE01")["thumbprint"]


def renewed(**overrides) -> dict:
    """R11's certificate for mail.contoso.com, imported but not yet enabled for SMTP."""
    return cert(**{"thumbprint": R11_THUMB, "services": ["IIS"], **overrides})


def facts_of(name: str = "EX01", role: str = "Mailbox", certificates=None, **overrides) -> dict:
    certificates = certificates if certificates is not None else [own_certificate_of(name), renewed()]
    return server_facts(name, role, certificates=certificates, **overrides)


def item(name: str = "EX01", role: str = "Mailbox", certificate=None, **overrides) -> smtp_enable.SmtpEnable:
    facts = facts_of(name, role, **overrides)
    return smtp_enable.plan(facts, certificate or renewed())


def ids(steps) -> list:
    return [s["id"] for s in steps]


def result(steps: list, stop=None) -> dict:
    """An exchange_command result: the steps that ran, in order, with their indexes."""
    ran = [dict(s, index=i) for i, s in enumerate(steps)]
    return {"steps": ran, "stop": stop, "failed": stop is not None}


def ok(step_id: str, *objects) -> dict:
    return {"id": step_id, "status": "ok", "objects": list(objects)}


def successful_launch(smtp_item, default_after=None, services_after="IIS, SMTP") -> dict:
    """What exchange_command returns when enable_steps([smtp_item]) ran to its end."""
    key = smtp_item.key
    return result([
        ok(guard_id("transport_service", smtp_item.server)),
        ok(guard_id("certificate", key)),
        ok(f"enable|certificate|{key}"),
        ok(f"restore|{key}"),
        ok(readback_id("transport_service", smtp_item.server),
           {"InternalTransportCertificateThumbprint": default_after or smtp_item.default_thumbprint}),
        ok(readback_id("certificate", key), {"Thumbprint": smtp_item.thumbprint, "Services": services_after}),
    ])


# --------------------------------------------------------------------------
# needs_smtp
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "services, expected",
    [(["IIS", "SMTP"], False), (["SMTP"], False), (["IIS"], True), ([], True), ("unknown", None), (None, None)],
)
def test_needs_smtp(services, expected) -> None:
    assert smtp_enable.needs_smtp(cert(services=services)) is expected


# --------------------------------------------------------------------------
# plan
# --------------------------------------------------------------------------


def test_plan_records_the_default_and_its_services() -> None:
    planned = item()
    assert planned.server == "EX01"
    assert planned.thumbprint == R11_THUMB
    assert planned.subject == MAIL
    assert planned.services_before == ["IIS"]
    assert planned.default_thumbprint == EX01_DEFAULT
    assert planned.default_services == ["IMAP", "POP", "IIS", "SMTP"]
    assert planned.edge is False
    assert planned.key == f"EX01\\{R11_THUMB}"


def test_plan_on_an_edge_server_knows_it() -> None:
    assert item("EDGE01", "Edge").edge is True


def test_the_same_certificate_on_two_servers_has_two_keys() -> None:
    assert item("EX01").key != item("EX02").key


@pytest.mark.parametrize(
    "internal, words",
    [(None, "is not set"), (R12_THUMB, f"({R12_THUMB}) is not in the certificate store")],
    ids=["unset", "not-in-store"],
)
def test_plan_refuses_when_the_default_could_not_be_put_back(internal, words) -> None:
    facts = facts_of(internal_transport_certificate=internal)
    with pytest.raises(PlanError) as raised:
        smtp_enable.plan(facts, renewed())
    message = str(raised.value)
    assert f"SMTP must be enabled on {R11_THUMB} on EX01" in message
    assert f"the default SMTP certificate of EX01 {words}" in message
    assert "Recreate the default first" in message
    assert "New-ExchangeCertificate -Services SMTP -Force" in message


def test_plan_refuses_when_the_default_has_no_private_key_to_put_back() -> None:
    facts = facts_of(certificates=[own_certificate_of("EX01", has_private_key=False), renewed()])
    with pytest.raises(PlanError) as raised:
        smtp_enable.plan(facts, renewed())
    message = str(raised.value)
    assert f"the default SMTP certificate {EX01_DEFAULT} has no private key" in message
    assert "Recreate the default first" in message


# --------------------------------------------------------------------------
# restore_services and the repair command
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "default_services",
    [["IMAP", "POP", "IIS", "SMTP"], ["IIS", "SMTP"], ["IIS"], ["SMTP", "Federation"], ["SMTP", "UM", "UMCallRouter"], [], "unknown"],
)
def test_the_restore_names_smtp_only(default_services) -> None:
    # Services are additive: the previous default keeps the others. Naming UM/UMCallRouter (fails while
    # UMStartupMode is TCP), Federation or IIS (rebinds the web site) again could only make the restore fail
    # and leave the new certificate as the default (docs/exchange-behaviour.md#smtp-enabling).
    facts = facts_of(certificates=[own_certificate_of("EX01", services=default_services), renewed()])
    planned = smtp_enable.plan(facts, renewed())
    (restore,) = [s for s in smtp_enable.enable_steps([planned]) if s["id"].startswith("restore|")]
    assert restore["parameters"] == {"Server": "EX01", "Thumbprint": EX01_DEFAULT, "Services": "SMTP", "Force": True}


def test_repair_command_is_the_exact_command_to_run() -> None:
    assert item().repair_command() == (
        f"Enable-ExchangeCertificate -Server EX01 -Thumbprint {EX01_DEFAULT} -Services SMTP -Force"
    )


# --------------------------------------------------------------------------
# enable_steps
# --------------------------------------------------------------------------


def test_enable_steps_guard_enable_restore_then_read_back() -> None:
    planned = item()
    steps = smtp_enable.enable_steps([planned])
    assert ids(steps) == [
        "guard|transport_service|EX01",
        f"guard|certificate|EX01\\{EX01_DEFAULT}",
        f"guard|certificate|EX01\\{R11_THUMB}",
        f"enable|certificate|EX01\\{R11_THUMB}",
        f"restore|EX01\\{R11_THUMB}",
        "readback|transport_service|EX01",
        f"readback|certificate|EX01\\{R11_THUMB}",
    ]
    guard_default, guard_default_present, guard_certificate, enable, restore, _service, _certificate = steps
    assert guard_default["cmdlet"] == "Get-TransportService"
    assert guard_default["guard"] == {"InternalTransportCertificateThumbprint": EX01_DEFAULT}
    # The default must still be in the store, or it could not be put back.
    assert guard_default_present["parameters"] == {"Server": "EX01", "Thumbprint": EX01_DEFAULT}
    assert guard_default_present["guard"] == {"Thumbprint": EX01_DEFAULT}
    assert guard_certificate["parameters"] == {"Server": "EX01", "Thumbprint": R11_THUMB}
    # Its services as the decision saw them: facts from before another run enabled SMTP stop here.
    assert guard_certificate["guard"] == {"Thumbprint": R11_THUMB, "Services": "IIS"}
    assert enable["cmdlet"] == "Enable-ExchangeCertificate"
    assert enable["parameters"] == {"Server": "EX01", "Thumbprint": R11_THUMB, "Services": "SMTP", "Force": True}
    assert restore["cmdlet"] == "Enable-ExchangeCertificate"
    assert restore["parameters"] == {"Server": "EX01", "Thumbprint": EX01_DEFAULT, "Services": "SMTP",
                                     "Force": True}
    assert all("guard" not in s for s in steps[3:])


def test_enable_steps_for_several_servers_put_every_guard_before_any_enable() -> None:
    items = [item("EX01"), item("EX02")]
    steps = smtp_enable.enable_steps(items)
    kinds = [s["id"].split("|")[0] for s in steps]
    last_guard = max(i for i, k in enumerate(kinds) if k == "guard")
    first_write = min(i for i, k in enumerate(kinds) if k in ("enable", "restore"))
    last_write = max(i for i, k in enumerate(kinds) if k in ("enable", "restore"))
    first_readback = min(i for i, k in enumerate(kinds) if k == "readback")
    assert last_guard < first_write and last_write < first_readback
    assert kinds.count("guard") == 6 and kinds.count("readback") == 4
    # Each server's default is put back right after its certificate is enabled.
    for smtp_item in items:
        position = ids(steps).index(f"enable|certificate|{smtp_item.key}")
        restore = steps[position + 1]
        assert restore["id"] == f"restore|{smtp_item.key}"
        assert restore["parameters"]["Server"] == smtp_item.server
        assert restore["parameters"]["Thumbprint"] == smtp_item.default_thumbprint
    assert {s["parameters"]["Thumbprint"] for s in steps if s["id"].startswith("restore|")} == {EX01_DEFAULT, EX02_DEFAULT}


def test_enable_steps_for_two_certificates_of_one_server_guard_its_default_once() -> None:
    second = cert(issuer=R12, thumbprint=R12_THUMB, services=[], not_before="2026-11-20T00:00:00Z",
                  not_after="2027-02-18T00:00:00Z")
    facts = facts_of(certificates=[own_certificate_of("EX01"), renewed(), second])
    items = [smtp_enable.plan(facts, renewed()), smtp_enable.plan(facts, second)]
    steps = smtp_enable.enable_steps(items)
    assert ids(steps).count("guard|transport_service|EX01") == 1
    assert ids(steps).count("readback|transport_service|EX01") == 1
    assert f"guard|certificate|EX01\\{R11_THUMB}" in ids(steps)
    assert f"guard|certificate|EX01\\{R12_THUMB}" in ids(steps)
    assert len(ids(steps)) == len(set(ids(steps)))


def test_verify_steps_guard_each_server_default_once() -> None:
    second = cert(issuer=R12, thumbprint=R12_THUMB, services=[], not_before="2026-11-20T00:00:00Z",
                  not_after="2027-02-18T00:00:00Z")
    facts = facts_of(certificates=[own_certificate_of("EX01"), renewed(), second])
    items = [smtp_enable.plan(facts, renewed()), smtp_enable.plan(facts, second), item("EX02")]
    steps = smtp_enable.verify_steps(items)
    assert ids(steps) == ["verify|transport_service|EX01", "verify|transport_service|EX02"]
    assert [s["guard"] for s in steps] == [
        {"InternalTransportCertificateThumbprint": EX01_DEFAULT},
        {"InternalTransportCertificateThumbprint": EX02_DEFAULT},
    ]
    assert all(s["cmdlet"] == "Get-TransportService" for s in steps)


def test_verify_steps_of_nothing() -> None:
    assert smtp_enable.verify_steps([]) == []


# --------------------------------------------------------------------------
# read_enable_result
# --------------------------------------------------------------------------


@pytest.mark.parametrize("services_after", ["IIS, SMTP", ["IIS", "SMTP"]], ids=["text", "list"])
def test_read_enable_result_records_a_launch_that_kept_the_default(services_after) -> None:
    planned = item()
    assert smtp_enable.read_enable_result([planned], successful_launch(planned, services_after=services_after)) is None
    assert planned.done is True
    assert planned.services_after == ["IIS", "SMTP"]
    assert planned.default_after == EX01_DEFAULT
    assert planned.as_dict() == {
        "server": "EX01",
        "enabled": R11_THUMB,
        "services_before": ["IIS"],
        "services_after": ["IIS", "SMTP"],
        "internal_transport_certificate": {"before": EX01_DEFAULT, "after": EX01_DEFAULT},
        "done": True,
    }


def test_read_enable_result_accepts_the_default_read_back_in_lower_case() -> None:
    planned = item()
    assert smtp_enable.read_enable_result([planned], successful_launch(planned, default_after=EX01_DEFAULT.lower())) is None
    assert planned.done


def test_read_enable_result_when_the_default_read_back_is_another_certificate() -> None:
    planned = item()
    message = smtp_enable.read_enable_result([planned], successful_launch(planned, default_after=R11_THUMB))
    assert message is not None
    assert f"{planned.server}'s default SMTP (internal transport) certificate is now {R11_THUMB}" in message
    assert "the default read back afterwards is another certificate" in message
    assert planned.repair_command() in message
    assert planned.done is False


def test_read_enable_result_when_smtp_did_not_take() -> None:
    planned = item()
    message = smtp_enable.read_enable_result([planned], successful_launch(planned, services_after="IIS"))
    assert message is not None
    assert "services read back as IIS" in message
    assert "no connector was changed" in message
    assert planned.done is False


def test_read_enable_result_when_the_restore_did_not_run() -> None:
    planned = item()
    launch = successful_launch(planned)
    # The batch stops at the failed restore: the read-backs after it do not run.
    launch["steps"][3] = {"index": 3, "id": f"restore|{planned.key}", "status": "error", "error": "access denied"}
    del launch["steps"][4:]
    message = smtp_enable.read_enable_result([planned], launch)
    assert message is not None
    assert f"putting the previous default {EX01_DEFAULT} back failed: access denied" in message
    assert f"certificate is now {R11_THUMB}" in message
    assert planned.repair_command() in message
    # The result tells the truth: SMTP was enabled and the default is another certificate now.
    assert [(c.object_type, c.property, c.before, c.after) for c in planned.changes()] == [
        ("certificate", "Services", ["IIS"], ["IIS", "SMTP"]),
        ("transport_service", "InternalTransportCertificateThumbprint", EX01_DEFAULT, R11_THUMB),
    ]


# --------------------------------------------------------------------------
# The messages a user reads when it went wrong
# --------------------------------------------------------------------------


def test_not_restored_message_has_the_exact_repair_command() -> None:
    planned = item()
    message = smtp_enable.not_restored_message(planned, R11_THUMB, "timeout")
    assert (f"Enable-ExchangeCertificate -Server EX01 -Thumbprint {EX01_DEFAULT} -Services SMTP -Force"
            in message)
    assert f"SMTP was enabled on {R11_THUMB} on EX01" in message
    assert "back failed: timeout" in message
    assert "no connector was changed" in message
    assert "Get-TransportService EX01 | Format-List InternalTransportCertificateThumbprint" in message
    assert "EdgeSync" not in message


def test_not_restored_message_when_the_live_default_is_unknown() -> None:
    message = smtp_enable.not_restored_message(item(), None, "timeout")
    assert "certificate is now unknown (it could not be read)" in message


def test_not_restored_message_on_an_edge_server_warns_about_edgesync() -> None:
    planned = item("EDGE01", "Edge")
    message = smtp_enable.not_restored_message(planned, R11_THUMB, "timeout")
    assert f"Enable-ExchangeCertificate -Server EDGE01 -Thumbprint {EDGE_DEFAULT} -Services SMTP -Force" in message
    assert "EdgeSync" in message and "Test-EdgeSynchronization" in message


def test_failed_enable_message_when_a_guard_stopped_before_anything() -> None:
    planned = item()
    launch = result(
        [ok(guard_id("transport_service", "EX01")),
         {"id": guard_id("certificate", planned.key), "status": "guard_failed"}],
        stop={"index": 1, "reason": "guard", "message": "the certificate is gone"},
    )
    message = smtp_enable.failed_enable_message([planned], launch)
    assert message.startswith("enabling SMTP failed: the certificate is gone. Exchange reported the error before any"
                              " certificate was enabled")
    assert "No connector was changed." in message and planned.changes() == []


def test_failed_enable_message_when_the_batch_stopped_between_enable_and_restore() -> None:
    planned = item()
    launch = result(
        [ok(guard_id("transport_service", "EX01")), ok(guard_id("certificate", planned.key)),
         ok(f"enable|certificate|{planned.key}"),
         {"id": f"restore|{planned.key}", "status": "error", "error": "The operation timed out"}],
        stop={"index": 3, "reason": "error", "message": "The operation timed out"},
    )
    message = smtp_enable.failed_enable_message([planned], launch)
    assert "putting the previous default" in message and "back failed: The operation timed out" in message
    assert planned.repair_command() in message


def test_failed_enable_message_when_the_restore_never_ran() -> None:
    planned = item()
    launch = result(
        [ok(guard_id("transport_service", "EX01")), ok(guard_id("certificate", planned.key)),
         ok(f"enable|certificate|{planned.key}")],
        stop={"index": 2, "reason": "error", "message": "session closed"},
    )
    message = smtp_enable.failed_enable_message([planned], launch)
    assert "back failed: the batch stopped before it" in message
    assert planned.repair_command() in message


def test_failed_enable_message_does_not_deny_an_earlier_certificate_was_enabled() -> None:
    first, second = item("EX01"), item("EX02")
    launch = result(
        [ok(guard_id("transport_service", "EX01")), ok(guard_id("certificate", first.key)),
         ok(guard_id("transport_service", "EX02")), ok(guard_id("certificate", second.key)),
         ok(f"enable|certificate|{first.key}"), ok(f"restore|{first.key}"),
         {"id": f"enable|certificate|{second.key}", "status": "error", "error": "access denied on EX02"}],
        stop={"index": 6, "reason": "error", "message": "access denied on EX02"},
    )
    message = smtp_enable.failed_enable_message([first, second], launch)
    # SMTP is now enabled on R11 on EX01: the user must not be told that nothing changed.
    assert "before anything was changed" not in message
    assert "EX01" in message
