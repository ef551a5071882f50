"""connector_tls_scope: a JMESPath expression over one host's facts, turned into the connectors in scope."""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import pathlib

import pytest
import yaml
from hypothesis import given, strategies as st

from ansible.errors import AnsibleFilterError

from ansible_collections.exchange.transport_tls.plugins.filter import connector_scope as scope_filter
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report import scope
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.scope import ScopeError, in_scope

from ..facts_factories import FRONTEND, OUTBOUND, hybrid_configuration, receive_connector, send_connector, server_facts

ROOT = pathlib.Path(__file__).resolve().parents[5]
HUB = "EX01\\Default EX01"
CLIENT = "EX01\\Client Frontend EX01"
PARTNER = "Partner Relay"


def facts() -> dict:
    """EX01 as the demo lab shows it, plus a client connector and a second send connector."""
    return server_facts(
        receive_connectors=[
            receive_connector(hybrid=True, tls_certificate_name="<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com",
                              tls_domain_capabilities=["mail.protection.outlook.com:AcceptCloudServicesMail"]),
            receive_connector(identity=HUB, name="Default EX01", transport_role="HubTransport",
                              bindings=["0.0.0.0:2525", "[::]:2525"], ports=[2525], fqdn="ex01.contoso.com"),
            receive_connector(identity=CLIENT, name="Client Frontend EX01", bindings=["0.0.0.0:587", "[::]:587"],
                              ports=[587], enabled=False),
        ],
        send_connectors=[
            send_connector(tls_certificate_name="<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"),
            send_connector(identity=PARTNER, name=PARTNER, cloud=False, source_transport_servers=["EX02"],
                           this_server_is_source=False),
        ],
        hybrid_configuration=hybrid_configuration(),
        findings=[
            {"code": "tls_certificate_name_not_found", "severity": "error", "object_type": "receive_connector",
             "object": FRONTEND},
            {"code": "tls_certificate_name_not_found", "severity": "error", "object_type": "send_connector",
             "object": OUTBOUND},
        ],
    )


EVERY = sorted([FRONTEND, HUB, CLIENT, OUTBOUND, PARTNER])


# --------------------------------------------------------------------------
# What expressions select
# --------------------------------------------------------------------------

@pytest.mark.parametrize("expression", [None, "", "   "])
def test_no_expression_selects_every_receive_and_send_connector(expression):
    assert in_scope(facts(), expression) == EVERY


@pytest.mark.parametrize("expression, expected", [
    # The filter's documented examples (connector_scope.yml).
    ("receive_connectors[?contains(ports, `25`)]", [FRONTEND]),
    ("[receive_connectors[?hybrid], send_connectors[?cloud]][]", [FRONTEND, OUTBOUND]),
    ("[receive_connectors[?hybrid], send_connectors[?cloud]]", [FRONTEND, OUTBOUND]),
    ("receive_connectors[?enabled && transport_role == 'FrontendTransport'].identity", [FRONTEND]),
    ("['Default Frontend EX01', 'default ex01']", [HUB, FRONTEND]),
    ("findings[?code == 'tls_certificate_name_not_found' && object_type == 'receive_connector'].object", [FRONTEND]),
    ("receive_connectors[?ports[0] == `587`]", [CLIENT]),
    # More shapes.
    ("receive_connectors", sorted([FRONTEND, HUB, CLIENT])),
    ("send_connectors", sorted([OUTBOUND, PARTNER])),
    ("receive_connectors[0]", [FRONTEND]),
    ("send_connectors[?name == 'Partner Relay'] | [0]", [PARTNER]),
    ("send_connectors[?cloud].name", [OUTBOUND]),
    ("send_connectors[?contains(source_transport_servers, 'EX02') && !this_server_is_source].identity", [PARTNER]),
    ("receive_connectors[?!enabled]", [CLIENT]),
    ("receive_connectors[?length(bindings) > `1`].name", sorted([FRONTEND, HUB, CLIENT])),
    ("receive_connectors[?tls_certificate_name == null].identity", sorted([HUB, CLIENT])),
    ("findings[].object", [FRONTEND, OUTBOUND]),
    ("`\"ex01\\\\default frontend ex01\"`", [FRONTEND]),       # a JSON literal string, case-insensitive identity
    ("'partner relay'", [PARTNER]),
    ("[receive_connectors[0], receive_connectors[0].identity, 'Default Frontend EX01']", [FRONTEND]),   # duplicates
    ("[receive_connectors[?hybrid] | [0], send_connectors[?name == 'nope'] | [0]]", [FRONTEND]),       # null skipped
    ("receive_connectors[?hybrid].{identity: identity}", [FRONTEND]),   # a projection keeping identity
    # Nothing in scope.
    ("receive_connectors[?ports[0] == `465`]", []),
    ("hybrid_configuration.nope", []),
    ("`null`", []),
    ("`[]`", []),
    ("[[], []]", []),
])
def test_expressions(expression, expected):
    assert in_scope(facts(), expression) == sorted(expected)


