"""exchange_lab.scenario: loading, validation, normalisation and dump of scenario files."""

from __future__ import annotations

import pickle
import re
import string
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange_lab.cli import check_command
from exchange_lab.scenario import (
    ALLOWED_SERVICES,
    AUTH_MECHANISMS,
    CERTIFICATE_STATUSES,
    FAULT_KINDS,
    PERMISSION_GROUPS,
    TLS_AUTH_LEVELS,
    Problem,
    ScenarioError,
    dump_state,
    find_server,
    load_scenario,
    load_scenario_text,
    resolve_certificate,
)

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "lab" / "fixtures"
DOC = Path(__file__).resolve().parents[1] / "docs" / "scenario-format.md"
UTC = timezone.utc

# A small valid scenario. Rule tests replace one unique piece of it; the line
# the error must point at is marked with "#!".
BASE = """\
format: 1
organization: contoso
now: 2026-11-27T12:00:00Z
latency:
  launch_seconds: 0.5
hybrid_configuration:
  tls_certificate_name: {certificate: EX01/old}
  receiving_transport_servers: [EX01]
  sending_transport_servers: [EX01]
  edge_transport_servers: []
send_connectors:
  - name: Outbound to Office 365
    address_spaces: ["smtp:contoso.mail.onmicrosoft.com;1"]
    source_transport_servers: [EX01]
    tls_certificate_name: {certificate: EX01/old}
    tls_auth_level: DomainValidation
    tls_domain: mail.protection.outlook.com
    require_tls: true
servers:
  - name: EX01
    fqdn: ex01.contoso.com
    role: Mailbox
    version: "15.2.1544.4"
    certificates:
      - id: selfsigned
        subject: CN=EX01
        self_signed: true
        not_before: 2024-01-01
        not_after: 2029-01-01
        services: [IMAP, POP, IIS, SMTP]
      - id: old
        subject: CN=mail.contoso.com
        issuer: CN=R10, O=Let's Encrypt, C=US
        not_before: 2025-09-01
        not_after: 2025-11-30
        services: [IIS, SMTP]
        status: Valid
    internal_transport_certificate: selfsigned
    receive_connectors:
      - name: Default Frontend EX01
        transport_role: FrontendTransport
        bindings: ["0.0.0.0:25", "[::]:25"]
        auth_mechanism: [Tls, ExchangeServer]
        permission_groups: [AnonymousUsers]
        tls_domain_capabilities: ["mail.protection.outlook.com:AcceptCloudServicesMail"]
        tls_certificate_name: {certificate: old}
    faults:
      - kind: timeout
        cmdlet: Get-ReceiveConnector
        times: 2
  - name: EDGE01
    fqdn: edge01.contoso.com
    role: Edge
    version: "15.2.1544.4"
    certificates:
      - id: edgecert
        subject: CN=EDGE01
        self_signed: true
        not_before: 2024-01-01
        not_after: 2029-01-01
        services: [SMTP]
    internal_transport_certificate: edgecert
    edge_subscription_certificate: edgecert
    receive_connectors:
      - name: Default internal receive connector EDGE01
        bindings: ["0.0.0.0:25"]
"""

EDGE_CERT_END = "        services: [SMTP]\n    internal_transport_certificate: edgecert\n"
EXTRA_EDGE_CERT = """\
        services: [SMTP]
      - id: {id}
        subject: CN=extra
        self_signed: true
        not_before: 2024-01-01
        not_after: 2029-01-01
    internal_transport_certificate: edgecert
"""


def mutate(old: str, new: str) -> str:
    assert BASE.count(old) == 1, f"{old!r} must occur exactly once in BASE"
    return BASE.replace(old, new)


def marked_line(text: str) -> int:
    lines = [n for n, line in enumerate(text.splitlines(), 1) if "#!" in line]
    assert len(lines) == 1, "mark exactly one line with #!"
    return lines[0]


def errors(text: str, filename: str = "case.yml") -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, filename)
    return info.value


def assert_problem(text: str, key: str, *fragments: str, count: int = 1) -> Problem:
    """The text fails with ``count`` problems, one at the #! line naming ``key``."""
    line = marked_line(text)
    err = errors(text)
    assert len(err.details) == count, str(err)
    matches = [p for p in err.details if p.key == key]
    assert matches, f"no problem for {key}:\n{err}"
    problem = matches[0]
    assert problem.file == "case.yml" and problem.line == line, str(err)
    for fragment in fragments:
        assert fragment in problem.message, f"{fragment!r} not in {problem.message!r}"
    assert f"case.yml:{line}: {key}: {problem.message}" in str(err).splitlines()
    return problem


# --------------------------------------------------------------------------- fixtures


def test_base_is_valid():
    scenario = load_scenario_text(BASE)
    assert [s["name"] for s in scenario["servers"]] == ["EX01", "EDGE01"]


def test_doc_example_fixture_is_verbatim():
    block = re.search(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    assert (FIXTURES / "doc-example.yml").read_text(encoding="utf-8") == block


def test_doc_example_parses_with_only_its_known_gaps():
    # The scenario-format.md example is a catalogue of keys, not a complete
    # organisation: it names a certificate `selfsigned` and a server EX02 it
    # never defines, and shows the Edge-only edge_subscription_certificate on a
    # Mailbox server. Every key in it is understood (no unknown-key or type
    # problems); exactly these cross-reference problems remain.
    path = FIXTURES / "doc-example.yml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert [(p.line, p.key) for p in info.value.details] == [
        (16, "send_connectors[0].source_transport_servers[1]"),
        (41, "servers[0].internal_transport_certificate"),
        (42, "servers[0].edge_subscription_certificate"),
        (42, "servers[0].edge_subscription_certificate"),
    ]
    assert all(p.file == str(path) for p in info.value.details)
    assert "no server named 'EX02'; servers: EX01" in info.value.problems[0]
    assert "has no certificate 'selfsigned'; ids on EX01: old" in info.value.problems[1]
    assert "only valid on an Edge server" in info.value.problems[3]


def test_doc_example_completed_loads():
    scenario = load_scenario(FIXTURES / "doc-example-completed.yml")
    ex01 = scenario["servers"][0]
    old = ex01["certificates"][0]
    assert scenario["now"] == datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert scenario["hybrid_configuration"]["tls_certificate_name"] == {"certificate": "EX01/old"}
    assert scenario["send_connectors"][0]["smart_hosts"] == []
    assert old["not_before"] == datetime(2025, 9, 1, tzinfo=UTC)
    assert old["in_store"] is False and old["thumbprint"] is None
    assert ex01["receive_connectors"][0]["tls_certificate_name"] == {"certificate": "old"}
    assert scenario["servers"][2]["receive_connectors"][0]["transport_role"] is None
    assert scenario["servers"][2]["edge_subscription_certificate"] == "selfsigned"


