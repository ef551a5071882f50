"""exchange_lab.scenario: one test per validation rule, each naming the file line and key path of the problem."""

from __future__ import annotations

import pickle

import pytest

from exchange_lab.scenario import (
    AUTH_MECHANISMS,
    CERTIFICATE_STATUSES,
    FAULT_KINDS,
    PERMISSION_GROUPS,
    TLS_AUTH_LEVELS,
    ScenarioError,
    load_scenario,
    load_scenario_text,
)

from .test_scenario import EDGE_CERT_END, EXTRA_EDGE_CERT, assert_problem, errors, marked_line, mutate


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