def test_documented_examples_are_tested():
    """Every connector_tls_scope in the filter's EXAMPLES is one of the expressions tested above."""
    doc = yaml.safe_load((ROOT / "plugins" / "filter" / "connector_scope.yml").read_text())
    lines = [line.strip().lstrip("#").strip() for line in doc["EXAMPLES"].splitlines()]
    documented = [yaml.safe_load(line)["connector_tls_scope"] for line in lines if line.startswith("connector_tls_scope:")]
    tested = {case[0] for case in _parametrized(test_expressions) + _parametrized(test_identities_of_other_servers_are_out_of_scope_here)}
    assert len(documented) >= 5
    assert set(documented) <= tested


def _parametrized(function) -> list:
    (mark,) = [m for m in function.pytestmark if m.name == "parametrize"]
    return mark.args[1]


def test_values_tagged_by_ansible():
    """Facts as ansible-core hands them over (tagged str/int subclasses) still work with JMESPath functions."""

    class Tagged(str):
        pass

    class TaggedInt(int):
        pass

    data = facts()
    data["receive_connectors"][0]["ports"] = [TaggedInt(25)]
    data["receive_connectors"][0]["identity"] = Tagged(FRONTEND)
    result = in_scope(data, Tagged("receive_connectors[?contains(ports, `25`)]"))
    assert result == [FRONTEND] and not isinstance(result[0], Tagged)


def test_send_connectors_are_returned_by_name():
    data = facts()
    data["send_connectors"][1]["identity"] = "CN=Partner Relay,CN=Connections,..."   # whatever Exchange prints
    assert in_scope(data, "send_connectors[?!cloud]") == [PARTNER]
    assert in_scope(data, "send_connectors[?!cloud].name") == [PARTNER]


def test_facts_without_send_connectors():
    name = "Default internal receive connector EDGE01"
    edge = server_facts("EDGE01", role="Edge", receive_connectors=[receive_connector(identity=f"EDGE01\\{name}", name=name)])
    del edge["send_connectors"]
    assert in_scope(edge, None) == ["EDGE01\\Default internal receive connector EDGE01"]
    assert in_scope(edge, "send_connectors") == []


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

def error(expression, data=None) -> str:
    with pytest.raises(ScopeError) as caught:
        in_scope(facts() if data is None else data, expression)
    message = str(caught.value)
    assert "connector_tls_scope" in message
    return message


@pytest.mark.parametrize("expression, shown", [
    ("length(receive_connectors)", "returned 3"),
    ("receive_connectors[0].enabled", "returned true"),
    ("hybrid_configuration", '"features"'),                         # an object without identity
    ("server", '"computer_name": "EX01"'),
    ("receive_connectors[].ports", "[25]"),                         # numbers inside the list
    ("[receive_connectors[0].ports, receive_connectors[1].ports]", "25"),
    ("[[receive_connectors]]", "nested more than one level"),
    ("certificates", '"days_remaining": 824'),
])
def test_results_that_are_not_connectors(expression, shown):
    message = error(expression)
    assert shown in message
    assert f"{expression!r} returned" in message
    assert "receive_connectors[?contains(ports, `25`)]" in message     # what is valid, with an example
    assert "null or [] for none" in message


def test_long_results_are_truncated():
    message = error("certificates")
    assert "... (truncated)" in message
    assert len(message) < 1500


@pytest.mark.parametrize("expression, name", [
    ("'Default Frontend EX02'", "'Default Frontend EX02'"),
    ("['EX01\\Default Frontend EX02']", "'EX01\\\\Default Frontend EX02'"),    # this server's, but none
    ("receive_connectors[0].fqdn", "'mail.contoso.com'"),
    ("`\"\"`", "''"),
])
def test_strings_must_name_a_connector(expression, name):
    message = error(expression)
    assert f"selected {name}, which is not a connector of EX01's facts" in message
    assert FRONTEND.replace("\\", "\\\\") in message and PARTNER in message    # the known connectors


