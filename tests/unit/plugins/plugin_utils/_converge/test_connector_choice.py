"""plugin_utils/_converge/connector_choice.py: the certificates and exempt options (connector_tls_certificates,
connector_tls_exempt), their values, and identities that name no connector."""

from __future__ import annotations

import pytest

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import PlanError
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import connector_choice

from ..facts_factories import FRONTEND, OUTBOUND, R11_THUMB, hybrid_configuration, receive_connector, send_connector, server_facts

FLEET = {"ex01": server_facts("EX01", receive_connectors=[receive_connector()], send_connectors=[send_connector()],
                              hybrid_configuration=hybrid_configuration())}


def test_thumbprints_are_taken_in_the_forms_the_modules_accept_and_keys_compare_without_case() -> None:
    spaced = " ".join(R11_THUMB[i:i + 2] for i in range(0, 40, 2)).lower()
    pinned, exempt, warnings = connector_choice.check({FRONTEND.upper(): spaced}, {OUTBOUND: " by design "}, FLEET)
    assert pinned == {FRONTEND.lower(): R11_THUMB} and exempt == {OUTBOUND.lower(): "by design"} and warnings == []


@pytest.mark.parametrize("certificates, words", [
    ({FRONTEND: "not-a-thumbprint"}, f"certificates (connector_tls_certificates in the role)['{FRONTEND}'] must be"),
    ({FRONTEND: "AB" * 19}, "40 hexadecimal characters"),
    (["EX01"], "must be a dictionary of connector identity"),
    ({"": R11_THUMB}, "a key must be a connector identity"),
    ({FRONTEND: R11_THUMB, FRONTEND.lower(): R11_THUMB}, "names the same connector twice"),
    ({"Hybrid Configuration": R11_THUMB}, "pin that send connector's certificate instead"),
])
def test_a_bad_certificates_value_is_refused_naming_the_variable(certificates, words) -> None:
    with pytest.raises(PlanError) as raised:
        connector_choice.check(certificates, {}, {})
    assert words in str(raised.value).replace("\\\\", "\\")


@pytest.mark.parametrize("reason", ["", "   ", None, 5])
def test_an_exemption_needs_a_reason(reason) -> None:
    with pytest.raises(PlanError) as raised:
        connector_choice.check({}, {FRONTEND: reason}, {})
    assert "exempt (connector_tls_exempt in the role)" in str(raised.value) and "non-empty string" in str(raised.value)


def test_an_unknown_pin_is_an_error_and_an_unknown_exemption_a_warning_both_naming_the_known_identities() -> None:
    with pytest.raises(PlanError) as raised:
        connector_choice.check({"EX09\\Gone": R11_THUMB}, {}, FLEET)
    message = str(raised.value)
    assert "names 'EX09\\Gone', which is no connector read from any server" in message
    assert f"'{FRONTEND}'" in message and f"'{OUTBOUND}'" in message and "'Hybrid Configuration'" in message
    _pinned, exempt, warnings = connector_choice.check({}, {"EX09\\Gone": "decommissioned"}, FLEET)
    assert exempt == {"ex09\\gone": "decommissioned"}
    assert len(warnings) == 1 and "exempt (connector_tls_exempt in the role) names 'EX09\\Gone'" in warnings[0]
    assert "applies to nothing" in warnings[0]


def test_without_facts_nothing_is_called_unknown() -> None:
    assert connector_choice.check({"EX09\\Gone": R11_THUMB}, {"x": "y"}, {})[2] == []


def test_the_fleet_is_every_host_with_facts_and_a_broken_one_fails_only_when_strict() -> None:
    good = FLEET["ex01"]
    task_vars = {"groups": {"all": ["ex01", "ex02", "ex03"]},
                 "hostvars": {"ex01": {"ansible_facts": {"exchange_tls": good}}, "ex02": {"ansible_facts": {"exchange_tls": {"x": 1}}},
                              "ex03": {}}}
    with pytest.raises(PlanError) as raised:
        connector_choice.fleet_from_hostvars(task_vars)
    assert "hostvars['ex02'].exchange_tls" in str(raised.value)
    assert connector_choice.fleet_from_hostvars(task_vars, strict=False) == {"ex01": good}
