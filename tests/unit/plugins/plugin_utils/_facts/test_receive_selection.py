"""Tests for plugin_utils/_facts/receive_selection.py: Exchange's choice of receive connector for a connection."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import receive_selection as rs

ANY = ["0.0.0.0:25", "[::]:25"]


def test_microsofts_example_the_most_specific_remote_range_wins():
    # Microsoft Learn, "Receive connectors", "Receive connector remote addresses" (Exchange01's three connectors).
    connectors = [
        ("Client Frontend Exchange01", ["0.0.0.0:25"], ["0.0.0.0-255.255.255.255"]),
        ("Custom Connector A", ["0.0.0.0:25"], ["192.168.1.0-192.168.1.255"]),
        ("Custom Connector B", ["0.0.0.0:25"], ["192.168.1.75"]),
    ]
    assert rs.select_connector(connectors, "10.0.0.5", 25, "192.168.1.75") == "Custom Connector B"
    assert rs.select_connector(connectors, "10.0.0.5", 25, "192.168.1.100") == "Custom Connector A"
    assert rs.select_connector(connectors, "10.0.0.5", 25, "203.0.113.9") == "Client Frontend Exchange01"


def test_a_cidr_range_is_more_specific_than_a_wider_lo_hi_range():
    connectors = [("wide", ANY, ["10.0.0.0-10.255.255.255"]), ("cidr", ANY, ["10.1.0.0/16"])]
    assert rs.select_connector(connectors, "10.0.0.5", 25, "10.1.2.3") == "cidr"
    assert rs.select_connector(connectors, "10.0.0.5", 25, "10.2.2.3") == "wide"


def test_binding_to_the_local_address_beats_a_narrower_remote_range():
    connectors = [("bound", ["10.0.0.5:25"], None), ("narrow", ["0.0.0.0:25"], ["192.0.2.1"])]
    assert rs.select_connector(connectors, "10.0.0.5", 25, "192.0.2.1") == "bound"
    # Another local address: the specific binding does not listen there.
    assert rs.select_connector(connectors, "10.0.0.6", 25, "192.0.2.1") == "narrow"


def test_port_and_address_family_must_match_and_no_match_is_none():
    connectors = [("587", ["0.0.0.0:587"], None), ("v6 only", ["[::]:25"], None)]
    assert rs.select_connector(connectors, "10.0.0.5", 25, "192.0.2.1") is None
    assert rs.select_connector(connectors, "2001:db8::5", 25, "2001:db8::9") == "v6 only"
    assert rs.select_connector([("v4", ANY, ["10.0.0.0/8"])], "10.0.0.5", 25, "192.0.2.1") is None


def test_an_ipv4_mapped_peer_is_the_ipv4_sender_it_is():
    connectors = [("default", ANY, None), ("relay", ANY, ["192.0.2.1"])]
    assert rs.select_connector(connectors, "::ffff:10.0.0.5", 25, "::ffff:192.0.2.1") == "relay"


def test_unknown_local_address_counts_every_binding_on_the_port():
    connectors = [("bound", ["10.0.0.5:25"], ["10.0.0.0/8"]), ("default", ANY, None)]
    assert rs.select_connector(connectors, None, 25, "10.9.9.9") == "bound"
    assert rs.select_connector(connectors, None, 25, "40.92.0.1") == "default"


@pytest.mark.parametrize("text, first, last", [
    ("192.168.1.10", "192.168.1.10", "192.168.1.10"),
    ("192.168.1.0/24", "192.168.1.0", "192.168.1.255"),
    ("192.168.1.5/24", "192.168.1.0", "192.168.1.255"),
    ("192.168.1.10-192.168.1.20", "192.168.1.10", "192.168.1.20"),
    ("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
    ("2a01:111:f400::/48", "2a01:111:f400::", "2a01:111:f400:ffff:ffff:ffff:ffff:ffff"),
])
def test_exchanges_ip_range_forms(text, first, last):
    assert rs.parse_ip_range(text) == (ipaddress.ip_address(first), ipaddress.ip_address(last))


@pytest.mark.parametrize("text, why", [
    ("10.0.0.9-10.0.0.1", "its upper bound is below its lower bound"),
    ("10.0.0.1-::1", "mixes IPv4 and IPv6"),
    ("anywhere", "anywhere"),
    ("10.0.0.0/33", "10.0.0.0/33"),
])
def test_a_bad_range_is_refused_naming_it_and_the_valid_forms(text, why):
    with pytest.raises(ValueError, match="is not an IP range Exchange accepts") as raised:
        rs.parse_ip_range(text)
    assert why in str(raised.value) and "Lo-Hi range (192.168.1.10-192.168.1.20)" in str(raised.value)


def test_microsoft_365_senders_lie_in_exchange_onlines_published_ranges():
    networks = [ipaddress.ip_network(r) for r in rs.MICROSOFT_365_RANGES]
    assert len(rs.MICROSOFT_365_SENDERS) == len(networks)
    for sender, network in zip(rs.MICROSOFT_365_SENDERS, networks):
        assert ipaddress.ip_address(sender) in network