def test_state_sample_normalises():
    scenario = load_scenario(FIXTURES / "state-sample.yml")
    mbx, edge = scenario["servers"]
    assert scenario["now"] == datetime(2026, 11, 27, 11, tzinfo=UTC)
    assert scenario["latency"] == {"launch_seconds": 1.0}
    assert mbx["role"] == "Mailbox"
    assert mbx["internal_transport_certificate"] == "exch"
    exch, new = mbx["certificates"]
    assert exch["services"] == ["IMAP", "POP", "IIS", "SMTP"] and exch["issuer"] is None
    assert new["services"] == [] and new["status"] == "Untrusted"
    assert new["not_before"] == datetime(2026, 10, 1, 10, tzinfo=UTC)
    assert new["not_after"] == datetime(2026, 12, 30, 10, 0, 0, 250000, tzinfo=UTC)
    assert mbx["receive_connectors"][0]["transport_role"] == "FrontendTransport"
    assert mbx["receive_connectors"][0]["auth_mechanism"] == ["Tls"]
    faults = mbx["faults"]
    assert [f["kind"] for f in faults] == list(FAULT_KINDS) + ["concurrent_change"]
    assert faults[0] == {"kind": "http_500", "cmdlet": None, "times": 1, "occurrence": 1}
    assert faults[7] == {"kind": "concurrent_change", "cmdlet": None, "times": 1, "occurrence": 1,
                         "connector": "Default Frontend MBX1", "value": None}
    assert faults[9] == {"kind": "stray_error_record", "cmdlet": "Enable-ExchangeCertificate", "times": 1, "occurrence": 2}
    assert (mbx["launches"], mbx["writes"], mbx["edgesync"]) == (4, 1, None)
    assert mbx["events"][0]["time"] == datetime(2026, 11, 27, 11, tzinfo=UTC)
    assert edge["certificates"][0]["issuer"] is None  # self-signed: issuer == subject
    assert edge["edgesync"] == "broken" and edge["events"] == []


# doc-example.yml does not load on purpose; see test_doc_example_parses_with_only_its_known_gaps.
@pytest.mark.parametrize("path", sorted(p for p in FIXTURES.glob("*.yml") if p.name != "doc-example.yml"),
                         ids=lambda p: p.name)
def test_fixture_round_trip(path):
    scenario = load_scenario(path)
    text = dump_state(scenario)
    assert load_scenario_text(text, "dumped.yml") == scenario
    assert dump_state(load_scenario_text(text)) == text