def test_object_with_unknown_identity():
    message = error("[{identity: 'EX01\\Nope'}]")
    assert "identity \"EX01\\\\Nope\", which is not a connector" in message
    assert "identity \"Nope\", which is not a connector" in error("[{identity: 'Nope'}]")


@pytest.mark.parametrize("expression, expected", [
    ("['EX01\\Default Frontend EX01', 'EX02\\Default Frontend EX02']", [FRONTEND]),
    ("['ex02\\default frontend ex02', 'EDGE01\\Default internal receive connector EDGE01']", []),
    ("[{identity: 'EX02\\Default Frontend EX02'}, receive_connectors[0]]", [FRONTEND]),
])
def test_identities_of_other_servers_are_out_of_scope_here(expression, expected):
    """One expression runs on every host: another server's receive connector identity is not an error."""
    assert in_scope(facts(), expression) == expected


def test_identities_of_other_servers_without_a_server_in_the_facts():
    data = facts()
    del data["server"]
    assert in_scope(data, "['EX02\\Default Frontend EX02']") == []


def test_a_name_shared_by_two_connectors_must_be_an_identity():
    data = facts()
    data["send_connectors"][1].update(identity="Default EX01", name="Default EX01")
    message = error("'Default EX01'", data)
    assert "names several connectors" in message and HUB in message
    # The identity is unambiguous.
    assert in_scope(data, "'EX01\\Default EX01'") == [HUB]
    assert in_scope(data, "receive_connectors[?name == 'Default EX01']") == [HUB]


@pytest.mark.parametrize("expression, jmespath_says", [
    ("receive_connectors[?contains(ports, 25", "Parse error"),
    ("receive_connectors[?", "Incomplete expression"),
    ("receive_connectors[?hybrid", "Incomplete expression"),
    ("receive_connectors | | send_connectors", "Parse error"),
    ("receive_connectors[?name == \"x]", "Bad jmespath expression"),       # lexer error
])
def test_invalid_expressions(expression, jmespath_says):
    message = error(expression)
    assert message.startswith("connector_tls_scope is not a valid JMESPath expression")
    assert jmespath_says in message
    assert "receive_connectors[?contains(ports, `25`)]" in message
    assert "\n" not in message


def test_expression_failing_on_the_facts():
    message = error("receive_connectors[?contains(nope, `25`)]")
    assert "failed on these facts" in message and "contains" in message


@pytest.mark.parametrize("expression", [25, ["receive_connectors"], {"a": 1}])
def test_expression_must_be_a_string(expression):
    assert "must be a JMESPath expression (a string)" in error(expression)


@pytest.mark.parametrize("data", [None, [], "EX01", {"certificates": []}])
def test_input_must_be_facts(data):
    with pytest.raises(ScopeError, match="one host's ansible_facts.exchange_tls"):
        in_scope(data, "receive_connectors")


def test_missing_jmespath_says_to_install_it(monkeypatch):
    """A copy of plugin_utils/_report/scope.py loaded where jmespath cannot be imported."""
    real_import = builtins.__import__

    def no_jmespath(name, *args, **kwargs):
        if name == "jmespath" or name.startswith("jmespath."):
            raise ImportError("No module named 'jmespath'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_jmespath)
    spec = importlib.util.spec_from_file_location("scope_without_jmespath", scope.__file__)
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)
    monkeypatch.setattr(builtins, "__import__", real_import)
    assert copy.jmespath is None
    # No expression needs no library.
    assert copy.in_scope(facts(), None) == EVERY
    with pytest.raises(copy.ScopeError) as caught:
        copy.in_scope(facts(), "receive_connectors")
    assert "jmespath" in str(caught.value) and "pip install jmespath" in str(caught.value)
    assert "requirements.txt" in str(caught.value)


# --------------------------------------------------------------------------
# The filter
# --------------------------------------------------------------------------

def test_filter_is_registered_and_returns_identities():
    filters = scope_filter.FilterModule().filters()
    assert filters["connector_scope"](facts(), "send_connectors[?cloud]") == [OUTBOUND]
    assert filters["connector_scope"](facts()) == EVERY


def test_filter_raises_ansible_filter_error():
    with pytest.raises(AnsibleFilterError, match="connector_tls_scope is not a valid JMESPath expression"):
        scope_filter.connector_scope(facts(), "receive_connectors[?")


def test_sidecar_documentation():
    doc = yaml.safe_load((ROOT / "plugins" / "filter" / "connector_scope.yml").read_text())
    assert doc["DOCUMENTATION"]["name"] == "connector_scope"
    assert set(doc["DOCUMENTATION"]["options"]) == {"_input", "expression"}
    assert doc["RETURN"]["_value"]["type"] == "list"


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

