"""The lab's certificate rollout cmdlets (lab/docs/scenario-format.md, additions), through the payload runner.

Import-ExchangeCertificate adds a certificate from PFX bytes and fails on a wrong
password or a thumbprint the store already holds; Remove-ExchangeCertificate
refuses, with Exchange's own words where they are published, a certificate a
send connector names, the internal transport certificate and the Auth
certificate; Get-AuthConfig names the Auth certificate; Export-ExchangeCertificate
fails unless the key is exportable. What a test checks is what an administrator
would see: the store, the result, the error text.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import pathlib

import pytest

from exchange_lab import pfx
from exchange_lab.cmdlets import CmdletError, Context, run_cmdlet
from exchange_lab.model import Organization
from exchange_lab.payload import PayloadRunner
from exchange_lab.pki import Minter
from exchange_lab.scenario import ScenarioError, dump_state, load_scenario, load_scenario_text
from exchange_lab.server import state_of

FIXTURE = pathlib.Path(__file__).resolve().parents[2] / "tests" / "lab" / "fixtures" / "rollout.yml"
PASSWORD = "Pfx-Secret-4711"
R10 = "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
R11 = "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
UTC = dt.timezone.utc


def renewal():
    return Minter().mint(subject="CN=mail.contoso.com", issuer="CN=R11, O=Let's Encrypt, C=US", self_signed=False,
                         domains=["mail.contoso.com"], not_before=dt.datetime(2026, 11, 20, tzinfo=UTC),
                         not_after=dt.datetime(2027, 2, 18, tzinfo=UTC))


def org() -> Organization:
    return Organization(load_scenario(FIXTURE))


def run(o: Organization, server: str, steps: list[dict], **options):
    result, rc, journal = PayloadRunner(o).run(o.server(server), {"steps": steps, **options}, False)
    return result, rc, journal


def import_step(data: bytes, **parameters) -> dict:
    return {"cmdlet": "Import-ExchangeCertificate", "parameters": {"FileData": base64.b64encode(data).decode(), **parameters},
            "properties": ["Thumbprint", "HasPrivateKey", "Services", "Subject", "Issuer"]}


def remove_step(thumbprint: str, **parameters) -> dict:
    return {"cmdlet": "Remove-ExchangeCertificate", "parameters": {"Thumbprint": thumbprint, "Confirm": False, **parameters}}


def thumbprints(o: Organization, server: str) -> set[str]:
    return {c.thumbprint for c in o.server(server).store()}


def old(o: Organization, server: str) -> str:
    return o.server(server).certificate_by_id("le-r10").thumbprint


# -- Import-ExchangeCertificate ------------------------------------------------------------------


def test_import_adds_the_certificate_with_its_key_and_no_service_and_never_shows_the_password():
    o, new = org(), renewal()
    result, rc, journal = run(o, "EX02", [import_step(pfx.build_pfx(new, PASSWORD))], certificate_password=PASSWORD)
    assert rc == 0, result["msg"]
    imported = result["steps"][0]["objects"][0]
    assert imported["Thumbprint"] == new.thumbprint
    assert imported["HasPrivateKey"] is True and imported["Services"] == "None"
    assert (imported["Subject"], imported["Issuer"]) == ("CN=mail.contoso.com", "CN=R11, O=Let's Encrypt, C=US")
    assert new.thumbprint in thumbprints(o, "EX02") and new.thumbprint not in thumbprints(o, "EX01")
    assert not o.server("EX02").certificate(new.thumbprint).exportable
    # Ansible.Basic masks the no_log option in the invocation; the journal (what Exchange logs) never had it.
    assert PASSWORD not in json.dumps(result) and PASSWORD not in json.dumps(journal, default=str)


def test_private_key_exportable_is_kept_and_export_then_works():
    o, new = org(), renewal()
    result, rc, _ = run(o, "EX03", [import_step(pfx.build_pfx(new, PASSWORD), PrivateKeyExportable=True)],
                        certificate_password=PASSWORD)
    assert rc == 0, result["msg"]
    ctx = Context(o, o.server("EX03"))
    exported = run_cmdlet(ctx, "Export-ExchangeCertificate", {"Thumbprint": new.thumbprint, "Password": "other"})
    assert pfx.read_pfx(exported[0]["FileData"], "other").minted.thumbprint == new.thumbprint


def test_export_fails_unless_the_key_is_exportable():
    o = org()
    with pytest.raises(CmdletError, match="The private key couldn't be exported as PKCS-12"):
        run_cmdlet(Context(o, o.server("EX01")), "Export-ExchangeCertificate", {"Thumbprint": old(o, "EX01")})


def test_a_wrong_password_fails_and_adds_nothing_without_echoing_either_password():
    o, new = org(), renewal()
    before = thumbprints(o, "EX01")
    result, rc, _ = run(o, "EX01", [import_step(pfx.build_pfx(new, PASSWORD))], certificate_password="not-it-4711")
    assert rc == 1
    assert "The specified network password is not correct." in result["msg"]
    assert thumbprints(o, "EX01") == before
    assert "not-it-4711" not in json.dumps(result) and PASSWORD not in json.dumps(result)


def test_importing_a_thumbprint_the_store_holds_fails_and_changes_nothing():
    o = org()
    existing = o.server("EX01").certificate_by_id("le-r10")
    before = [(c.thumbprint, frozenset(c.services)) for c in o.server("EX01").certificates]
    result, rc, _ = run(o, "EX01", [import_step(pfx.build_pfx(existing.minted, PASSWORD))], certificate_password=PASSWORD)
    assert rc == 1
    assert f"The certificate with thumbprint {existing.thumbprint} already exists" in result["msg"]
    assert [(c.thumbprint, frozenset(c.services)) for c in o.server("EX01").certificates] == before


def test_a_pfx_without_a_private_key_imports_a_certificate_that_cannot_be_enabled():
    o, new = org(), renewal()
    result, rc, _ = run(o, "EX04", [import_step(pfx.build_pfx(new, PASSWORD, with_key=False))], certificate_password=PASSWORD)
    assert rc == 0 and result["steps"][0]["objects"][0]["HasPrivateKey"] is False
    result, rc, _ = run(o, "EX04", [{"cmdlet": "Enable-ExchangeCertificate",
                                     "parameters": {"Thumbprint": new.thumbprint, "Services": "SMTP", "Force": True}}])
    assert rc == 1 and "doesn't have a private key" in result["msg"]


def test_an_edge_server_imports_locally():
    o, new = org(), renewal()
    result, rc, _ = run(o, "EDGE01", [import_step(pfx.build_pfx(new, PASSWORD))], certificate_password=PASSWORD)
    assert rc == 0, result["msg"]
    assert new.thumbprint in thumbprints(o, "EDGE01")


def test_file_data_that_is_not_base64_fails_the_step():
    o = org()
    result, rc, _ = run(o, "EX01", [{"cmdlet": "Import-ExchangeCertificate", "parameters": {"FileData": "not base64!"}}])
    assert rc == 1 and "not a valid Base-64 string" in result["msg"]


def test_the_password_is_no_step_parameter():
    o = org()
    result, rc, _ = run(o, "EX01", [import_step(b"x", Password=PASSWORD)])
    assert rc == 1
    assert "parameter 'Password' is not accepted" in result["msg"] and PASSWORD not in result["msg"]


# -- Remove-ExchangeCertificate -----------------------------------------------------------------


def test_removal_is_refused_while_a_send_connector_names_the_issuer_and_subject():
    o = org()
    result, rc, _ = run(o, "EX01", [remove_step(old(o, "EX01"))])
    assert rc == 1
    # Microsoft Learn, "Can't remove a certificate that's installed in Exchange Server".
    assert ("A special Rpc error occurs on server EX01: These certificates are tagged with following Send Connectors : "
            "Outbound to Office 365. Removing and replacing certificates from Send Connector would break the mail flow."
            ) in result["msg"]
    assert old(o, "EX01") in thumbprints(o, "EX01")


def test_a_receive_connector_naming_it_does_not_stop_the_removal():
    # KB2989382's scenario: only send connectors block Remove-ExchangeCertificate. EX04 is no source server,
    # but the send connector still names the pair, so it is renamed first.
    o = org()
    o.send_connector("Outbound to Office 365").tls_certificate_name = R11
    thumbprint = old(o, "EX04")
    result, rc, _ = run(o, "EX04", [remove_step(thumbprint)])
    assert rc == 0, result["msg"]
    assert thumbprint not in thumbprints(o, "EX04")
    assert thumbprint in thumbprints(o, "EX01")  # one server's store only


def test_the_internal_transport_certificate_is_refused_with_exchanges_words():
    o = org()
    itc = o.server("EX02").internal_transport_certificate
    result, rc, _ = run(o, "EX02", [remove_step(itc)])
    assert rc == 1
    assert "The internal transport certificate cannot be removed because that would cause the Microsoft Exchange " \
           "Transport service to stop." in result["msg"]
    assert itc in thumbprints(o, "EX02")


@pytest.mark.parametrize("which", ["current", "next"])
def test_the_auth_certificate_current_or_next_is_refused(which):
    scenario = load_scenario(FIXTURE)
    if which == "next":
        scenario["auth_certificate"] = {"certificate": "EX01/selfsigned", "next_certificate": "EX01/auth"}
    o = Organization(scenario)
    auth = o.server("EX03").certificate_by_id("auth").thumbprint
    result, rc, _ = run(o, "EX03", [remove_step(auth)])
    assert rc == 1 and f"is the {which} Auth certificate" in result["msg"]
    assert auth in thumbprints(o, "EX03")


def test_removal_without_confirm_false_would_prompt_and_fails():
    o = org()
    o.send_connector("Outbound to Office 365").tls_certificate_name = R11
    result, rc, _ = run(o, "EX04", [{"cmdlet": "Remove-ExchangeCertificate", "parameters": {"Thumbprint": old(o, "EX04")}}])
    assert rc == 1 and "NonInteractive" in result["msg"]
    assert old(o, "EX04") in thumbprints(o, "EX04")


def test_the_payload_accepts_confirm_only_as_false():
    o = org()
    result, rc, _ = run(o, "EX04", [remove_step(old(o, "EX04"), Confirm=True)])
    assert rc == 1 and "Confirm True is not accepted; Confirm accepts only False" in result["msg"]


def test_an_edge_reads_its_own_copy_of_a_send_connector_it_is_source_of():
    scenario = load_scenario(FIXTURE)
    scenario["send_connectors"][0]["source_transport_servers"].append("EDGE01")
    o = Organization(scenario)
    result, rc, _ = run(o, "EDGE01", [remove_step(old(o, "EDGE01"))])
    assert rc == 1 and "tagged with following Send Connectors : Outbound to Office 365" in result["msg"]


# -- Get-AuthConfig and the scenario key -----------------------------------------------------------


def test_get_auth_config_names_current_and_next():
    scenario = load_scenario(FIXTURE)
    scenario["auth_certificate"]["next_certificate"] = "EX02/selfsigned"
    o = Organization(scenario)
    result, rc, _ = run(o, "EX03", [{"cmdlet": "Get-AuthConfig", "properties": ["CurrentCertificateThumbprint", "NextCertificateThumbprint"]}])
    assert rc == 0
    assert result["steps"][0]["objects"] == [{
        "CurrentCertificateThumbprint": o.server("EX01").certificate_by_id("auth").thumbprint,
        "NextCertificateThumbprint": o.server("EX02").certificate_by_id("selfsigned").thumbprint,
    }]


def test_without_auth_certificate_get_auth_config_names_none_and_edge_has_no_such_cmdlet():
    scenario = load_scenario(FIXTURE)
    scenario["auth_certificate"] = None
    o = Organization(scenario)
    result, rc, _ = run(o, "EX01", [{"cmdlet": "Get-AuthConfig", "properties": ["CurrentCertificateThumbprint"]}])
    assert result["steps"][0]["objects"] == [{"CurrentCertificateThumbprint": None}]
    result, rc, _ = run(o, "EDGE01", [{"cmdlet": "Get-AuthConfig", "properties": ["CurrentCertificateThumbprint"]}])
    assert rc == 1 and "'Get-AuthConfig' is not recognized" in result["msg"]


@pytest.mark.parametrize("value, words", [
    ("EX01/auth", "expected a mapping or null"),
    ({"certificate": "EX09/auth"}, "no server named 'EX09'"),
    ({"certificate": "EX01/nope"}, "server EX01 has no certificate 'nope'"),
    ({"certificate": "EX01/auth", "later": "EX01/auth"}, "unknown key 'later'; valid: certificate, next_certificate"),
    ({"next_certificate": "EX01/auth"}, "auth_certificate.certificate: required key is missing"),
])
def test_a_bad_auth_certificate_is_refused_naming_it(value, words):
    text = FIXTURE.read_text().replace("auth_certificate: {certificate: EX01/auth}", f"auth_certificate: {json.dumps(value)}")
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(text, "rollout.yml")
    assert words in str(caught.value)


def test_the_state_keeps_an_imported_certificate_and_the_auth_certificate():
    o, new = org(), renewal()
    result, rc, _ = run(o, "EX02", [import_step(pfx.build_pfx(new, PASSWORD))], certificate_password=PASSWORD)
    assert rc == 0
    state = state_of(o, load_scenario(FIXTURE))
    again = Organization(load_scenario_text(dump_state(state), "state.yml"))
    assert new.thumbprint in thumbprints(again, "EX02")
    assert again.auth_certificates() == o.auth_certificates()