def test_defaults_filled():
    text = """\
format: 1
organization: o
servers:
  - name: S1
    fqdn: s1.example
    role: Mailbox
    version: "15.2.1.1"
    certificates:
      - id: c
        subject: CN=S1
        self_signed: true
        not_before: 2024-01-01
        not_after: 2025-01-01
    internal_transport_certificate: c
    receive_connectors:
      - name: R
        transport_role: HubTransport
        bindings: ["0.0.0.0:2525"]
"""
    assert load_scenario_text(text) == {
        "format": 1, "organization": "o", "now": None, "latency": {"launch_seconds": 0.0},
        "hybrid_configuration": None, "send_connectors": [],
        "servers": [{
            "name": "S1", "fqdn": "s1.example", "role": "Mailbox", "version": "15.2.1.1",
            "certificates": [{
                "id": "c", "subject": "CN=S1", "issuer": None, "self_signed": True, "domains": [],
                "not_before": datetime(2024, 1, 1, tzinfo=UTC),
                "not_after": datetime(2025, 1, 1, tzinfo=UTC),
                "services": [], "has_private_key": True, "status": "Valid", "in_store": True, "friendly_name": None,
                "root_ca_type": "Registry",
                "key": "ECDSA P-256", "signature_hash": "sha256", "eku": ["serverAuth", "clientAuth"],
                "include_chain": True, "exportable": False,
                "thumbprint": None,
            }],
            "internal_transport_certificate": "c", "edge_subscription_certificate": None,
            "transport_change_needs_restart": False, "certificate_properties": "full", "enum_form": "name",
            "receive_connectors": [{
                "name": "R", "transport_role": "HubTransport", "bindings": ["0.0.0.0:2525"],
                "fqdn": None, "auth_mechanism": [], "permission_groups": [],
                "tls_domain_capabilities": [], "tls_certificate_name": None, "require_tls": False,
                "remote_ip_ranges": ["0.0.0.0-255.255.255.255", "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
            }],
            "faults": [], "launches": 0, "writes": 0, "restarts": 0, "events": [], "edgesync": None,
        }],
        "replication_lag_seconds": 0.0,
    }


def test_send_connector_defaults():
    text = mutate("""\
    tls_certificate_name: {certificate: EX01/old}
    tls_auth_level: DomainValidation
    tls_domain: mail.protection.outlook.com
    require_tls: true
""", "")
    assert load_scenario_text(text)["send_connectors"][0] == {
        "name": "Outbound to Office 365", "address_spaces": ["smtp:contoso.mail.onmicrosoft.com;1"],
        "source_transport_servers": ["EX01"], "fqdn": None, "tls_certificate_name": None,
        "tls_auth_level": None, "tls_domain": None, "require_tls": False,
        "cloud_services_mail_enabled": False, "smart_hosts": [], "outbound_tls": None, "edge_copies": None,
    }


@pytest.mark.parametrize("raw, expected", [
    ("2025-09-01", datetime(2025, 9, 1, tzinfo=UTC)),
    ("'2025-09-01'", datetime(2025, 9, 1, tzinfo=UTC)),
    ("2025-09-01T10:30:00Z", datetime(2025, 9, 1, 10, 30, tzinfo=UTC)),
    ("2025-09-01 10:30:00", datetime(2025, 9, 1, 10, 30, tzinfo=UTC)),
    ("'2025-09-01T12:30:00+02:00'", datetime(2025, 9, 1, 10, 30, tzinfo=UTC)),
    ("2025-09-01T05:30:00-05:00", datetime(2025, 9, 1, 10, 30, tzinfo=UTC)),
    ("null", None),
])
def test_now_normalised_to_utc(raw, expected):
    value = load_scenario_text(mutate("now: 2026-11-27T12:00:00Z", f"now: {raw}"))["now"]
    assert value == expected
    assert value is None or value.tzinfo is UTC


def test_literal_and_null_tls_certificate_names_kept_as_given():
    literal = "<i>cn=whatever<s>not even checked"
    text = mutate("tls_certificate_name: {certificate: old}", f"tls_certificate_name: '{literal}'")
    text = text.replace("  tls_certificate_name: {certificate: EX01/old}\n  receiving",
                        "  tls_certificate_name: null\n  receiving")
    scenario = load_scenario_text(text)
    assert scenario["servers"][0]["receive_connectors"][0]["tls_certificate_name"] == literal
    assert scenario["hybrid_configuration"]["tls_certificate_name"] is None


def test_references_are_case_insensitive_for_servers_and_normalised():
    text = mutate("source_transport_servers: [EX01]", "source_transport_servers: [ex01, edge01]")
    text = text.replace("{certificate: EX01/old}\n  receiving", "{certificate: ex01/old}\n  receiving")
    scenario = load_scenario_text(text)
    assert scenario["send_connectors"][0]["source_transport_servers"] == ["EX01", "EDGE01"]
    assert scenario["hybrid_configuration"]["tls_certificate_name"] == {"certificate": "ex01/old"}
    server, cert = resolve_certificate(scenario, "ex01/old")
    assert (server["name"], cert["id"]) == ("EX01", "old")
    assert resolve_certificate(scenario, "old", "EX01")[1] is cert
    assert find_server(scenario, "edge01")["role"] == "Edge"
    with pytest.raises(KeyError):
        resolve_certificate(scenario, "EX01/nope")


def test_internal_transport_certificate_may_name_its_own_server():
    text = mutate("internal_transport_certificate: selfsigned",
                  "internal_transport_certificate: ex01/selfsigned")
    assert load_scenario_text(text)["servers"][0]["internal_transport_certificate"] == "selfsigned"


def test_yaml_merge_keys_are_not_duplicates():
    text = mutate("      - id: old\n", "      - &oldcert\n        id: old\n")
    text = text.replace("""\
    internal_transport_certificate: selfsigned
""", """\
      - <<: *oldcert
        id: old2
        status: Revoked
    internal_transport_certificate: selfsigned
""")
    certs = load_scenario_text(text)["servers"][0]["certificates"]
    assert certs[2]["id"] == "old2" and certs[2]["status"] == "Revoked"
    assert certs[2]["subject"] == certs[1]["subject"]


# --------------------------------------------------------------------------- one test per rule

RULES = [
    # id, old, new (with #! on the error line), key, message fragments
    ("format-value", "format: 1", "format: 2  #!", "format",
     ["unsupported format 2", "valid: 1"]),
    ("format-type", "format: 1", "format: '1'  #!", "format",
     ["expected an integer, found string '1'"]),
    ("required-key", "format: 1\norganization: contoso\n", "format: 1  #!\n", "organization",
     ["required key is missing"]),
    ("bool-where-string", "organization: contoso", "organization: yes  #!", "organization",
     ["expected a string, found boolean true", "quote"]),
    ("float-where-string", '    role: Mailbox\n    version: "15.2.1544.4"',
     "    role: Mailbox\n    version: 15.2  #!", "servers[0].version",
     ["expected a string, found float 15.2"]),
    ("version-syntax", '    role: Mailbox\n    version: "15.2.1544.4"',
     "    role: Mailbox\n    version: SE  #!", "servers[0].version", ["'SE' is not an Exchange build"]),
    ("now-string", "now: 2026-11-27T12:00:00Z", "now: yesterday  #!", "now",
     ["'yesterday' is not an ISO 8601 date or datetime"]),
    ("launch-seconds", "launch_seconds: 0.5", "launch_seconds: -1  #!", "latency.launch_seconds",
     ["must be a finite number >= 0"]),
    ("latency-type", "latency:\n  launch_seconds: 0.5", "latency: 0.5  #!", "latency",
     ["expected a mapping, found float 0.5"]),
    ("server-name-unique", "  - name: EDGE01", "  - name: ex01  #!", "servers[1].name",
     ["duplicate server name 'ex01'", "servers[0].name", "case-insensitive"]),
    ("server-name-host", "  - name: EDGE01", "  - name: EDGE_01  #!", "servers[1].name",
     ["'EDGE_01' is not usable as an Ansible inventory host name", "letters, digits and '-'"]),
    ("server-name-reserved", "  - name: EDGE01", "  - name: localhost  #!", "servers[1].name",
     ["reserved in Ansible inventories", "all, ungrouped, localhost"]),
    ("server-fqdn", "fqdn: ex01.contoso.com", "fqdn: ex01 contoso  #!", "servers[0].fqdn",
     ["'ex01 contoso' is not an FQDN"]),
    ("certificate-id-unique", EDGE_CERT_END, EXTRA_EDGE_CERT.format(id="edgecert  #!"),
     "servers[1].certificates[1].id",
     ["duplicate certificate id 'edgecert'", "servers[1].certificates[0].id"]),
    ("certificate-id-slash", EDGE_CERT_END, EXTRA_EDGE_CERT.format(id="a/b  #!"),
     "servers[1].certificates[1].id", ["'a/b' is not a certificate id", "no '/'"]),
    ("role", "role: Edge", "role: Hub  #!", "servers[1].role",
     ["'Hub' is not a server role; valid: Mailbox, Edge"]),
    ("transport-role", "transport_role: FrontendTransport", "transport_role: Frontend  #!",
     "servers[0].receive_connectors[0].transport_role",
     ["'Frontend' is not a TransportRole; valid: FrontendTransport, HubTransport"]),
    ("transport-role-required-on-mailbox",
     "      - name: Default Frontend EX01\n        transport_role: FrontendTransport\n",
     "      - name: Default Frontend EX01  #!\n", "servers[0].receive_connectors[0].transport_role",
     ["required key is missing"]),
    ("transport-role-omitted-on-edge", '        bindings: ["0.0.0.0:25"]\n',
     '        bindings: ["0.0.0.0:25"]\n        transport_role: HubTransport  #!\n',
     "servers[1].receive_connectors[0].transport_role",
     ["must be omitted on an Edge server", "FrontendTransport, HubTransport"]),
    ("services-name", "services: [IIS, SMTP]", "services: [IIS, SMTP, SMTPP]  #!",
     "servers[0].certificates[1].services[2]",
     ["'SMTPP' is not an AllowedServices name; valid: None, Federation, IIS, IMAP, POP, SMTP, "
      "UM, UMCallRouter"]),
    ("services-type", "services: [IIS, SMTP]", "services: IIS  #!", "servers[0].certificates[1].services",
     ["expected a list of AllowedServices names, found string 'IIS'"]),
    ("services-twice", "services: [IIS, SMTP]", "services: [IIS, smtp, SMTP]  #!",
     "servers[0].certificates[1].services[2]", ["'SMTP' is listed twice"]),
    ("services-none-combined", "services: [IIS, SMTP]", "services: [None, SMTP]  #!",
     "servers[0].certificates[1].services", ["'None' cannot be combined"]),
    ("status", "status: Valid", "status: Expired  #!", "servers[0].certificates[1].status",
     ["'Expired' is not a CertificateStatus name; valid: " + ", ".join(CERTIFICATE_STATUSES)]),
    ("bool-type", "self_signed: true\n        not_before: 2024-01-01\n        not_after: 2029-01-01\n"
     "        services: [IMAP",
     "self_signed: 'yes'  #!\n        not_before: 2024-01-01\n        not_after: 2029-01-01\n"
     "        services: [IMAP", "servers[0].certificates[0].self_signed",
     ["expected true or false, found string 'yes'"]),
    ("thumbprint", "        status: Valid\n", "        status: Valid\n        thumbprint: abc123  #!\n",
     "servers[0].certificates[1].thumbprint", ["'abc123' is not a thumbprint (40 upper-case hex"]),
    ("self-signed-issuer", "        subject: CN=EX01\n        self_signed: true\n",
     "        subject: CN=EX01\n        issuer: CN=Someone Else  #!\n        self_signed: true\n",
     "servers[0].certificates[0].issuer", ["issuer is its subject ('CN=EX01')", "'CN=Someone Else'"]),
    ("issuer-required",
     "      - id: old\n        subject: CN=mail.contoso.com\n        issuer: CN=R10, O=Let's Encrypt, C=US\n",
     "      - id: old  #!\n        subject: CN=mail.contoso.com\n", "servers[0].certificates[1].issuer",
     ["required when self_signed is false"]),
    ("not-after-after-not-before", "not_after: 2025-11-30", "not_after: 2025-08-01  #!",
     "servers[0].certificates[1].not_after",
     ["must be after not_before (2025-08-01T00:00:00Z <= 2025-09-01T00:00:00Z)"]),
    ("date-type", "not_before: 2025-09-01", "not_before: 12  #!", "servers[0].certificates[1].not_before",
     ["expected a date or datetime", "found integer 12"]),
    ("auth-mechanism", "auth_mechanism: [Tls, ExchangeServer]", "auth_mechanism: [TLS, Basic]  #!",
     "servers[0].receive_connectors[0].auth_mechanism[1]",
     ["'Basic' is not an AuthMechanism name; valid: " + ", ".join(AUTH_MECHANISMS)]),
    ("permission-groups", "permission_groups: [AnonymousUsers]", "permission_groups: [Anonymous]  #!",
     "servers[0].receive_connectors[0].permission_groups[0]",
     ["'Anonymous' is not a PermissionGroups name; valid: " + ", ".join(PERMISSION_GROUPS)]),
    ("binding-syntax", 'bindings: ["0.0.0.0:25", "[::]:25"]', 'bindings: ["0.0.0.0:25", "::25"]  #!',
     "servers[0].receive_connectors[0].bindings[1]",
     ["'::25' is not a binding", '"IPv4:port"', '"[IPv6]:port"']),
    ("binding-port", 'bindings: ["0.0.0.0:25", "[::]:25"]', 'bindings: ["0.0.0.0:70000", "[::]:25"]  #!',
     "servers[0].receive_connectors[0].bindings[0]", ["port 70000 is out of range; valid: 1-65535"]),
    ("binding-port-zero", 'bindings: ["0.0.0.0:25", "[::]:25"]', 'bindings: ["0.0.0.0:25", "[::]:0"]  #!',
     "servers[0].receive_connectors[0].bindings[1]", ["port 0 is out of range; valid: 1-65535"]),
    ("binding-address", 'bindings: ["0.0.0.0:25", "[::]:25"]', 'bindings: ["300.1.1.1:25", "[::]:25"]  #!',
     "servers[0].receive_connectors[0].bindings[0]", ["'300.1.1.1' is not an IP address"]),
    ("bindings-empty", 'bindings: ["0.0.0.0:25", "[::]:25"]', "bindings: []  #!",
     "servers[0].receive_connectors[0].bindings", ["must not be empty"]),
    ("domain-capabilities", '["mail.protection.outlook.com:AcceptCloudServicesMail"]',
     "[mail.protection.outlook.com]  #!", "servers[0].receive_connectors[0].tls_domain_capabilities[0]",
     ['is not "Domain:Capability[,Capability...]"']),
    ("receive-connector-name-unique", '        bindings: ["0.0.0.0:25"]\n',
     '        bindings: ["0.0.0.0:25"]\n      - name: default INTERNAL receive connector EDGE01  #!\n'
     '        bindings: ["0.0.0.0:587"]\n', "servers[1].receive_connectors[1].name",
     ["duplicate receive connector name", "servers[1].receive_connectors[0].name"]),
    ("local-reference", "tls_certificate_name: {certificate: old}", "tls_certificate_name: {certificate: new}  #!",
     "servers[0].receive_connectors[0].tls_certificate_name.certificate",
     ["certificate reference 'new'", "ids on EX01: selfsigned, old"]),
    ("reference-unknown-server", "  tls_certificate_name: {certificate: EX01/old}\n  receiving",
     "  tls_certificate_name: {certificate: EX09/old}  #!\n  receiving",
     "hybrid_configuration.tls_certificate_name.certificate",
     ["certificate reference 'EX09/old'", "no server named 'EX09'; servers: EX01, EDGE01"]),
    ("reference-unknown-certificate", "    tls_certificate_name: {certificate: EX01/old}",
     "    tls_certificate_name: {certificate: EDGE01/old}  #!",
     "send_connectors[0].tls_certificate_name.certificate",
     ["certificate reference 'EDGE01/old'", "ids on EDGE01: edgecert"]),
    ("reference-needs-server", "    tls_certificate_name: {certificate: EX01/old}",
     "    tls_certificate_name: {certificate: old}  #!",
     "send_connectors[0].tls_certificate_name.certificate",
     ["must name its server", "certificates: EX01/selfsigned, EX01/old, EDGE01/edgecert"]),
    ("tls-certificate-name-type", "tls_certificate_name: {certificate: old}", "tls_certificate_name: [old]  #!",
     "servers[0].receive_connectors[0].tls_certificate_name",
     ["expected a literal TlsCertificateName string, {certificate: ref} or null, found list"]),
    ("internal-certificate-other-server", "internal_transport_certificate: selfsigned",
     "internal_transport_certificate: EDGE01/edgecert  #!", "servers[0].internal_transport_certificate",
     ["must be a certificate of this server (EX01)", "ids on EX01: selfsigned, old"]),
    ("internal-certificate-missing", "internal_transport_certificate: selfsigned",
     "internal_transport_certificate: nope  #!", "servers[0].internal_transport_certificate",
     ["certificate reference 'nope'", "ids on EX01: selfsigned, old"]),
    ("edge-subscription-edge-only", "internal_transport_certificate: selfsigned\n",
     "internal_transport_certificate: selfsigned\n    edge_subscription_certificate: selfsigned  #!\n",
     "servers[0].edge_subscription_certificate", ["only valid on an Edge server"]),
    ("edge-subscription-reference", "edge_subscription_certificate: edgecert",
     "edge_subscription_certificate: gone  #!", "servers[1].edge_subscription_certificate",
     ["certificate reference 'gone'", "ids on EDGE01: edgecert"]),
    ("edgesync-edge-only", "internal_transport_certificate: selfsigned\n",
     "internal_transport_certificate: selfsigned\n    edgesync: intact  #!\n",
     "servers[0].edgesync", ["only valid on an Edge server"]),
    ("edgesync-value", "edge_subscription_certificate: edgecert\n",
     "edge_subscription_certificate: edgecert\n    edgesync: ok  #!\n",
     "servers[1].edgesync", ["'ok' is not an edgesync state; valid: intact, broken"]),
    ("hybrid-server", "receiving_transport_servers: [EX01]", "receiving_transport_servers: [EX01, EX03]  #!",
     "hybrid_configuration.receiving_transport_servers[1]",
     ["no server named 'EX03'; servers: EX01, EDGE01"]),
    ("hybrid-receiving-mailbox", "receiving_transport_servers: [EX01]",
     "receiving_transport_servers: [EDGE01]  #!", "hybrid_configuration.receiving_transport_servers[0]",
     ["EDGE01 has role Edge", "must name Mailbox servers; valid: EX01"]),
    ("hybrid-edge-servers-are-edge",
     "  receiving_transport_servers: [EX01]\n  sending_transport_servers: [EX01]\n  edge_transport_servers: []\n",
     "  receiving_transport_servers: []\n  sending_transport_servers: []\n  edge_transport_servers: [EX01]  #!\n",
     "hybrid_configuration.edge_transport_servers[0]",
     ["EX01 has role Mailbox", "must name Edge servers; valid: EDGE01"]),
    ("hybrid-edge-excludes-others", "edge_transport_servers: []", "edge_transport_servers: [EDGE01]  #!",
     "hybrid_configuration.edge_transport_servers",
     ["receiving_transport_servers and sending_transport_servers must be empty"]),
    ("source-transport-servers", "source_transport_servers: [EX01]",
     "source_transport_servers: [EX01, EX2]  #!", "send_connectors[0].source_transport_servers[1]",
     ["no server named 'EX2'; servers: EX01, EDGE01"]),
    ("source-transport-servers-twice", "source_transport_servers: [EX01]",
     "source_transport_servers: [EX01, ex01]  #!", "send_connectors[0].source_transport_servers[1]",
     ["'EX01' is listed twice"]),
    ("address-spaces-required",
     "  - name: Outbound to Office 365\n    address_spaces: [\"smtp:contoso.mail.onmicrosoft.com;1\"]\n",
     "  - name: Outbound to Office 365  #!\n", "send_connectors[0].address_spaces",
     ["required key is missing"]),
    ("tls-auth-level", "tls_auth_level: DomainValidation", "tls_auth_level: Domain  #!",
     "send_connectors[0].tls_auth_level",
     ["'Domain' is not a TlsAuthLevel; valid: " + ", ".join(TLS_AUTH_LEVELS)]),
    ("tls-domain-needs-domain-validation",
     "    tls_auth_level: DomainValidation\n    tls_domain: mail.protection.outlook.com\n",
     "    tls_auth_level: EncryptionOnly\n    tls_domain: mail.protection.outlook.com  #!\n",
     "send_connectors[0].tls_domain", ["only be set when tls_auth_level is DomainValidation"]),
    ("tls-auth-level-needs-require-tls",
     "    tls_auth_level: DomainValidation\n    tls_domain: mail.protection.outlook.com\n    require_tls: true\n",
     "    tls_auth_level: DomainValidation  #!\n    tls_domain: mail.protection.outlook.com\n"
     "    require_tls: false\n", "send_connectors[0].tls_auth_level", ["only be set when require_tls is true"]),
    ("send-connector-name-unique", "    require_tls: true\n",
     "    require_tls: true\n  - name: OUTBOUND to office 365  #!\n    address_spaces: ['smtp:*;1']\n"
     "    source_transport_servers: []\n", "send_connectors[1].name",
     ["duplicate send connector name", "send_connectors[0].name"]),
    ("fault-kind", "      - kind: timeout", "      - kind: crash  #!", "servers[0].faults[0].kind",
     ["'crash' is not a fault kind; valid: " + ", ".join(FAULT_KINDS)]),
    ("fault-times", "times: 2", "times: 0  #!", "servers[0].faults[0].times", ["must be an integer >= 1"]),
    ("fault-cmdlet", "cmdlet: Get-ReceiveConnector", "cmdlet: true  #!", "servers[0].faults[0].cmdlet",
     ["expected a string or null, found boolean true"]),
    ("fault-cmdlet-syntax", "cmdlet: Get-ReceiveConnector", "cmdlet: Get ReceiveConnector  #!",
     "servers[0].faults[0].cmdlet", ["is not a cmdlet name (Verb-Noun"]),
    ("fault-value-only-concurrent", "        times: 2\n", "        times: 2\n        value: x  #!\n",
     "servers[0].faults[0].value", ["'value' is only valid for kind concurrent_change",
                                    "valid: kind, cmdlet, times"]),
    ("concurrent-change-connector", "      - kind: timeout\n        cmdlet: Get-ReceiveConnector\n        times: 2\n",
     "      - kind: concurrent_change\n        connector: Default Frontend EX02  #!\n        value: null\n",
     "servers[0].faults[0].connector",
     ["no receive connector on EX01 and no send connector named 'Default Frontend EX02'",
      "valid: Default Frontend EX01, Outbound to Office 365"]),
    ("concurrent-change-value", "      - kind: timeout\n        cmdlet: Get-ReceiveConnector\n        times: 2\n",
     "      - kind: concurrent_change\n        connector: Default Frontend EX01\n        value: [a]  #!\n",
     "servers[0].faults[0].value", ["expected a string or null, found list"]),
    ("launches", "edge_subscription_certificate: edgecert\n",
     "edge_subscription_certificate: edgecert\n    launches: -1  #!\n", "servers[1].launches",
     ["must be an integer >= 0, found -1"]),
    ("writes", "edge_subscription_certificate: edgecert\n",
     "edge_subscription_certificate: edgecert\n    writes: 1.5  #!\n", "servers[1].writes",
     ["expected an integer, found float 1.5"]),
    ("event-time", "edge_subscription_certificate: edgecert\n",
     "edge_subscription_certificate: edgecert\n    events:\n      - {id: 12014, source: MSExchangeTransport, "
     "level: Error, time: soon, message: m}  #!\n", "servers[1].events[0].time",
     ["'soon' is not an ISO 8601 date or datetime"]),
    ("event-required", "edge_subscription_certificate: edgecert\n",
     "edge_subscription_certificate: edgecert\n    events:\n      - {id: 12014, level: Error, "
     "time: 2026-01-01, message: m}  #!\n", "servers[1].events[0].source", ["required key is missing"]),
    ("certificate-key", "        status: Valid\n", "        status: Valid\n        key: RSA 512  #!\n",
     "servers[0].certificates[1].key",
     ["'RSA 512' is not a certificate key; valid: RSA 1024, RSA 2048, RSA 3072, RSA 4096, ECDSA P-256, ECDSA P-384"]),
    ("signature-hash", "        status: Valid\n", "        status: Valid\n        signature_hash: md5  #!\n",
     "servers[0].certificates[1].signature_hash", ["'md5' is not a signature hash; valid: sha1, sha256, sha384, sha512"]),
    ("eku-name", "        status: Valid\n", "        status: Valid\n        eku: [serverAuth, codeSigning]  #!\n",
     "servers[0].certificates[1].eku[1]", ["'codeSigning' is not an extended key usage name; valid: serverAuth, clientAuth"]),
    ("eku-empty", "        status: Valid\n", "        status: Valid\n        eku: []  #!\n",
     "servers[0].certificates[1].eku", ["must name at least one of serverAuth, clientAuth"]),
    ("include-chain-type", "        status: Valid\n", "        status: Valid\n        include_chain: 'no'  #!\n",
     "servers[0].certificates[1].include_chain", ["expected true or false, found string 'no'"]),
    ("remote-ip-range", "        permission_groups: [AnonymousUsers]\n",
     "        permission_groups: [AnonymousUsers]\n        remote_ip_ranges: [10.0.0.0/8, 10.0.0.9-10.0.0.1]  #!\n",
     "servers[0].receive_connectors[0].remote_ip_ranges[1]",
     ["'10.0.0.9-10.0.0.1' is not an IP range Exchange accepts (its upper bound is below its lower bound)",
      "a single address (192.168.1.10), a CIDR range (192.168.1.0/24) or a Lo-Hi range"]),
    ("remote-ip-range-word", "        permission_groups: [AnonymousUsers]\n",
     "        permission_groups: [AnonymousUsers]\n        remote_ip_ranges: [anywhere]  #!\n",
     "servers[0].receive_connectors[0].remote_ip_ranges[0]", ["'anywhere' is not an IP range Exchange accepts"]),
    ("remote-ip-ranges-empty", "        permission_groups: [AnonymousUsers]\n",
     "        permission_groups: [AnonymousUsers]\n        remote_ip_ranges: []  #!\n",
     "servers[0].receive_connectors[0].remote_ip_ranges", ["must not be empty"]),
    ("list-type", "    receive_connectors:\n      - name: Default Frontend",
     "    receive_connectors: {}  #!\n    xreceive_connectors:\n      - name: Default Frontend",
     "servers[0].receive_connectors", ["expected a list, found mapping"], 2),
]


@pytest.mark.parametrize("rule", RULES, ids=[r[0] for r in RULES])
def test_validation_rule(rule):
    _, old, new, key, fragments, *count = rule
    assert_problem(mutate(old, new), key, *fragments, count=count[0] if count else 1)


def test_error_example_from_the_brief_exactly():
    text = mutate("services: [IIS, SMTP]", "services: [IIS, SMTP, SMTPP]")
    err = errors(text, "demo.yml")
    assert str(err) == (
        "demo.yml:36: servers[0].certificates[1].services[2]: 'SMTPP' is not an AllowedServices "
        "name; valid: None, Federation, IIS, IMAP, POP, SMTP, UM, UMCallRouter")
    assert (err.file, err.line, err.key) == ("demo.yml", 36, "servers[0].certificates[1].services[2]")
    assert err.problems == [str(err)]
    assert isinstance(err, ValueError)


def test_concurrent_change_requires_connector_and_value():
    text = mutate("      - kind: timeout\n        cmdlet: Get-ReceiveConnector\n        times: 2\n",
                  "      - kind: concurrent_change  #!\n")
    line = marked_line(text)
    err = errors(text)
    assert [(p.line, p.key, p.message) for p in err.details] == [
        (line, "servers[0].faults[0].connector", "required key is missing"),
        (line, "servers[0].faults[0].value", "required key is missing"),
    ]


def test_self_signed_issuer_equal_to_subject_is_normalised():
    text = mutate("        subject: CN=EX01\n        self_signed: true\n",
                  "        subject: CN=EX01\n        issuer: CN=EX01\n        self_signed: true\n")
    assert load_scenario_text(text)["servers"][0]["certificates"][0]["issuer"] is None


def test_servers_must_not_be_empty():
    err = errors("format: 1\norganization: o\nservers: []\n")
    assert str(err) == "case.yml:3: servers: at least one server is required"


def test_top_level_must_be_a_mapping():
    assert str(errors("- a\n- b\n")) == "case.yml:1: expected a mapping at the top level, found list"
    assert str(errors("")) == "case.yml:1: expected a mapping at the top level, found null"


def test_yaml_syntax_error_names_file_and_line():
    text = mutate("    role: Edge\n", "    role: Edge\n   bad: [  #!\n")
    err = errors(text)
    assert (err.file, err.line, err.key) == ("case.yml", marked_line(text), "")
    assert err.message.startswith("YAML syntax error")
    assert str(err).startswith(f"case.yml:{marked_line(text)}: YAML syntax error")


# --------------------------------------------------------------------------- unknown / duplicate keys

UNKNOWN = [
    ("top", "organization: contoso\n", "organization: contoso\ncolour: blue  #!\n", "colour",
     "valid: format, organization, now, latency, hybrid_configuration, send_connectors, servers"),
    ("latency", "  launch_seconds: 0.5\n", "  launch_seconds: 0.5\n  launch_secs: 1  #!\n",
     "latency.launch_secs", "valid: launch_seconds"),
    ("hybrid", "  edge_transport_servers: []\n", "  edge_transport_servers: []\n  features: []  #!\n",
     "hybrid_configuration.features",
     "valid: tls_certificate_name, receiving_transport_servers, sending_transport_servers, "
     "edge_transport_servers"),
    ("send-connector", "    require_tls: true\n", "    require_tls: true\n    dns_routing_enabled: true  #!\n",
     "send_connectors[0].dns_routing_enabled", "valid: name, address_spaces, source_transport_servers,"),
    ("server", "    role: Edge\n", "    role: Edge\n    certficates: []  #!\n", "servers[1].certficates",
     "valid: name, fqdn, role, version, certificates, internal_transport_certificate,"),
    ("certificate", "        status: Valid\n", "        status: Valid\n        key_usage: x  #!\n",
     "servers[0].certificates[1].key_usage", "valid: id, subject, issuer, self_signed, domains,"),
    ("receive-connector", "        permission_groups: [AnonymousUsers]\n",
     "        permission_groups: [AnonymousUsers]\n        remote_ip_addresses: [0.0.0.0]  #!\n",
     "servers[0].receive_connectors[0].remote_ip_addresses", "valid: name, transport_role, bindings,"),
    ("fault", "        times: 2\n", "        times: 2\n        weight: 3  #!\n", "servers[0].faults[0].weight",
     "valid: kind, cmdlet, times"),
    ("certificate-reference", "tls_certificate_name: {certificate: old}",
     "tls_certificate_name: {certificate: old, server: EX01}  #!",
     "servers[0].receive_connectors[0].tls_certificate_name.server", "valid: certificate"),
    ("event", "edge_subscription_certificate: edgecert\n",
     "edge_subscription_certificate: edgecert\n    events:\n      - id: 1\n        source: s\n"
     "        level: Error\n        time: 2026-01-01\n        message: m\n        category: x  #!\n",
     "servers[1].events[0].category", "valid: id, source, level, time, message"),
]


@pytest.mark.parametrize("case", UNKNOWN, ids=[c[0] for c in UNKNOWN])
def test_unknown_key(case):
    _, old, new, key, valid = case
    name = key.rsplit(".", 1)[-1]
    assert_problem(mutate(old, new), key, f"unknown key {name!r}", valid)


def test_duplicate_key_top_level():
    text = mutate("organization: contoso\n", "organization: contoso\norganization: fabrikam  #!\n")
    assert_problem(text, "organization", "duplicate key 'organization' (first given at line 2)")


def test_duplicate_key_nested():
    text = mutate("        status: Valid\n", "        status: Valid\n        status: Revoked  #!\n")
    assert_problem(text, "servers[0].certificates[1].status", "duplicate key 'status' (first given at line 37)")


def test_multiple_problems_reported_at_once():
    text = mutate("format: 1", "format: 3")
    text = text.replace("services: [IIS, SMTP]", "services: [IIS, SMTPP]")
    text = text.replace("    role: Edge\n", "    role: Edge\n    colour: red\n")
    text = text.replace("tls_certificate_name: {certificate: old}", "tls_certificate_name: {certificate: gone}")
    err = errors(text)
    assert [(p.line, p.key) for p in err.details] == [
        (1, "format"),
        (36, "servers[0].certificates[1].services[1]"),
        (46, "servers[0].receive_connectors[0].tls_certificate_name.certificate"),
        (54, "servers[1].colour"),
    ]
    assert len(str(err).splitlines()) == 4
    assert err.problems == str(err).splitlines()
    assert (err.line, err.key) == (1, "format")
    clone = pickle.loads(pickle.dumps(err))
    assert clone.details == err.details and str(clone) == str(err)


def test_unreadable_file(tmp_path):
    missing = tmp_path / "missing.yml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(missing)
    assert info.value.line is None and info.value.file == str(missing)
    assert str(info.value).startswith(f"{missing}: cannot read scenario")


# --------------------------------------------------------------------------- dump


def test_dump_format_is_stable_and_readable():
    text = dump_state(load_scenario(FIXTURES / "doc-example-completed.yml"))
    assert text.splitlines()[:4] == ["format: 1", "organization: contoso", "now: 2026-11-27T12:00:00Z",
                                     "latency:"]
    assert "  tls_certificate_name: {certificate: EX01/old}" in text
    # Short lists stay on one line; how far block lists are indented depends on
    # the emitter (libyaml writes them at their key's indentation).
    assert re.search(r"^ +services: \[IIS, SMTP\]$", text, re.M)
    assert re.search(r"^ +not_before: 2025-09-01T00:00:00Z$", text, re.M)
    assert "edge_subscription_certificate" not in text.split("- name: EX02")[1].split("- name: EDGE01")[0]
    edge = text.split("- name: EDGE01")[1]
    assert "transport_role" not in edge and "issuer" not in edge
    assert "&" not in text and "*" not in text


def test_dump_quotes_strings_that_would_change_type():
    scenario = load_scenario_text(BASE)
    scenario["organization"] = "true"
    scenario["servers"][0]["receive_connectors"][0]["tls_certificate_name"] = "2025-09-01"
    scenario["servers"][0]["faults"].append(
        {"kind": "concurrent_change", "cmdlet": None, "times": 1, "occurrence": 1, "connector": "Default Frontend EX01",
         "value": "null"})
    text = dump_state(scenario)
    assert "organization: 'true'" in text
    assert load_scenario_text(text) == scenario


def test_dump_rejects_unknown_keys():
    scenario = load_scenario_text(BASE)
    scenario["servers"][1]["colour"] = "red"
    with pytest.raises(ValueError, match="colour"):
        dump_state(scenario)


# --------------------------------------------------------------------------- round trip (hypothesis)

SAFE_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " :#-'\",[]{}&*!|>%@`\\\t\né€", max_size=12)
TRICKY = st.sampled_from(["true", "null", "~", "2025-09-01", "15", "0x1F", "- a", "yes", "on", "a: b",
                          "#x", "", " lead", "trail ", "x\ny", "'q'", '"d"',
                          "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"])