IDENTITIES = [FRONTEND, HUB, CLIENT]
SENDS = [OUTBOUND, PARTNER]


def _raw(text: str) -> str:
    # A JMESPath raw string: only \' is an escape; backslashes stay as they are.
    return "'" + text.replace("'", "\\'") + "'"


@given(
    receive=st.lists(st.sampled_from(IDENTITIES), unique=True),
    send=st.lists(st.sampled_from(SENDS), unique=True),
    as_objects=st.booleans(),
    nested=st.booleans(),
    case=st.sampled_from([str, str.upper, str.lower]),
)
def test_any_selection_round_trips(receive, send, as_objects, nested, case):
    """Selecting any subset by objects, identities or names (any case), nested or flat, returns that subset."""
    if as_objects:
        parts = [f"receive_connectors[?identity == {_raw(i)}] | [0]" for i in receive]
        parts += [f"send_connectors[?name == {_raw(n)}] | [0]" for n in send]
    else:
        parts = [_raw(case(i)) for i in receive + send]
    expression = (f"[[{', '.join(parts)}]]" if nested else f"[{', '.join(parts)}]") if parts else "`[]`"
    assert in_scope(facts(), expression) == sorted(receive + send)


@given(st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(),
                 st.dictionaries(st.sampled_from(["name", "server", "ports"]), st.text(max_size=5), min_size=1)))
def test_any_non_connector_value_is_refused(value):
    expression = "`" + json.dumps(value).replace("`", "\\`") + "`"
    with pytest.raises(ScopeError, match="connector_tls_scope .* returned"):
        in_scope(facts(), expression)


@given(st.text(min_size=1, max_size=30))
def test_strings_never_select_something_else(text):
    """A string selects the one connector it names (case-insensitively), another server's, or fails; never another one."""
    names = {c.casefold(): c for c in EVERY}
    names.update({"default frontend ex01": FRONTEND, "default ex01": HUB, "client frontend ex01": CLIENT})
    expression = "`" + json.dumps(text).replace("`", "\\`") + "`"
    try:
        result = in_scope(facts(), expression)
    except ScopeError:
        assert text.casefold() not in names
    else:
        if result == []:    # another server's receive connector identity
            server, _sep, name = text.partition("\\")
            assert server.strip() and name.strip() and server.casefold() != "ex01"
        else:
            assert result == [names[text.casefold()]]


# --------------------------------------------------------------------------
# Through ansible-core (the venv's version): templated values and ansible-doc. About a second each,
# so not marked `ansible` (ansible-test units does not know that marker).
# --------------------------------------------------------------------------

BIN = pathlib.Path(sys.executable).parent


def _ansible(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run([*args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_filter_in_a_template(tmp_path):
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(facts()))
    template = ("{{ lookup('file', '%s') | from_json | exchange.transport_tls.connector_scope(expression) | to_json }}" % path)
    proc = _ansible(str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m", "ansible.builtin.debug",
                    "-a", f"msg={template}", "-e", json.dumps({"expression": "[receive_connectors[?contains(ports, `25`)], send_connectors[?cloud]]"}))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(json.loads(proc.stdout.split("=>", 1)[1])["msg"]) == [FRONTEND, OUTBOUND]
    proc = _ansible(str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m", "ansible.builtin.debug",
                    "-a", f"msg={template}", "-e", json.dumps({"expression": "receive_connectors[?"}))
    assert proc.returncode != 0
    assert "connector_tls_scope is not a valid JMESPath expression" in proc.stdout + proc.stderr


def test_ansible_doc_renders():
    proc = _ansible(str(BIN / "ansible-doc"), "-t", "filter", "exchange.transport_tls.connector_scope")
    assert proc.returncode == 0, proc.stderr
    assert "connector_tls_scope" in proc.stdout and "RETURN VALUES" in proc.stdout


def test_without_facts_the_filter_only_checks_the_expression():
    from ansible.errors import AnsibleFilterError
    from ansible_collections.exchange.transport_tls.plugins.filter.connector_scope import connector_scope

    # A bare name is valid JMESPath even though no facts are there to resolve it yet.
    assert connector_scope(None, "'Default EX01'") == []
    assert connector_scope(None, None) == []
    with pytest.raises(AnsibleFilterError, match="connector_tls_scope"):
        connector_scope(None, "receive_connectors[?")
