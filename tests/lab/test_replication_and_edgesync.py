"""The lab's directory replication (dc1/dc2, replication_lag_seconds) and EdgeSync copies with the 256-character cap.

lab-scenarios.md, Additions: a write through one domain controller is read at
once through the same one and only after the lag through the other; an Edge
reads its own EdgeSync copy of a send connector, which never receives a name
longer than 256 characters (KB 4052493). Cmdlets run through the lab's
payload runner, as a WinRM module run reaches them.
"""

from __future__ import annotations

import pytest
import yaml

from exchange_lab import model
from exchange_lab.model import Organization
from exchange_lab.payload import PayloadRunner
from exchange_lab.scenario import ScenarioError, dump_state, load_scenario, load_scenario_text
from exchange_lab.server import state_of

from tests.conftest import SCENARIOS

DC1, DC2 = "dc1.contoso.lab", "dc2.contoso.lab"
FRONTEND = "EX01\\Default Frontend EX01"
EDGE_SEND = "EdgeSync - Default-First-Site-Name to Internet"


class Clock:
    """time.monotonic for the lab's Directory, advanced by the test instead of by waiting."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(model.time, "monotonic", fake)
    return fake


def run(org: Organization, server: str, steps: list[dict], domain_controller: str | None = None):
    args = {"steps": steps}
    if domain_controller:
        args["domain_controller"] = domain_controller
    result, rc, _ = PayloadRunner(org).run(org.server(server), args, False)
    return result, rc


def step(cmdlet: str, properties: list[str], **parameters) -> dict:
    return {"cmdlet": cmdlet, "parameters": parameters, "properties": properties}


def read_default(org: Organization, dc: str) -> tuple[str, str]:
    result, rc = run(org, "EX01", [step("Get-TransportService", ["InternalTransportCertificateThumbprint", "OriginatingServer"],
                                        Identity="EX01")], dc)
    assert rc == 0, result
    obj = result["steps"][0]["objects"][0]
    return obj["InternalTransportCertificateThumbprint"], obj["OriginatingServer"]


def thumb(org: Organization, server: str, cert_id: str) -> str:
    return org.server(server).certificate_by_id(cert_id).thumbprint


# -- replication -----------------------------------------------------------------


def test_a_write_is_seen_at_once_through_its_domain_controller_and_after_the_lag_through_the_other(clock):
    org = Organization(load_scenario(SCENARIOS / "replication-lag.yml"))
    selfsigned, r11 = thumb(org, "EX01", "selfsigned"), thumb(org, "EX01", "le-r11")
    result, rc = run(org, "EX01", [step("Enable-ExchangeCertificate", [], Thumbprint=r11, Services="SMTP", Force=True)], DC1)
    assert rc == 0, result
    assert read_default(org, DC1) == (r11, DC1)
    assert read_default(org, DC2) == (selfsigned, DC2), "dc2 must not see dc1's write before the lag"
    clock.now += 14.9
    assert read_default(org, DC2)[0] == selfsigned
    clock.now += 0.2
    assert read_default(org, DC2)[0] == r11


def test_a_restore_through_the_same_domain_controller_reads_back_at_once_and_the_later_write_wins(clock):
    org = Organization(load_scenario(SCENARIOS / "replication-lag.yml"))
    selfsigned, r11 = thumb(org, "EX01", "selfsigned"), thumb(org, "EX01", "le-r11")
    steps = [step("Enable-ExchangeCertificate", [], Thumbprint=r11, Services="SMTP", Force=True),
             step("Enable-ExchangeCertificate", [], Thumbprint=selfsigned, Services="SMTP", Force=True)]
    # Enable through dc1, restore through dc2: each sees only its own write until the lag has passed.
    assert run(org, "EX01", steps[:1], DC1)[1] == 0
    clock.now += 1
    assert run(org, "EX01", steps[1:], DC2)[1] == 0
    assert read_default(org, DC1)[0] == r11, "dc1 has not seen the restore yet: a read there is the false 'not restored'"
    assert read_default(org, DC2)[0] == selfsigned
    clock.now += 15
    assert read_default(org, DC1)[0] == read_default(org, DC2)[0] == selfsigned, "the later write (the restore) wins"
    assert org.server("EX01").internal_transport_certificate == selfsigned


def test_connector_writes_replicate_and_a_read_without_domain_controller_is_served_by_one_of_the_two(clock):
    org = Organization(load_scenario(SCENARIOS / "replication-lag.yml"))
    r11_name = org.server("EX01").certificate_by_id("le-r11").tls_certificate_name
    old = org.server("EX01").receive_connectors[0].tls_certificate_name
    assert run(org, "EX01", [step("Set-ReceiveConnector", [], Identity=FRONTEND, TlsCertificateName=r11_name)], DC2)[1] == 0
    seen = set()
    for _ in range(20):
        result, rc = run(org, "EX01", [step("Get-ReceiveConnector", ["TlsCertificateName", "OriginatingServer"], Identity=FRONTEND)])
        obj = result["steps"][0]["objects"][0]
        seen.add((obj["OriginatingServer"], obj["TlsCertificateName"]))
    assert seen == {(DC1, old), (DC2, r11_name)}


def test_an_unknown_domain_controller_is_refused_when_the_lab_replicates():
    org = Organization(load_scenario(SCENARIOS / "replication-lag.yml"))
    result, rc = run(org, "EX01", [step("Get-TransportService", ["Name"], Identity="EX01")], "dc01.contoso.com")
    assert rc == 1
    assert "dc01.contoso.com isn't available" in result["msg"] and DC1 in result["msg"] and DC2 in result["msg"]


def test_replication_lag_is_validated_with_file_and_line():
    text = (SCENARIOS / "replication-lag.yml").read_text().replace("replication_lag_seconds: 15", "replication_lag_seconds: -1")
    with pytest.raises(ScenarioError) as raised:
        load_scenario_text(text, "lag.yml")
    line = text.splitlines().index("replication_lag_seconds: -1") + 1
    assert f"lag.yml:{line}: replication_lag_seconds: must be a finite number >= 0, found -1" in str(raised.value)


# -- EdgeSync copies ----------------------------------------------------------------


def test_edgesync_copies_a_name_that_fits_and_keeps_the_old_one_for_a_longer_name():
    org = Organization(load_scenario(SCENARIOS / "edge-name-cap.yml"))
    connector = org.send_connector(EDGE_SEND)
    old = connector.edge_copies["EDGE01"]
    ev = org.server("EDGE01").certificate_by_id("ev-2026").tls_certificate_name
    assert len(ev) > 256
    result, rc = run(org, "EX01", [step("Set-SendConnector", [], Identity=EDGE_SEND, TlsCertificateName=ev)])
    assert rc == 0, result
    # The Mailbox side reads the new value; the Edge reads its own copy, which EdgeSync could not update.
    mailbox, _ = run(org, "EX01", [step("Get-SendConnector", ["TlsCertificateName"], Identity=EDGE_SEND)])
    edge, _ = run(org, "EDGE01", [step("Get-SendConnector", ["TlsCertificateName"], Identity=EDGE_SEND)])
    assert mailbox["steps"][0]["objects"][0]["TlsCertificateName"] == ev
    assert edge["steps"][0]["objects"][0]["TlsCertificateName"] == old
    assert org.outbound_status(connector)["EDGE01"].startswith("454 4.7.5")
    state = state_of(org, load_scenario(SCENARIOS / "edge-name-cap.yml"))
    assert state["send_connectors"][0]["edge_copies"] == {"EDGE01": old}
    # A saved state reloads with the Edge's copy as it was.
    again = Organization(load_scenario_text(dump_state(state)))
    assert again.send_connector(EDGE_SEND).edge_copies == {"EDGE01": old}

    fits = "<I>CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1, O=DigiCert Inc, C=US<S>CN=smtp.contoso.com"
    assert run(org, "EX01", [step("Set-SendConnector", [], Identity=EDGE_SEND, TlsCertificateName=fits)])[1] == 0
    assert connector.edge_copies == {"EDGE01": fits}


def test_an_edge_receive_connector_refuses_a_name_longer_than_256_and_keeps_its_value():
    org = Organization(load_scenario(SCENARIOS / "edge-name-cap.yml"))
    rc_obj = org.server("EDGE01").receive_connectors[0]
    before = rc_obj.tls_certificate_name
    ev = org.server("EDGE01").certificate_by_id("ev-2026").tls_certificate_name
    result, rc = run(org, "EDGE01", [step("Set-ReceiveConnector", [], Identity=rc_obj.name, TlsCertificateName=ev)])
    assert rc == 1
    assert "constraint violation" in result["msg"] and "256" in result["msg"]
    assert rc_obj.tls_certificate_name == before and org.server("EDGE01").writes == 0


def test_edge_copies_name_edge_source_servers_only():
    text = (SCENARIOS / "edge-name-cap.yml").read_text().replace(
        "    tls_certificate_name: {certificate: EDGE01/digicert-2025}\n",
        "    tls_certificate_name: {certificate: EDGE01/digicert-2025}\n    edge_copies: {EX01: null}\n", 1)
    with pytest.raises(ScenarioError) as raised:
        load_scenario_text(text, "copies.yml")
    line = text.splitlines().index("    edge_copies: {EX01: null}") + 1
    assert f"copies.yml:{line}: send_connectors[0].edge_copies.EX01: not an Edge server of the scenario; valid: EDGE01" in str(raised.value)
    assert yaml.safe_load(text)  # the text itself is valid YAML: the error is the lab's rule