STRINGS = SAFE_TEXT | TRICKY
NONEMPTY = STRINGS.map(lambda s: s if s.strip() else "x" + s)
TZS = st.sampled_from([None, UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))])
MOMENTS = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=TZS)


def cased(draw, name: str) -> str:
    return draw(st.sampled_from([name, name.lower(), name.upper()]))


def moment(draw, value: datetime):
    """The same instant as a YAML datetime, a date (at midnight) or an ISO string."""
    if value.time() == datetime.min.time() and value.tzinfo in (None, UTC) and draw(st.booleans()):
        return value.date()
    return draw(st.sampled_from([value, value.isoformat()]))


def maybe(draw, raw: dict, key: str, strategy) -> None:
    if draw(st.booleans()):
        raw[key] = draw(strategy)


@st.composite
def scenarios(draw) -> str:
    names = draw(st.lists(st.sampled_from(["EX01", "EX02", "EDGE01", "mbx-3"]), min_size=1, max_size=3,
                          unique=True))
    roles = {n: draw(st.sampled_from(["Mailbox", "Edge"])) for n in names}
    certs = {n: draw(st.lists(st.sampled_from(["self", "old", "new", "x.1"]), min_size=1, max_size=3,
                              unique=True)) for n in names}
    qualified = [f"{cased(draw, n)}/{c}" for n in names for c in certs[n]]
    send_names = draw(st.lists(st.sampled_from(["Outbound A", "Outbound B"]), max_size=2, unique=True))

    def tls_name(local: str | None):
        options = [st.none(), STRINGS, st.sampled_from(qualified).map(lambda r: {"certificate": r})]
        if local:
            options.append(st.sampled_from(certs[local]).map(lambda r: {"certificate": r}))
        return st.one_of(options)

    raw: dict = {"format": 1, "organization": draw(NONEMPTY)}
    maybe(draw, raw, "now", MOMENTS.map(lambda m: moment(draw, m)) | st.none())
    maybe(draw, raw, "latency", st.fixed_dictionaries({}, optional={
        "launch_seconds": st.integers(0, 5) | st.floats(0, 5, allow_nan=False)}))
    if draw(st.booleans()):
        mailboxes = [n for n in names if roles[n] == "Mailbox"]
        edges = [n for n in names if roles[n] == "Edge"]
        use_edge = bool(edges) and draw(st.booleans())

        def some(pool: list[str]) -> list[str]:
            return draw(st.lists(st.sampled_from(pool), unique=True)) if pool else []

        raw["hybrid_configuration"] = {
            "tls_certificate_name": draw(tls_name(None)),
            "receiving_transport_servers": [] if use_edge else some(mailboxes),
            "sending_transport_servers": [] if use_edge else some(mailboxes),
            "edge_transport_servers": some(edges) if use_edge else [],
        }
    if send_names or draw(st.booleans()):
        raw["send_connectors"] = []
    for name in send_names:
        connector = {"name": name, "address_spaces": draw(st.lists(NONEMPTY, min_size=1, max_size=2)),
                     "source_transport_servers": [
                         cased(draw, n) for n in draw(st.lists(st.sampled_from(names), unique=True))]}
        maybe(draw, connector, "fqdn", st.sampled_from([None, "mail.contoso.com", "x"]))
        maybe(draw, connector, "tls_certificate_name", tls_name(None))
        if draw(st.booleans()):
            connector["require_tls"] = True
            level = draw(st.sampled_from(TLS_AUTH_LEVELS))
            connector["tls_auth_level"] = cased(draw, level)
            if level == "DomainValidation":
                maybe(draw, connector, "tls_domain", NONEMPTY)
        maybe(draw, connector, "cloud_services_mail_enabled", st.booleans())
        maybe(draw, connector, "smart_hosts", st.lists(NONEMPTY, max_size=2))
        raw["send_connectors"].append(connector)
    raw["servers"] = []
    for name in names:
        edge = roles[name] == "Edge"
        server = {"name": name, "fqdn": f"{name}.contoso.com", "role": cased(draw, roles[name]),
                  "version": draw(st.sampled_from(["15.2.1544.4", "15.1.2507.6", "15.0"])), "certificates": []}
        for cid in certs[name]:
            start = draw(MOMENTS)
            end = start + draw(st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=4000)))
            subject = "CN=" + draw(STRINGS)
            cert = {"id": cid, "subject": subject, "not_before": moment(draw, start), "not_after": moment(draw, end)}
            if draw(st.booleans()):
                cert["self_signed"] = True
                if draw(st.booleans()):
                    cert["issuer"] = draw(st.sampled_from([subject, None]))
            else:
                cert["issuer"] = "CN=" + draw(STRINGS)
                maybe(draw, cert, "self_signed", st.just(False))
            maybe(draw, cert, "domains", st.lists(NONEMPTY, max_size=2))
            maybe(draw, cert, "services", st.lists(st.sampled_from(ALLOWED_SERVICES[1:]), unique=True).map(
                lambda xs: [cased(draw, x) for x in xs]) | st.just(["None"]))
            maybe(draw, cert, "has_private_key", st.booleans())
            maybe(draw, cert, "status", st.sampled_from(CERTIFICATE_STATUSES))
            maybe(draw, cert, "in_store", st.booleans())
            maybe(draw, cert, "thumbprint", st.none() | st.text("0123456789ABCDEF", min_size=40, max_size=40))
            server["certificates"].append(cert)
        server["internal_transport_certificate"] = draw(st.sampled_from(certs[name] + [f"{name}/{certs[name][0]}"]))
        if edge:
            maybe(draw, server, "edge_subscription_certificate", st.none() | st.sampled_from(certs[name]))
            maybe(draw, server, "edgesync", st.sampled_from([None, "intact", "BROKEN"]))
        maybe(draw, server, "transport_change_needs_restart", st.booleans())
        rc_names = draw(st.lists(st.sampled_from(["Default Frontend", "Client Frontend", "Default"]),
                                 max_size=2, unique=True))
        server["receive_connectors"] = []
        for rc_name in rc_names:
            rc = {"name": rc_name, "bindings": draw(st.lists(st.sampled_from(
                ["0.0.0.0:25", "[::]:25", "10.0.0.1:2525", "[2001:db8::1]:587", "192.168.1.1:65535"]),
                min_size=1, max_size=3, unique=True))}
            if not edge:
                rc["transport_role"] = cased(draw, draw(st.sampled_from(["FrontendTransport", "HubTransport"])))
            elif draw(st.booleans()):
                rc["transport_role"] = None
            maybe(draw, rc, "fqdn", st.sampled_from([None, "mail.contoso.com"]))
            maybe(draw, rc, "auth_mechanism", st.lists(st.sampled_from(AUTH_MECHANISMS[1:]), unique=True))
            maybe(draw, rc, "permission_groups", st.lists(st.sampled_from(PERMISSION_GROUPS[1:]), unique=True))
            maybe(draw, rc, "tls_domain_capabilities", st.lists(st.sampled_from(
                ["mail.protection.outlook.com:AcceptCloudServicesMail",
                 "NO-TLS:AcceptOorgProtocol,AcceptCloudServicesMail"]), unique=True))
            maybe(draw, rc, "tls_certificate_name", tls_name(name))
            maybe(draw, rc, "require_tls", st.booleans())
            server["receive_connectors"].append(rc)
        faults = []
        for kind in draw(st.lists(st.sampled_from(FAULT_KINDS), max_size=3)):
            fault = {"kind": kind}
            maybe(draw, fault, "cmdlet", st.sampled_from([None, "Get-ReceiveConnector", "Set-SendConnector"]))
            maybe(draw, fault, "times", st.integers(1, 5))
            if kind == "concurrent_change":
                targets = rc_names + send_names
                if not targets:
                    continue
                fault["connector"] = cased(draw, draw(st.sampled_from(targets)))
                fault["value"] = draw(st.none() | STRINGS)
            faults.append(fault)
        if faults or draw(st.booleans()):
            server["faults"] = faults
        maybe(draw, server, "launches", st.integers(0, 10 ** 6))
        maybe(draw, server, "writes", st.integers(0, 10 ** 6))
        maybe(draw, server, "events", st.lists(st.fixed_dictionaries({
            "id": st.integers(0, 65535), "source": NONEMPTY, "level": st.sampled_from(["Error", "Warning"]),
            "time": MOMENTS.map(lambda m: moment(draw, m)), "message": STRINGS}), max_size=2))
        raw["servers"].append(server)
    return yaml.safe_dump(raw, sort_keys=False, allow_unicode=draw(st.booleans()))


