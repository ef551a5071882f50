"""exchange_lab.scenario: loading, normalisation, references, error reporting and the CLI check.

Validation rules one by one are in test_scenario_rules.py, the dump format and round trip in
test_scenario_dump.py.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from exchange_lab.cli import check_command
from exchange_lab.scenario import (
    CERTIFICATE_STATUSES,
    FAULT_KINDS,
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
        "replication_lag_seconds": 0.0, "auth_certificate": None,
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
