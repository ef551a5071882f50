"""The lab's SMTP listener answers as the receive connector Exchange would select (lab/docs/scenario-format.md, Additions).

Microsoft Learn, "Receive connectors", "Receive connector remote addresses": among connectors that share a
binding, the one whose RemoteIPRanges match the sender most specifically answers. A probe from 127.0.0.1 is
such a sender: what it sees (banner FQDN, STARTTLS, certificate) is the selected connector's.
"""

from __future__ import annotations

import smtplib

import pytest
import yaml

from exchange_lab.cmdlets import receive_connector_object
from tests.conftest import SCENARIOS, starttls

LOOPBACK = "127.0.0.1"


def _demo_with(tmp_path, *extra_connectors: dict, frontend: dict | None = None):
    """demo.yml with EX01's Default Frontend answering with the self-signed certificate (so it offers STARTTLS)
    and extra Front End connectors on EX01 that answer with the R11 certificate."""
    doc = yaml.safe_load((SCENARIOS / "demo.yml").read_text())
    ex01 = next(s for s in doc["servers"] if s["name"] == "EX01")
    for cert in ex01["certificates"]:
        if cert["id"] == "le-r11":
            cert["services"] = ["IIS", "SMTP"]
    default = ex01["receive_connectors"][0]
    default["tls_certificate_name"] = {"certificate": "selfsigned"}
    default.update(frontend or {})
    for connector in extra_connectors:
        ex01["receive_connectors"].append(dict({
            "transport_role": "FrontendTransport",
            "auth_mechanism": ["Tls"],
            "permission_groups": ["AnonymousUsers"],
            "tls_certificate_name": {"certificate": "le-r11"},
        }, **connector))
    path = tmp_path / "selection.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _answer(lab):
    """(banner FQDN, thumbprint presented after STARTTLS) of EX01's port 25, as a client at 127.0.0.1 sees it."""
    port = lab.smtp["EX01"].port
    with smtplib.SMTP(local_hostname="probe.example.net", timeout=10) as client:
        code, banner = client.connect(LOOPBACK, port)
        _, hello = client.ehlo()
    # Exchange names the connector's FQDN in the banner and in the EHLO answer.
    assert code == 220 and hello.decode().split()[0] == banner.decode().split()[0]
    return banner.decode().split()[0], starttls(LOOPBACK, port).thumbprint


def _thumbprint(lab, cert_id):
    return lab.org.server("EX01").certificate_by_id(cert_id).thumbprint


def test_default_frontend_answers_when_it_is_the_only_port_25_connector(tmp_path, running_lab):
    lab = running_lab(_demo_with(tmp_path))
    assert _answer(lab) == ("ex01.contoso.com", _thumbprint(lab, "selfsigned"))


@pytest.mark.parametrize("ranges", [["127.0.0.1"], ["127.0.0.0/8"], ["127.0.0.1-127.0.0.9"]])
def test_a_relay_connector_whose_remote_ranges_hold_the_sender_answers_instead_of_default_frontend(
        tmp_path, running_lab, ranges):
    # "Relay" sorts after "Default Frontend": the listener must not take the first port-25 connector.
    lab = running_lab(_demo_with(tmp_path, {"name": "Relay EX01", "bindings": ["0.0.0.0:25"], "fqdn": "relay.contoso.com",
                                            "remote_ip_ranges": ranges}))
    assert _answer(lab) == ("relay.contoso.com", _thumbprint(lab, "le-r11"))


def test_a_relay_connector_whose_remote_ranges_exclude_the_sender_does_not_answer(tmp_path, running_lab):
    lab = running_lab(_demo_with(tmp_path, {"name": "A Relay EX01", "bindings": ["0.0.0.0:25"], "fqdn": "relay.contoso.com",
                                            "remote_ip_ranges": ["10.0.0.0/8", "192.0.2.25", "2001:db8::/32"]}))
    assert _answer(lab) == ("ex01.contoso.com", _thumbprint(lab, "selfsigned"))


def test_the_narrowest_of_several_matching_ranges_wins(tmp_path, running_lab):
    # Microsoft's example: a single address beats a range that beats the whole space.
    lab = running_lab(_demo_with(
        tmp_path,
        {"name": "Custom A", "bindings": ["0.0.0.0:25"], "fqdn": "a.contoso.com", "remote_ip_ranges": ["127.0.0.0-127.0.0.255"]},
        {"name": "Custom B", "bindings": ["0.0.0.0:25"], "fqdn": "b.contoso.com", "remote_ip_ranges": ["127.0.0.1"]},
    ))
    assert _answer(lab)[0] == "b.contoso.com"


def test_binding_specificity_is_weighed_before_remote_range_specificity(tmp_path, running_lab):
    # Bound to the listener's own address, open to everyone, against every address but the sender's only.
    lab = running_lab(_demo_with(
        tmp_path,
        {"name": "Bound", "bindings": ["127.0.0.1:25"], "fqdn": "bound.contoso.com"},
        {"name": "Narrow", "bindings": ["0.0.0.0:25"], "fqdn": "narrow.contoso.com", "remote_ip_ranges": ["127.0.0.1"]},
    ))
    assert _answer(lab)[0] == "bound.contoso.com"


def test_a_connector_of_another_port_or_the_hub_service_never_answers_port_25(tmp_path, running_lab):
    lab = running_lab(_demo_with(
        tmp_path,
        {"name": "Relay 587", "bindings": ["0.0.0.0:587"], "fqdn": "587.contoso.com", "remote_ip_ranges": ["127.0.0.1"]},
        {"name": "Hub relay", "transport_role": "HubTransport", "bindings": ["0.0.0.0:25"], "fqdn": "hub.contoso.com",
         "remote_ip_ranges": ["127.0.0.1"]},
    ))
    assert _answer(lab)[0] == "ex01.contoso.com"


def test_no_connector_for_the_sender_refuses_the_connection(tmp_path, running_lab):
    lab = running_lab(_demo_with(tmp_path, frontend={"remote_ip_ranges": ["10.0.0.0/8"]}))
    with pytest.raises(smtplib.SMTPConnectError) as raised:
        smtplib.SMTP(LOOPBACK, lab.smtp["EX01"].port, local_hostname="probe.example.net", timeout=10)
    assert raised.value.smtp_code == 421


def test_remote_ip_ranges_reach_get_receive_connector_and_the_saved_state(tmp_path, running_lab):
    lab = running_lab(_demo_with(tmp_path, {"name": "Relay EX01", "bindings": ["0.0.0.0:25"],
                                            "remote_ip_ranges": ["127.0.0.1", "10.0.0.0/8", "2001:db8::1-2001:db8::ff"]}))
    connectors = {rc.name: rc for rc in lab.org.server("EX01").receive_connectors}
    assert receive_connector_object(connectors["Relay EX01"])["RemoteIPRanges"] == [
        "127.0.0.1", "10.0.0.0/8", "2001:db8::1-2001:db8::ff"]
    assert receive_connector_object(connectors["Default Frontend EX01"])["RemoteIPRanges"] == [
        "0.0.0.0-255.255.255.255", "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]
    lab.write_state()
    state = yaml.safe_load((tmp_path / "state.yml").read_text())
    saved = next(s for s in state["servers"] if s["name"] == "EX01")["receive_connectors"]
    assert [c["remote_ip_ranges"] for c in saved if c["name"] == "Relay EX01"] == [
        ["127.0.0.1", "10.0.0.0/8", "2001:db8::1-2001:db8::ff"]]
