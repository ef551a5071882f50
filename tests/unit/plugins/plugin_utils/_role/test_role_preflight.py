"""plugin_utils/_role/role_preflight.py: what role connector_tls refuses before it contacts any server."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.exchange.transport_tls.plugins.filter.connector_tls_preflight import connector_tls_preflight
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._role import role_preflight

DEFAULTS = ["connector_tls_mode", "connector_tls_report_dir", "connector_tls_scope", "connector_tls_restart_transport"]


def test_the_role_defaults_and_its_own_derived_variables_pass():
    derived = ["connector_tls_remediating", "connector_tls_gathered", "connector_tls_receive", "connector_tls_target"]
    assert role_preflight.preflight(DEFAULTS + derived, expiring_days=30, batch=["EX01"], play_hosts=["EX01"]) == []


def test_every_option_of_the_argument_spec_is_settable():
    settable = role_preflight.settable_variables()
    assert {"connector_tls_restart_transport", "connector_tls_scope", "connector_tls_target"} <= set(settable)
    # Derived variables (vars/main.yml) are the role's own, not the user's.
    assert "connector_tls_remediating" not in settable and "connector_tls_org_host" not in settable


@pytest.mark.parametrize("typo, nearest", [
    ("connector_tls_restart_transprot", "connector_tls_restart_transport"),
    ("connector_tls_expiring_day", "connector_tls_expiring_days"),
    ("connector_tls_probe_prot", "connector_tls_probe_port"),
])
def test_a_typo_is_refused_naming_the_nearest_known_variable(typo, nearest):
    problems = role_preflight.preflight(DEFAULTS + [typo])
    assert problems[0] == f"{typo} is not a variable of role exchange.transport_tls.connector_tls (did you mean {nearest}?)"
    assert problems[-1].startswith("the variables you can set: ") and nearest in problems[-1]


def test_a_name_unlike_any_known_one_gets_no_guess():
    (problem, listing) = role_preflight.preflight(["connector_tls_zzz"])
    assert problem == "connector_tls_zzz is not a variable of role exchange.transport_tls.connector_tls"
    assert "connector_tls_mode" in listing


@pytest.mark.parametrize("value, kind", [(["EX01"], "list"), ({"a": 1}, "dictionary"), (5, "number"), (True, "boolean")])
def test_options_that_must_be_strings_are_refused_by_name(value, kind):
    assert role_preflight.preflight([], strings={"connector_tls_organization_host": value}) == [
        f"connector_tls_organization_host must be a string, got a {kind}"]


def test_a_scope_that_does_not_compile_is_refused():
    (problem,) = role_preflight.preflight([], scope="receive_connectors[?hybrid")
    assert "connector_tls_scope is not a valid JMESPath expression" in problem


@pytest.mark.parametrize("days, ok", [(0, True), (3650, True), ("30", True), (-5, False), (3651, False), ("thirty", False),
                                      (True, False), (1.5, False)])
def test_expiring_days_is_a_whole_number_from_0_to_3650(days, ok):
    problems = role_preflight.preflight([], expiring_days=days)
    assert (problems == []) is ok
    if not ok:
        shown = int(days) if isinstance(days, str) and days.lstrip("-").isdigit() else days
        assert problems == [f"connector_tls_expiring_days must be between 0 and 3650, got {shown!r}; it is a whole number of days"]


def test_serial_is_refused_when_the_batch_is_smaller_than_the_play():
    (problem,) = role_preflight.preflight([], batch=["EX01"], play_hosts=["EX01", "EX02"])
    assert problem.startswith("serial is not supported: this batch has 1 of the play's 2 hosts")


def test_the_filter_refuses_what_is_not_a_list_of_names():
    with pytest.raises(AnsibleFilterError, match="expects the list of connector_tls_\\* variable names"):
        connector_tls_preflight("connector_tls_mode")
    with pytest.raises(AnsibleFilterError, match="strings must be a dictionary"):
        connector_tls_preflight([], strings=["x"])


@pytest.mark.parametrize("certificates, exempt, words", [
    ({"EX01\\Default Frontend EX01": "12345"}, None, "connector_tls_certificates['EX01\\Default Frontend EX01'] must be"),
    (["EX01"], None, "connector_tls_certificates must be a dictionary"),
    (None, {"EX01\\Default Frontend EX01": ""}, "connector_tls_exempt['EX01\\Default Frontend EX01'] must be the reason"),
])
def test_a_bad_certificate_or_exemption_value_is_refused_before_any_launch(certificates, exempt, words):
    problems = role_preflight.preflight(["connector_tls_certificates", "connector_tls_exempt"], certificates=certificates, exempt=exempt)
    assert len(problems) == 1 and words in problems[0].replace("\\\\", "\\"), problems
    assert role_preflight.preflight(["connector_tls_certificates"], certificates={"X": "ab" * 20}, exempt={"Y": "why"}) == []
