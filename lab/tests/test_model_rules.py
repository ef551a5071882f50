"""One test per rule of lab/docs/scenario-format.md, against the lab's Exchange model.

Cmdlets run through the lab's payload runner (the same code a WinRM module run
reaches); STARTTLS is checked with a real SMTP client against the lab's
listener, comparing the presented certificate's SHA-1 thumbprint.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload import payload_contract
from exchange_lab.cmdlets import CmdletError, Context, run_cmdlet
from exchange_lab.model import Organization
from exchange_lab.payload import PayloadRunner
from exchange_lab.scenario import load_scenario, load_scenario_text
from exchange_lab.winrm import CommandRequest, ModuleRun, TransportFault
from exchange_lab.server import Lab
from exchange_lab.payload import PAYLOAD_PATH, PAYLOAD_SCRIPT_NAME

from tests.conftest import SCENARIOS, StartTls, scenario_variant, starttls


def org_of(name: str) -> Organization:
    return Organization(load_scenario(SCENARIOS / name))


def run(org: Organization, server: str, steps: list[dict], check_mode: bool = False):
    result, rc, _ = PayloadRunner(org).run(org.server(server), {"steps": steps}, check_mode)
    return result, rc


def thumb(org: Organization, server: str, cert_id: str) -> str:
    return org.server(server).certificate_by_id(cert_id).thumbprint


def connector(org: Organization, server: str, name: str):
    return next(rc for rc in org.server(server).receive_connectors if rc.name == name)


def events(org: Organization, server: str, event_id: int):
    return [e for e in org.server(server).events if e.id == event_id]


# -- selection ---------------------------------------------------------------


def test_selection_by_name_is_case_insensitive_newest_with_key_in_store():
    org = org_of("selection.yml")
    sel = org.select(connector(org, "EX01", "by-name"))
    # "newest-no-key" and "newest-removed" are newer but do not qualify.
    assert sel.offered and sel.usable
    assert sel.certificate.thumbprint == thumb(org, "EX01", "newer")


def test_selection_by_fqdn_prefers_ca_issued_over_newer_self_signed():
    org = org_of("selection.yml")
    sel = org.select(connector(org, "EX01", "by-fqdn"))
    assert sel.certificate.thumbprint == thumb(org, "EX01", "smtp-ca")


def test_selection_without_name_or_fqdn_uses_the_server_fqdn():
    org = org_of("selection.yml")
    sel = org.select(connector(org, "EX01", "by-server"))
    assert sel.certificate.thumbprint == thumb(org, "EX01", "selfsigned")


def test_no_tls_in_auth_mechanism_never_offers_starttls_and_logs_nothing():
    org = org_of("selection.yml")
    sel = org.select(connector(org, "EX01", "no-tls"))
    assert not sel.offered and sel.certificate is None
    assert not [e for e in org.server("EX01").events if "no-tls" in e.message]


def test_selection_over_smtp_presents_the_selected_certificate(running_lab):
    lab = running_lab(SCENARIOS / "selection.yml")
    seen = starttls("127.0.0.1", lab.smtp["EX01"].port)
    assert seen == StartTls(True, thumb(lab.org, "EX01", "newer"))


# -- 12014 / 12016 --------------------------------------------------------------


def test_missing_certificate_means_no_starttls_and_event_12014_from_the_connectors_service(running_lab):
    lab = running_lab(SCENARIOS / "no-certificate-12014.yml")
    assert starttls("127.0.0.1", lab.smtp["EX01"].port).offered is False
    logged = events(lab.org, "EX01", 12014)
    sources = {e.source for e in logged if "Default Frontend EX01" in e.message}
    assert sources == {"MSExchangeFrontEndTransport"}
    hub = {e.source for e in logged if "connector Default EX01 " in e.message}
    assert hub == {"MSExchangeTransport"}
    name = connector(lab.org, "EX01", "Default Frontend EX01").tls_certificate_name
    assert name.startswith("<I>CN=R10") and name in logged[0].message


def test_edge_connector_events_come_from_msexchangetransport():
    text = (SCENARIOS / "edgesync.yml").read_text().replace("{certificate: renewed}", '"<I>CN=Gone CA<S>CN=smtp.contoso.com"')
    org = Organization(load_scenario_text(text, "edge-12014.yml"))
    assert {e.source for e in events(org, "EDGE01", 12014)} == {"MSExchangeTransport"}


def test_expired_choice_is_still_offered_and_logs_12016(running_lab):
    lab = running_lab(SCENARIOS / "expired-12016.yml")
    before = len(events(lab.org, "EX01", 12016))
    seen = starttls("127.0.0.1", lab.smtp["EX01"].port)
    assert seen.offered and seen.thumbprint == thumb(lab.org, "EX01", "expired")
    assert before >= 1 and len(events(lab.org, "EX01", 12016)) > before
    assert events(lab.org, "EX01", 12014) == []


def test_certificate_without_smtp_is_offered_but_the_handshake_fails(running_lab):
    lab = running_lab(SCENARIOS / "smtp-not-enabled.yml")
    seen = starttls("127.0.0.1", lab.smtp["EX01"].port)
    assert seen.offered and seen.thumbprint is None
    assert "SSL" in seen.error or "alert" in seen.error.lower()


# -- the default SMTP certificate ------------------------------------------------


def enable_smtp(thumbprint: str, force: bool) -> list[dict]:
    params = {"Thumbprint": thumbprint, "Services": "SMTP"}
    if force:
        params["Force"] = True
    return [{"cmdlet": "Enable-ExchangeCertificate", "parameters": params}]


def test_enable_smtp_without_force_prompts_which_fails_and_changes_nothing():
    org = org_of("smtp-prompt.yml")
    server = org.server("EX01")
    renewed = server.certificate_by_id("renewed")
    result, rc = run(org, "EX01", enable_smtp(renewed.thumbprint, force=False))
    assert rc == 1 and result["stop"]["reason"] == "error"
    assert "Overwrite the existing default SMTP certificate?" in result["steps"][0]["error"]
    assert renewed.services == {"IIS"}
    assert server.internal_transport_certificate == thumb(org, "EX01", "selfsigned")
    assert server.writes == 0


def test_enable_smtp_with_force_enables_it_and_replaces_the_default():
    org = org_of("smtp-prompt.yml")
    server = org.server("EX01")
    renewed = server.certificate_by_id("renewed")
    result, rc = run(org, "EX01", enable_smtp(renewed.thumbprint, force=True))
    assert rc == 0 and result["changed"] is True
    assert renewed.services == {"IIS", "SMTP"}
    assert server.internal_transport_certificate == renewed.thumbprint
    assert server.writes == 1


def test_enable_on_the_current_default_does_not_prompt():
    org = org_of("smtp-prompt.yml")
    result, rc = run(org, "EX01", enable_smtp(thumb(org, "EX01", "selfsigned"), force=False))
    assert rc == 0
    assert result["steps"][0]["warnings"], "re-enabling an enabled service changes nothing and says so"


def test_edge_launch_ending_with_another_default_breaks_edgesync():
    org = org_of("edgesync.yml")
    edge = org.server("EDGE01")
    assert edge.edgesync == "intact"
    run(org, "EDGE01", enable_smtp(thumb(org, "EDGE01", "renewed"), force=True))
    assert edge.edgesync == "broken"


def test_edge_launch_that_puts_the_default_back_keeps_edgesync():
    org = org_of("edgesync.yml")
    steps = enable_smtp(thumb(org, "EDGE01", "renewed"), force=True) + [
        {"cmdlet": "Enable-ExchangeCertificate", "parameters": {"Thumbprint": thumb(org, "EDGE01", "selfsigned"), "Services": "SMTP", "Force": True}}
    ]
    result, rc = run(org, "EDGE01", steps)
    assert rc == 0
    assert org.server("EDGE01").edgesync == "intact"
    assert org.server("EDGE01").certificate_by_id("renewed").services == {"SMTP"}


# -- send connectors ---------------------------------------------------------------


def test_send_connector_needs_the_certificate_on_every_source_server():
    org = org_of("send-connector-sources.yml")
    status = org.outbound_status(org.send_connectors[0])
    assert status["EX01"] == "ok"
    assert status["EX02"].startswith("454 4.7.5 The certificate specified in TlsCertificateName of the SendConnector")


def test_set_send_connector_is_refused_on_a_subscribed_edge():
    text = (SCENARIOS / "edgesync.yml").read_text()
    org = Organization(load_scenario_text(text, "edgesync.yml"))
    result, rc = run(org, "EDGE01", [{"cmdlet": "Set-SendConnector", "parameters": {"Identity": "x", "TlsCertificateName": "<I>CN=A<S>CN=a.example"}}])
    assert rc == 1 and "disabled on this Edge" in result["steps"][0]["error"]


# -- connector changes and transport restarts ----------------------------------------


def set_name(identity: str, value) -> list[dict]:
    return [{"cmdlet": "Set-ReceiveConnector", "parameters": {"Identity": identity, "TlsCertificateName": value}}]


def test_a_change_takes_effect_without_restart_by_default():
    org = org_of("no-certificate-12014.yml")
    rc = connector(org, "EX01", "Default Frontend EX01")
    selfsigned = org.server("EX01").certificate_by_id("selfsigned")
    result, code = run(org, "EX01", set_name(rc.identity, selfsigned.tls_certificate_name))
    assert code == 0
    assert org.select(rc).certificate is selfsigned


def test_transport_change_needs_restart_keeps_the_old_name_until_restart(running_lab):
    lab = running_lab(SCENARIOS / "needs-restart.yml")
    org = lab.org
    rc = connector(org, "EX01", "Default Frontend EX01")
    renewed = org.server("EX01").certificate_by_id("renewed")
    result, code = run(org, "EX01", set_name(rc.identity, renewed.tls_certificate_name))
    assert code == 0 and rc.tls_certificate_name == renewed.tls_certificate_name
    assert starttls("127.0.0.1", lab.smtp["EX01"].port).offered is False
    # Only the service that owns the connector reloads it.
    run(org, "EX01", [{"cmdlet": "Restart-Service", "parameters": {"Name": "MSExchangeTransport"}}])
    assert starttls("127.0.0.1", lab.smtp["EX01"].port).offered is False
    run(org, "EX01", [{"cmdlet": "Restart-Service", "parameters": {"Name": "MSExchangeFrontEndTransport"}}])
    assert starttls("127.0.0.1", lab.smtp["EX01"].port) == StartTls(True, renewed.thumbprint)


def test_set_receive_connector_stores_exchanges_normalised_form_and_rejects_bad_syntax():
    org = org_of("no-certificate-12014.yml")
    rc = connector(org, "EX01", "Default Frontend EX01")
    result, code = run(org, "EX01", set_name(rc.identity, "<i>CN=R11 ,O=Let's Encrypt,C=US<s>CN=mail.contoso.com"))
    assert code == 0
    assert rc.tls_certificate_name == "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
    before = rc.tls_certificate_name
    result, code = run(org, "EX01", set_name(rc.identity, "CN=mail.contoso.com"))
    assert code == 1 and "SmtpX509Identifier" in result["steps"][0]["error"]
    assert rc.tls_certificate_name == before


# -- the payload's contract ----------------------------------------------------------


def test_guard_that_holds_lets_the_write_run():
    org = org_of("no-certificate-12014.yml")
    rc = connector(org, "EX01", "Default Frontend EX01")
    old, new = rc.tls_certificate_name, org.server("EX01").certificate_by_id("selfsigned").tls_certificate_name
    steps = [
        {"cmdlet": "Get-ReceiveConnector", "parameters": {"Identity": rc.identity}, "properties": ["TlsCertificateName"], "guard": {"TlsCertificateName": old}},
    ] + set_name(rc.identity, new)
    result, code = run(org, "EX01", steps)
    assert code == 0 and result["changed"] and result["stop"] is None
    assert rc.tls_certificate_name == new


def test_guard_that_fails_stops_before_the_write_and_names_both_values():
    org = org_of("no-certificate-12014.yml")
    rc = connector(org, "EX01", "Default Frontend EX01")
    old = rc.tls_certificate_name
    steps = [
        {"cmdlet": "Get-ReceiveConnector", "parameters": {"Identity": rc.identity}, "properties": ["TlsCertificateName"], "guard": {"TlsCertificateName": "<I>CN=Someone else<S>CN=x.example"}},
    ] + set_name(rc.identity, None)
    result, code = run(org, "EX01", steps)
    assert code == 1 and result["changed"] is False
    assert result["stop"]["reason"] == "guard"
    assert result["stop"]["mismatches"] == [{"property": "TlsCertificateName", "expected": "<I>CN=Someone else<S>CN=x.example", "actual": old}]
    assert len(result["steps"]) == 1
    assert rc.tls_certificate_name == old and org.server("EX01").writes == 0


def test_check_mode_refuses_every_non_get_step_before_anything_runs():
    org = org_of("no-certificate-12014.yml")
    rc = connector(org, "EX01", "Default Frontend EX01")
    steps = [{"cmdlet": "Get-ExchangeServer", "parameters": {}}] + set_name(rc.identity, None)
    result, code = run(org, "EX01", steps, check_mode=True)
    assert code == 1 and "check mode: Set-ReceiveConnector" in result["msg"]
    assert org.server("EX01").launches == 0 and rc.tls_certificate_name is not None


def test_a_cmdlet_outside_the_allow_list_is_refused_by_name():
    org = org_of("no-certificate-12014.yml")
    result, code = run(org, "EX01", [{"cmdlet": "Get-ExchangeServer"}, {"cmdlet": "New-ExchangeCertificate", "parameters": {"Thumbprint": "AB"}}])
    assert code == 1 and "'New-ExchangeCertificate' is not allowed" in result["msg"]
    assert org.server("EX01").launches == 0


def test_objects_are_flattened_as_documented():
    org = org_of("demo.yml")
    result, code = run(org, "EX01", [{"cmdlet": "Get-ExchangeCertificate", "parameters": {"Thumbprint": thumb(org, "EX01", "le-r11")}, "properties": ["Thumbprint", "NotAfter", "Services", "CertificateDomains", "HasPrivateKey", "NoSuchProperty"]}])
    obj = result["steps"][0]["objects"][0]
    assert obj == {
        "Thumbprint": thumb(org, "EX01", "le-r11"),
        "NotAfter": "2027-01-17T00:00:00Z",
        "Services": "IIS",
        "CertificateDomains": ["mail.contoso.com", "autodiscover.contoso.com"],
        "HasPrivateKey": True,
        "NoSuchProperty": None,
    }


# -- faults ------------------------------------------------------------------------------


def with_fault(tmp_path, fault: dict) -> Organization:
    return Organization(load_scenario(scenario_variant(tmp_path, "no-certificate-12014.yml", faults={"EX01": [fault]})))


@pytest.mark.parametrize(
    "kind, needle",
    [("access_denied", "Insufficient access rights"), ("cmdlet_error", "change in the current set of domain controllers")],
)
def test_cmdlet_faults_fail_the_named_cmdlet_once(kind, needle, tmp_path):
    org = with_fault(tmp_path, {"kind": kind, "cmdlet": "Set-ReceiveConnector"})
    rc = connector(org, "EX01", "Default Frontend EX01")
    steps = [{"cmdlet": "Get-ExchangeServer"}] + set_name(rc.identity, None)
    result, code = run(org, "EX01", steps)
    assert code == 1 and result["steps"][0]["status"] == "ok" and needle in result["steps"][1]["error"]
    assert rc.tls_certificate_name is not None
    result, code = run(org, "EX01", steps)
    assert code == 0 and rc.tls_certificate_name is None


def test_snapin_missing_fails_before_any_step_and_counts_the_launch(tmp_path):
    org = with_fault(tmp_path, {"kind": "snapin_missing"})
    result, code = run(org, "EX01", [{"cmdlet": "Get-ExchangeServer"}])
    assert code == 1 and "could not open the Exchange session" in result["msg"] and result["steps"] == []
    assert org.server("EX01").launches == 1


def test_a_session_failure_with_explicit_credentials_names_the_account_and_uri_as_the_payload_does(tmp_path):
    org = with_fault(tmp_path, {"kind": "snapin_missing"})
    params = {"steps": [{"cmdlet": "Get-ExchangeServer"}], "username": "CONTOSO\\svc-exchange", "password": "S3cret-Pa55"}
    result, code, _journal = PayloadRunner(org).run(org.server("EX01"), params, False)
    assert code == 1
    uri = "http://ex01.contoso.com/powershell?serializationLevel=Full;ExchClientVer=15.2.1544.4;clientApplication=ManagementShell"
    assert f"session=remote as CONTOSO\\svc-exchange to {uri} (Kerberos): Connecting to remote server" in result["msg"]
    # The payload reports New-PSSession's own error; what it means is the controller's to say.
    assert result["session_error"] == {"message": result["msg"].split("(Kerberos): ", 1)[1],
                                       "error_id": "1326,PSSessionOpenFailed", "error_code": 1326}
    assert "Check" not in result["msg"]
    assert result["available_cmdlets"] == ["Get-WinEvent", "Restart-Service"]


def test_a_session_failure_without_credentials_reports_access_denied_with_its_code(tmp_path):
    org = with_fault(tmp_path, {"kind": "snapin_missing"})
    result, code, _journal = PayloadRunner(org).run(org.server("EX01"), {"steps": [{"cmdlet": "Get-ExchangeServer"}]}, False)
    assert code == 1 and result["steps"] == []
    assert result["session_error"]["error_code"] == 5 and result["session_error"]["error_id"] == "AccessDenied,PSSessionOpenFailed"
    assert "session=remote to http://ex01.contoso.com/powershell?serializationLevel=Full;" in result["msg"]


def test_an_open_session_lists_every_allow_listed_cmdlet_as_available(tmp_path):
    org = Organization(load_scenario(SCENARIOS / "no-certificate-12014.yml"))
    result, code, _journal = PayloadRunner(org).run(org.server("EX01"), {"steps": [{"cmdlet": "Get-ExchangeServer"}]}, False)
    assert code == 0
    assert result["available_cmdlets"] == list(payload_contract.CMDLETS)


def test_concurrent_change_lands_between_read_and_write_and_the_guard_catches_it(tmp_path):
    org = with_fault(
        tmp_path,
        {"kind": "concurrent_change", "connector": "Default Frontend EX01", "value": "<I>CN=Other CA<S>CN=mail.contoso.com"},
    )
    rc = connector(org, "EX01", "Default Frontend EX01")
    read, code = run(org, "EX01", [{"cmdlet": "Get-ReceiveConnector", "parameters": {"Identity": rc.identity}, "properties": ["TlsCertificateName"]}])
    seen = read["steps"][0]["objects"][0]["TlsCertificateName"]
    steps = [{"cmdlet": "Get-ReceiveConnector", "parameters": {"Identity": rc.identity}, "properties": ["TlsCertificateName"], "guard": {"TlsCertificateName": seen}}] + set_name(rc.identity, None)
    result, code = run(org, "EX01", steps)
    assert code == 1 and result["stop"]["reason"] == "guard"
    assert rc.tls_certificate_name == "<I>CN=Other CA<S>CN=mail.contoso.com"


def module_request(steps: list[dict], check_mode: bool = False) -> CommandRequest:
    args = {"steps": steps, "_ansible_check_mode": check_mode}
    return CommandRequest(
        command_line="PowerShell -NoProfile -NonInteractive -EncodedCommand x",
        executable="powershell",
        script=None,
        stdin=b"",
        module=ModuleRun(PAYLOAD_SCRIPT_NAME, PAYLOAD_PATH.read_text(encoding="utf-8"), args, check_mode, False),
    )


@pytest.mark.parametrize("kind", ["http_500", "connection_reset", "timeout", "auth_failure"])
def test_transport_faults_hit_the_matching_launch_times_times(kind, tmp_path):
    lab = Lab(scenario_variant(tmp_path, "no-certificate-12014.yml",
                               faults={"EX01": [{"kind": kind, "cmdlet": "Get-TransportService", "times": 2}]}))
    server = lab.org.server("EX01")
    other = module_request([{"cmdlet": "Get-ExchangeServer"}])
    assert asyncio.run(lab.execute(server, other)).rc == 0
    target = module_request([{"cmdlet": "Get-TransportService"}])
    for _ in range(2):
        with pytest.raises(TransportFault) as caught:
            asyncio.run(lab.execute(server, target))
        assert caught.value.kind == kind
    assert asyncio.run(lab.execute(server, target)).rc == 0
    assert server.launches == 2, "a launch lost to a transport fault never reached PowerShell"


def test_latency_makes_each_launch_cost_at_least_launch_seconds(tmp_path):
    lab = Lab(scenario_variant(tmp_path, "no-certificate-12014.yml", launch_seconds=0.3))
    start = time.monotonic()
    assert asyncio.run(lab.execute(lab.org.server("EX01"), module_request([{"cmdlet": "Get-ExchangeServer"}]))).rc == 0
    assert time.monotonic() - start >= 0.3


def test_a_module_source_that_is_not_the_collections_payload_is_refused():
    lab = Lab(SCENARIOS / "no-certificate-12014.yml")
    request = module_request([{"cmdlet": "Get-ExchangeServer"}])
    request.module.module_source += "\n# edited"
    result = asyncio.run(lab.execute(lab.org.server("EX01"), request))
    assert result.rc == 1 and "refuses to run exchange_command" in result.stdout
    assert lab.org.server("EX01").launches == 0


# -- parameter binding, as PowerShell and Exchange do it -------------------------------


@pytest.mark.parametrize(
    "step, needle",
    [
        ({"cmdlet": "Get-ReceiveConnector", "parameters": {"Bogus": 1}}, "A parameter cannot be found that matches parameter name 'Bogus'."),
        ({"cmdlet": "Get-ExchangeCertificate", "parameters": {"Domain": "x"}}, "the parameter name 'Domain' is ambiguous. Possible matches include: DomainName, DomainController"),
        ({"cmdlet": "Set-ReceiveConnector", "parameters": {"TlsCertificateName": None}}, "missing mandatory parameters: Identity"),
        ({"cmdlet": "Get-ExchangeCertificate", "parameters": {"Identity": "AB", "Server": "EX01"}}, "Parameter set cannot be resolved"),
        ({"cmdlet": "Get-ReceiveConnector", "parameters": {"Identity": "EX01\\Nope"}}, "couldn't be found on"),
        ({"cmdlet": "Enable-ExchangeCertificate", "parameters": {"Thumbprint": "00" * 20, "Services": "SMTPX"}}, "Specify one of the following enumerator names"),
        ({"cmdlet": "Get-ExchangeCertificate", "parameters": {"Thumbprint": "00" * 20}}, "was not found"),
        ({"cmdlet": "Restart-Service", "parameters": {"Name": "MSExchangeFrontEndTransport"}}, None),
    ],
)
def test_cmdlets_bind_parameters_as_powershell_does(step, needle):
    # The cmdlets themselves, as Exchange binds them (wider than what the payload lets a step pass).
    org = org_of("no-certificate-12014.yml")
    if needle is None:
        run_cmdlet(Context(org, org.server("EX01")), step["cmdlet"], step["parameters"])
        return
    with pytest.raises(CmdletError) as raised:
        run_cmdlet(Context(org, org.server("EX01")), step["cmdlet"], step["parameters"])
    assert needle in raised.value.message


def test_parameter_names_are_case_insensitive_and_may_be_abbreviated():
    org = org_of("no-certificate-12014.yml")
    objects = run_cmdlet(Context(org, org.server("EX01")), "get-receiveconnector", {"serv": "ex01"})
    assert [o["Name"] for o in objects] == ["Default Frontend EX01", "Default EX01"]


def test_the_payload_refuses_an_abbreviated_parameter_name_before_anything_runs():
    # The binder would take 'serv' for Server; the payload's allow-list names parameters in full.
    org = org_of("no-certificate-12014.yml")
    result, code = run(org, "EX01", [{"cmdlet": "get-receiveconnector", "parameters": {"serv": "ex01"}, "properties": ["Name"]}])
    assert code == 1 and result["steps"] == [] and org.server("EX01").launches == 0
    assert result["msg"] == ("step 0 (get-receiveconnector): parameter 'serv' is not accepted;"
                             " Get-ReceiveConnector accepts only Identity, Server, DomainController")


def test_get_winevent_filters_by_id_and_age_and_a_miss_is_not_an_error():
    org = org_of("no-certificate-12014.yml")
    xpath = "*[System[(EventID=12014 or EventID=12016) and TimeCreated[timediff(@SystemTime) <= 86400000]]]"
    step = {"cmdlet": "Get-WinEvent", "parameters": {"LogName": "Application", "FilterXPath": xpath}, "properties": ["Id", "ProviderName", "TimeCreated"]}
    result, code = run(org, "EX01", [step])
    assert code == 0 and {o["Id"] for o in result["steps"][0]["objects"]} == {12014}
    step["parameters"]["FilterXPath"] = xpath.replace("12014", "12018").replace("12016", "12019")
    result, code = run(org, "EX01", [step])
    assert code == 0 and result["steps"][0]["objects"] == [] and result["steps"][0]["status"] == "ok"


@pytest.mark.parametrize(
    "args, message",
    [
        ({"steps": [], "colour": "red"}, "Unsupported parameters for (exchange_command) module: colour. Supported parameters include: certificate_password, connection_uri, domain_controller, password, session, steps, username"),
        ({}, "missing required arguments: steps"),
        ({"steps": [{"parameters": {}}]}, "missing required arguments: cmdlet found in steps"),
        ({"steps": [{"cmdlet": "Get-ExchangeServer", "shape": 1}]}, "Unsupported parameters for (exchange_command) module: shape found in steps."),
        ({"steps": [], "session": "ssh"}, "value of session must be one of: auto, snapin, remote. Got no match for: ssh"),
        ({"steps": [], "username": "u"}, "parameters are required together: username, password"),
        ({"steps": "Get-ExchangeServer"}, "argument for list entry steps is of type System.String and we were unable to convert to dict"),
    ],
)
def test_module_arguments_are_validated_as_ansible_basic_does(args, message):
    org = org_of("no-certificate-12014.yml")
    result, code, _ = PayloadRunner(org).run(org.server("EX01"), args, False)
    assert code == 1 and message in result["msg"], result["msg"]
    assert org.server("EX01").launches == 0


def test_a_no_log_value_is_masked_in_invocation_and_message():
    org = org_of("no-certificate-12014.yml")
    args = {"steps": [{"cmdlet": "Get-Nothing"}], "username": "u", "password": "hunter2"}
    result, code, _ = PayloadRunner(org).run(org.server("EX01"), args, False)
    assert result["invocation"]["module_args"]["password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert "hunter2" not in json.dumps(result)


def test_a_non_string_bound_to_a_string_parameter_converts_as_powershell_does():
    org = org_of("no-certificate-12014.yml")
    result, code = run(org, "EX01", [{"cmdlet": "Get-ExchangeServer", "parameters": {"Identity": True}}])
    assert code == 1 and "object 'True' couldn't be found" in result["steps"][0]["error"]
