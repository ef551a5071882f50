"""exchange_command's action plugin: what the controller refuses before the PowerShell module is sent."""

from __future__ import annotations

import pytest

from ansible_collections.exchange.transport_tls.plugins.action.exchange_command import problem_of

STEP = {"cmdlet": "Get-ExchangeServer"}
SECRET = "vault-held-Passw0rd"


@pytest.mark.parametrize("value", [{"password": SECRET}, [SECRET]], ids=["dictionary", "list"])
def test_a_secret_of_the_wrong_type_is_refused_without_being_shown(value):
    problem = problem_of({"steps": [STEP], "username": "CONTOSO\\audit", "password": value})
    assert problem.startswith("password must be a string, got a ") and "not shown" in problem
    assert SECRET not in problem


@pytest.mark.parametrize("value", [{"pfx": SECRET}, [SECRET]], ids=["dictionary", "list"])
def test_a_certificate_password_of_the_wrong_type_is_refused_without_being_shown(value):
    problem = problem_of({"steps": [STEP], "certificate_password": value})
    assert problem.startswith("certificate_password must be a string, got a ") and "not shown" in problem
    assert SECRET not in problem


def test_session_rules_are_the_action_modules_rules():
    problem = problem_of({"steps": [STEP], "session": "snapin", "username": "CONTOSO\\audit", "password": "x"})
    assert "cannot be combined with session=snapin" in problem
    uri_problem = problem_of({"steps": [STEP], "username": "a@contoso.com", "password": "x",
                              "connection_uri": "ftp://ex01/PowerShell/"})
    assert "connection_uri must be" in uri_problem


def test_an_empty_batch_is_refused_and_a_valid_one_goes_through():
    assert "at least one step" in problem_of({"steps": []})
    assert problem_of({"steps": [STEP], "username": "CONTOSO\\audit", "password": "x"}) is None
    # A number for a string option is left to the payload's Ansible.Basic validation, which names it.
    assert problem_of({"steps": [STEP], "username": 42, "password": "x"}) is None