@settings(max_examples=20, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenarios())
def test_round_trip_generated(text):
    scenario = load_scenario_text(text, "generated.yml")
    dumped = dump_state(scenario)
    again = load_scenario_text(dumped, "dumped.yml")
    assert again == scenario
    assert dump_state(again) == dumped


# --------------------------------------------------------------------------- cli


def test_check_command(capsys, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(mutate("status: Valid", "status: Expired"), encoding="utf-8")
    good = str(FIXTURES / "doc-example-completed.yml")
    assert check_command([good]) == 0
    assert check_command([good, str(bad)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"{good}: ok (3 servers, 4 certificates, 3 receive connectors, 1 send connectors)"] * 2
    assert err.splitlines() == [
        f"{bad}:37: servers[0].certificates[1].status: 'Expired' is not a CertificateStatus name; "
        "valid: " + ", ".join(CERTIFICATE_STATUSES)]


@pytest.mark.parametrize("given, expected", [(None, "ThirdParty"), ("Enterprise", "Enterprise"), ("grouppolicy", "GroupPolicy")])
def test_root_ca_type_defaults_and_names(given, expected):
    text = ROOT_CA_SCENARIO.replace("ROOT", "" if given is None else f"        root_ca_type: {given}\n")
    (server,) = load_scenario_text(text)["servers"]
    assert server["certificates"][1]["root_ca_type"] == expected
    assert server["certificates"][0]["root_ca_type"] == "Registry"


def test_root_ca_type_is_validated_with_file_and_line():
    text = ROOT_CA_SCENARIO.replace("ROOT", "        root_ca_type: Public\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "s.yml")
    (problem,) = info.value.details
    assert (problem.line, problem.key) == (17, "servers[0].certificates[1].root_ca_type")
    assert "'Public' is not a RootCAType" in info.value.problems[0]
    assert "ThirdParty, Enterprise, GroupPolicy, Registry, None, Unknown" in info.value.problems[0]


ROOT_CA_SCENARIO = """\
format: 1
organization: o
servers:
  - name: S1
    fqdn: s1.example
    role: Mailbox
    version: "15.2.1.1"
    certificates:
      - id: c
        subject: CN=S1
        self_signed: true
        not_before: 2024-01-01
        not_after: 2025-01-01
      - id: ca
        subject: CN=mail.example
        issuer: CN=Some CA
ROOT        not_before: 2024-01-01
        not_after: 2025-01-01
    internal_transport_certificate: c
    receive_connectors: []
"""
