"""Hostile input through the lab: the corpus (tests/hostile_corpus.py) in a scenario and in module arguments.

A scenario is generated from the corpus and every entry is placed where the
lab (and X.509, and Exchange) can carry it. The audit, the remediation and a
second remediation run as users run them; the lab's journal, which records the
exact parameter values each cmdlet received, shows every hostile value arrived
byte for byte as data and that nothing but the expected allow-listed cmdlets
ran; the state, STARTTLS and the reports show the right end state with the
hostile strings unaltered (and escaped in HTML, readable in JUnit).

Where each corpus entry goes, and where it cannot go:

========================  ==========================================================
Place                     Entries it cannot carry, and why (they go elsewhere)
========================  ==========================================================
receive connector names   values over 64 characters (Exchange's limit for an AD
                          object name): ``long_10000`` and the Jinja entries once
                          they hold the marker path; NUL (AD strings and Win32 end
                          at NUL). Every other entry names one receive connector,
                          ``RC <value> .``; names that begin or end with the value
                          itself (whitespace at the edges) are
                          test_connector_names_with_edge_whitespace.
send connector names      same limits; three send connectors carry a few entries.
renewal certificate       subject: anything but LF (Exchange's ``<S>(.+)`` ends the
subject (OU values,       subject at a line feed, so such a name could never be set)
CN is the SMTP domain)    and NUL (CertStrToName stops at NUL, Windows would print
                          another name); issuer: anything but ``<`` (Exchange's
                          ``<I>([^<]+)``) and NUL. Values with ``<`` go in the
                          subject, values with LF in the issuer.
stale certificate issuer  same as the renewal issuer; carries ``long_10000`` (the
                          port-25 connector and the send connectors name it).
friendly names            anything but NUL (CERT_FRIENDLY_NAME_PROP_ID is a
                          NUL-terminated string); a few entries per decoy certificate,
                          whose subject carries them too.
SAN domains (dNSName)     ASCII only (an IA5String; cryptography refuses non-ASCII,
                          IDNs are A-labels), no NUL.
module arguments          everything, NUL included: -Identity of Get-ReceiveConnector
                          (every entry); ``receive_connector_tls identity`` and
                          ``smtp_tls_probe helo_name`` (six entries: $(), NUL, LF,
                          Jinja, <I>/<S>, 10,000 characters); ``connector_tls_scope``
                          of the audit playbook (Jinja, NUL, $()). Values reach
                          Ansible as ``!unsafe`` vars, as a careful playbook passes
                          untrusted text; results are never marked unsafe.
========================  ==========================================================
"""

from __future__ import annotations

import html.parser
import json
import os
import pathlib
import re
import subprocess
import xml.etree.ElementTree as ET

import junitparser
import pytest
import yaml

from ansible_collections.exchange.transport_tls.plugins.module_utils import x500

from tests.conftest import ROOT, starttls
from tests.hostile_corpus import LONG_LENGTH, Hostile, corpus
from ...modules.test_exchange_command import command, play
from .test_audit_and_remediate import BIN, counters, run, state_text, statuses

pytestmark = pytest.mark.ansible

SERVER = "EX01"
SMTP_DOMAIN = "mail.contoso.com"
NAME_LIMIT = 64     # Exchange: an AD object name (a connector's Name) is at most 64 characters
OID_CN, OID_OU, OID_O, OID_L, OID_C = "2.5.4.3", "2.5.4.11", "2.5.4.10", "2.5.4.7", "2.5.4.6"


def windows_name(rdns: list[tuple[str, str]]) -> str:
    """The string Windows prints (X509Certificate2.Subject) for these RDNs, most specific first."""
    return x500.render_name(x500.encode_name([[rdn] for rdn in rdns]))


def can_name_connector(entry: Hostile) -> bool:
    return "\x00" not in entry.value and len(f"RC {entry.value} .") <= NAME_LIMIT


class Placement:
    """The generated scenario and where each corpus entry went."""

    def __init__(self, entries: list[Hostile]) -> None:
        self.entries = entries
        self.places: dict[str, list[str]] = {e.id: [] for e in entries}
        no_nul = [e for e in entries if "\x00" not in e.value]

        # Certificate names. The renewal keeps the stale certificate's subject
        # (an ACME renewal from another intermediate), so the replacement is
        # certain: the only change is the issuer.
        subject_entries = [e for e in no_nul if "\n" not in e.value and e.id != "long_10000"]
        issuer_entries = [e for e in no_nul if "<" not in e.value and e.id != "long_10000"]
        # Split the work: values with '<' must be in the subject, values with LF in the issuer.
        self.subject_ids = [e.id for n, e in enumerate(subject_entries) if "<" in e.value or n % 2 == 0]
        self.issuer_ids = [e.id for e in issuer_entries if e.id not in self.subject_ids]
        by_id = {e.id: e for e in entries}
        self.subject = windows_name([(OID_CN, SMTP_DOMAIN)] + [(OID_OU, by_id[i].value) for i in self.subject_ids]
                                    + [(OID_O, "Contoso"), (OID_C, "US")])
        self.new_issuer = windows_name([(OID_CN, "R11 " + by_id[i].value) if n == 0 else (OID_OU, by_id[i].value)
                                        for n, i in enumerate(self.issuer_ids)] + [(OID_O, "Hostile CA"), (OID_C, "US")])
        self.old_issuer = windows_name([(OID_CN, "R10"), (OID_O, by_id["long_10000"].value), (OID_C, "US")])
        for i in self.subject_ids:
            self.places[i].append("renewal subject")
        for i in self.issuer_ids:
            self.places[i].append("renewal issuer")
        self.places["long_10000"].append("stale issuer")
        self.renewal_name = f"<I>{self.new_issuer}<S>{self.subject}"
        self.stale_name = f"<I>{self.old_issuer}<S>{self.subject}"
        # The other connectors name an earlier certificate with a short issuer: every parse of
        # the 10,000-character name costs, and one connector of each kind carrying it is enough.
        self.short_issuer = windows_name([(OID_CN, "R10"), (OID_O, "Old CA"), (OID_C, "US")])
        self.short_stale_name = f"<I>{self.short_issuer}<S>{self.subject}"

        # Decoy certificates (not candidates: another CN, no SMTP) carry every entry in their
        # subjects and friendly names, a few entries per certificate.
        friendly = [e for e in no_nul]
        ascii_domains = [e for e in no_nul if e.ascii and e.id != "long_10000"]
        self.renewal_friendly = by_id["smart_double"].value
        self.places["smart_double"].append("renewal friendly name")
        decoys = []
        chunks = [friendly[n:n + 8] for n in range(0, len(friendly), 8)]
        for n, chunk in enumerate(chunks):
            decoys.append({
                "id": f"decoy-{n}",
                "subject": windows_name([(OID_CN, f"decoy{n}.invalid")] + [(OID_OU, e.value) for e in chunk]),
                "self_signed": True,
                "domains": [f"decoy{n}.invalid"],
                "not_before": "2026-01-01",
                "not_after": "2028-01-01",
                "services": [],
                "friendly_name": " | ".join(e.value for e in chunk),
            })
            for e in chunk:
                self.places[e.id] += ["decoy subject OU", "friendly name"]
        self.decoys = decoys
        self.renewal_domains = [SMTP_DOMAIN] + [e.value for e in ascii_domains]
        for e in ascii_domains:
            self.places[e.id].append("SAN domain")

        # Connectors.
        # "RC <value> ." : the value inside the name, so edges that Python's str.strip()
        # eats are tested separately (test_connector_names_with_edge_whitespace).
        self.receive_names = {e.id: f"RC {e.value} ." for e in entries if can_name_connector(e)}
        for i in self.receive_names:
            self.places[i].append("receive connector name")
        self.frontend_id = "subexpression"   # the port-25 connector STARTTLS is tested on
        self.send_names = {i: "Outbound " + by_id[i].value
                           for i in ("smart_single", "tls_name_markers", "c0_controls") if i in by_id}
        for i in self.send_names:
            self.places[i].append("send connector name")

    def scenario(self) -> dict:
        connectors = []
        for n, (entry_id, name) in enumerate(self.receive_names.items()):
            frontend = entry_id == self.frontend_id
            connectors.append({
                "name": name,
                "transport_role": "FrontendTransport" if frontend else "HubTransport",
                "bindings": ["0.0.0.0:25"] if frontend else [f"0.0.0.0:{3000 + n}"],
                "fqdn": SMTP_DOMAIN,
                "auth_mechanism": ["Tls", "ExchangeServer"],
                "permission_groups": ["AnonymousUsers", "ExchangeServers"],
                "tls_certificate_name": {"certificate": "old" if frontend else "old-short"},
            })
        connectors.sort(key=lambda c: c["transport_role"] != "FrontendTransport")
        return {
            "format": 1,
            "organization": "contoso",
            "now": "2026-11-27T12:00:00Z",
            "send_connectors": [
                {"name": name, "address_spaces": [f"smtp:partner{n}.example;1"], "source_transport_servers": [SERVER],
                 "fqdn": SMTP_DOMAIN, "tls_certificate_name": {"certificate": f"{SERVER}/old"}, "require_tls": True}
                for n, name in enumerate(self.send_names.values())
            ],
            "servers": [{
                "name": SERVER,
                "fqdn": "ex01.contoso.com",
                "role": "Mailbox",
                "version": "15.2.1544.4",
                "certificates": [
                    {"id": "selfsigned", "subject": "CN=EX01", "self_signed": True, "domains": ["EX01", "ex01.contoso.com"],
                     "not_before": "2024-03-01", "not_after": "2029-03-01", "services": ["IMAP", "POP", "IIS", "SMTP"]},
                    {"id": "old", "subject": self.subject, "issuer": self.old_issuer, "domains": [SMTP_DOMAIN],
                     "not_before": "2026-07-22", "not_after": "2026-10-20", "services": ["IIS", "SMTP"],
                     "in_store": False},
                    {"id": "old-short", "subject": self.subject, "issuer": self.short_issuer, "domains": [SMTP_DOMAIN],
                     "not_before": "2026-07-21", "not_after": "2026-10-19", "services": ["IIS", "SMTP"],
                     "in_store": False},
                    {"id": "new", "subject": self.subject, "issuer": self.new_issuer, "domains": self.renewal_domains,
                     "not_before": "2026-10-19", "not_after": "2027-01-17", "services": ["IIS", "SMTP"],
                     "friendly_name": self.renewal_friendly},
                    *self.decoys,
                ],
                "internal_transport_certificate": "selfsigned",
                "receive_connectors": connectors,
            }],
        }

    def write(self, path: pathlib.Path) -> pathlib.Path:
        # ASCII-only YAML: PyYAML's allow_unicode=True writes NEL/LS/PS raw in single-quoted
        # scalars, which its own reader then folds into spaces.
        text = yaml.safe_dump(self.scenario(), sort_keys=False)
        assert yaml.safe_load(text) == self.scenario(), "the generated scenario does not round-trip through YAML"
        path.write_text(text, encoding="utf-8")
        return path


def journal(lab) -> list[dict]:
    if not lab.journal_path.exists():
        return []
    # split("\n"), not splitlines(): a JSON line may hold NEL, LS or PS raw (JSON allows them in strings).
    return [json.loads(line) for line in lab.journal_path.read_text(encoding="utf-8").split("\n") if line]


def steps(entries: list[dict]) -> list[dict]:
    return [step for entry in entries for step in entry.get("steps", [])]


# What the audit and the remediation may run; anything else in the journal is a failure.
READS = {"Get-ExchangeServer", "Get-ExchangeCertificate", "Get-ReceiveConnector", "Get-SendConnector",
         "Get-TransportService", "Get-HybridConfiguration", "Get-WinEvent"}
WRITES = {"Set-ReceiveConnector", "Set-SendConnector"}

# XML 1.0's Char production; anything else cannot be in a document, even as a reference.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def junit_form(text: str) -> str:
    """How a JUnit consumer must read a name: XML-forbidden characters spelled \\uXXXX, the rest as is."""
    return _NOT_XML_CHAR.sub(lambda m: "\\u%04x" % ord(m.group()), text)


class _Html(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.update(name for name, _value in attrs)

    def handle_data(self, data):
        self.text.append(data)


def junit_body(text: str) -> str:
    """In element text a CR must be spelled too: an XML parser reads a literal CR there as LF."""
    return junit_form(text).replace("\r", "\\u000d")


def check_reports(out: pathlib.Path, report: dict, changes: dict, receive: set[str], send: set[str],
                  stale: dict | None = None) -> int:
    """The hostile names are in every report, unaltered (JSON), readable (JUnit) and inert (HTML); returns names checked."""
    host = report["hosts"][SERVER]
    assert {c["identity"] for c in host["connectors"]} == receive
    assert {p["object"] for p in host["plans"]} == receive
    assert {p["object"] for p in report["organization"]["plans"]} == send
    # JUnit: well-formed XML, one testcase per connector, named so a consumer reads the name.
    root = ET.parse(out / "junit.xml").getroot()
    cases = {(c.get("classname"), c.get("name")) for c in root.iter("testcase")}
    for name in receive:
        assert (f"{SERVER}.receive_connector", junit_form(name)) in cases, name
    for name in send:
        assert ("organization.send_connector", junit_form(name)) in cases, name
    junitparser.JUnitXml.fromfile(str(out / "junit.xml"))
    if stale is not None:
        # Each drifting connector's failure quotes the stale name; a consumer must read it as Exchange has it.
        failures = {c.get("name"): c.find("failure") for c in root.iter("testcase")
                    if c.get("classname") == f"{SERVER}.receive_connector"}
        for name in receive:
            failure = failures[junit_form(name)]
            assert failure is not None, name
            assert junit_form(stale[name]) in failure.get("message"), name
            assert junit_body(stale[name]) in failure.text, name
    # HTML: nothing from the data became markup; every plain name is there as text.
    page = (out / "report.html").read_text(encoding="utf-8")
    parsed = _Html()
    parsed.feed(page)
    parsed.close()
    assert not parsed.tags & {"script", "img", "iframe", "object", "embed", "svg"}, parsed.tags
    assert not {a for a in parsed.attributes if a.startswith("on")}, parsed.attributes
    text = "".join(parsed.text)
    plain = [n for n in receive | send if n.isprintable() and not re.search("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]", n)]
    for name in plain:
        assert name in text, f"{name!r} is not in report.html as text"
    assert len(plain) > len(receive) // 2
    return len(receive) + len(send)


@pytest.mark.reliability("Hostile input", "corpus strings in connector names, certificate subjects, issuers, friendly names and domains: audit, remediation, rerun")
def test_scenario_audit_remediate_rerun(running_lab, tmp_path, reliability):
    """The corpus in names, subjects, issuers, friendly names and domains: audit, remediation, rerun."""
    marker = tmp_path / "jinja-ran"
    entries = corpus(str(marker))
    placement = Placement(entries)
    assert all(placement.places.values()) or [i for i, p in placement.places.items() if not p] == ["nul"]
    scenario = placement.scenario()
    lab = running_lab(placement.write(tmp_path / "hostile.yml"))
    initial = state_text(lab)
    assert len(placement.stale_name) > LONG_LENGTH
    receive = {f"{SERVER}\\{name}" for name in placement.receive_names.values()}
    send = set(placement.send_names.values())
    frontend = f"{SERVER}\\{placement.receive_names[placement.frontend_id]}"
    stale_of = {name: placement.stale_name if name == frontend else placement.short_stale_name for name in receive}
    stale_of.update({name: placement.stale_name for name in send})
    server = lab.org.server(SERVER)
    renewal = server.certificate_by_id("new")
    # The lab minted what the scenario says: Exchange will see these exact strings.
    assert (renewal.subject, renewal.issuer) == (placement.subject, placement.new_issuer)
    assert renewal.friendly_name == placement.renewal_friendly and list(renewal.domains) == placement.renewal_domains

    rc, output, audit, _ = run(lab, tmp_path / "audit", "audit")
    assert rc != 0, output
    assert statuses(audit) == {SERVER: "drift"}, output
    assert audit["organization"]["status"] == "drift"
    stale = {(p["object"], p["status"], p["current"], p["expected"]) for p in audit["hosts"][SERVER]["plans"]}
    assert stale == {(name, "change", stale_of[name], placement.renewal_name) for name in receive}
    assert {(p["object"], p["current"], p["expected"]) for p in audit["organization"]["plans"]} == {
        (name, stale_of[name], placement.renewal_name) for name in send}
    assert {f["object"] for f in audit["hosts"][SERVER]["findings"] if f["code"] == "tls_certificate_name_not_found"} == receive
    cases = check_reports(tmp_path / "audit" / "latest", audit, {}, receive, send, stale=stale_of)
    assert state_text(lab) == initial
    assert starttls("127.0.0.1", smtp_port(lab)).offered is False, "the stale name gives no STARTTLS"

    rc, output, fixed, changes = run(lab, tmp_path / "remediate", "remediate")
    assert rc == 0, output
    assert statuses(fixed) == {SERVER: "remediated"}, output
    assert fixed["organization"]["status"] == "remediated"
    assert {(c["object"], c["before"], c["after"], c["status"]) for c in changes["changes"]} == {
        (name, stale_of[name], placement.renewal_name, "applied") for name in receive | send}
    cases += check_reports(tmp_path / "remediate" / "latest", fixed, changes, receive, send)
    # The state: every connector names the renewal, byte for byte, under its own unaltered name.
    doc = yaml.safe_load(lab.state_path.read_text(encoding="utf-8"))
    (ex01,) = doc["servers"]
    assert {rc_["name"]: rc_["tls_certificate_name"] for rc_ in ex01["receive_connectors"]} == {
        name: placement.renewal_name for name in placement.receive_names.values()}
    assert {sc["name"]: sc["tls_certificate_name"] for sc in doc["send_connectors"]} == {
        name: placement.renewal_name for name in send}
    assert {c["id"]: (c["subject"], c.get("issuer"), c["friendly_name"], c["domains"]) for c in ex01["certificates"]} == {
        c["id"]: (c["subject"], None if c.get("self_signed") else c.get("issuer"), c.get("friendly_name"), c["domains"])
        for c in scenario["servers"][0]["certificates"]}
    probe = starttls("127.0.0.1", smtp_port(lab))
    assert probe.offered and probe.thumbprint == renewal.thumbprint, probe
    after_fix = state_text(lab)
    launches_before = counters(lab)[SERVER]

    rc, output, again, changes_again = run(lab, tmp_path / "again", "remediate")
    assert rc == 0, output
    assert statuses(again) == {SERVER: "compliant"} and again["organization"]["status"] == "compliant", output
    assert changes_again["changes"] == []
    assert state_text(lab) == after_fix
    assert counters(lab)[SERVER][1] == launches_before[1], "the second remediation wrote something"

    # The journal: only the expected cmdlets ran, and every hostile value arrived as itself.
    ran = steps(journal(lab))
    assert {s["cmdlet"] for s in ran} <= READS | WRITES, {s["cmdlet"] for s in ran} - READS - WRITES
    assert not [s for s in ran if s.get("error")], [s for s in ran if s.get("error")]
    sets = [s["parameters"] for s in ran if s["cmdlet"] == "Set-ReceiveConnector"]
    assert sorted(p["Identity"] for p in sets) == sorted(receive)
    assert {p["TlsCertificateName"] for p in sets} == {placement.renewal_name}
    # The write launches pin the domain controller the facts were read from (the session option adds it).
    assert all(set(p) == {"Identity", "TlsCertificateName", "DomainController"} for p in sets), sets
    assert {p["DomainController"] for p in sets} <= {"dc1.contoso.lab", "dc2.contoso.lab"}, sets
    send_sets = [s["parameters"] for s in ran if s["cmdlet"] == "Set-SendConnector"]
    assert sorted(p["Identity"] for p in send_sets) == sorted(send)
    assert {p["TlsCertificateName"] for p in send_sets} == {placement.renewal_name}
    for s in ran:
        if s["cmdlet"] == "Get-ReceiveConnector" and "Identity" in s["parameters"]:
            assert s["parameters"]["Identity"] in receive, s
        if s["cmdlet"] == "Get-SendConnector" and "Identity" in s["parameters"]:
            assert s["parameters"]["Identity"] in send, s
    assert not marker.exists(), "a Jinja expression from the data was templated"
    reliability(len(entries) + len(sets) + len(send_sets) + cases)


def smtp_port(lab) -> int:
    text = lab.inventory_path.read_text()
    return int(re.search(rf"^{SERVER} .*exchange_smtp_port=(\d+)", text, re.M).group(1))


# -- module arguments ---------------------------------------------------------------------------------


def yaml_double_quoted(text: str) -> str:
    """A YAML double-quoted scalar for any string, escaping everything but printable ASCII."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif " " <= char <= "~":
            out.append(char)
        elif ord(char) > 0xFFFF:
            out.append("\\U%08x" % ord(char))
        else:
            out.append("\\u%04x" % ord(char))
    return '"' + "".join(out) + '"'


def unsafe_vars(path: pathlib.Path, values: dict[str, object]) -> pathlib.Path:
    """A vars file whose strings are !unsafe: Ansible passes them on and never templates them."""
    lines = []
    for key, value in values.items():
        if isinstance(value, list):
            lines.append(f"{key}:")
            lines += [f"  - !unsafe {yaml_double_quoted(v)}" for v in value]
        else:
            lines.append(f"{key}: !unsafe {yaml_double_quoted(value)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.reliability("Hostile input", "corpus strings as module arguments: exchange_command -Identity, receive_connector_tls identity, smtp_tls_probe helo_name")
def test_module_arguments(running_lab, tmp_path, reliability):
    marker = tmp_path / "jinja-ran"
    entries = corpus(str(marker))
    placement = Placement(entries)
    lab = running_lab(placement.write(tmp_path / "hostile.yml"))
    initial, before = state_text(lab), counters(lab)[SERVER]
    existing = [f"{SERVER}\\{placement.receive_names[e.id]}" for e in entries if e.id in placement.receive_names]
    raw = [e.value for e in entries]
    unknown_ids = ["subexpression", "nul", "lf", "jinja_lookup", "tls_name_markers", "long_10000"]
    unknown = [next(e.value for e in entries if e.id == i) for i in unknown_ids]
    vars_file = unsafe_vars(tmp_path / "hostile-vars.yml", {"existing": existing, "raw": raw, "unknown": unknown})
    tasks = [
        command(*[{"cmdlet": "Get-ReceiveConnector", "parameters": {"Identity": f"{{{{ existing[{n}] }}}}"},
                   "properties": ["Identity", "TlsCertificateName"]} for n in range(len(existing))]),
        command(*[{"cmdlet": "Get-ReceiveConnector", "parameters": {"Identity": f"{{{{ raw[{n}] }}}}"},
                   "properties": ["Identity"], "continue_on_error": True} for n in range(len(raw))]),
        {"exchange.transport_tls.receive_connector_tls": {"identity": ["{{ item }}"]}, "loop": "{{ unknown }}"},
        {"exchange.transport_tls.smtp_tls_probe": {"host": "127.0.0.1", "port": smtp_port(lab), "helo_name": "{{ item }}",
                                                   "timeout": 5},
         "loop": "{{ unknown }}", "delegate_to": "localhost"},
    ]
    rc, output, results = play(lab, tmp_path, tasks, hosts=SERVER, args=("-e", f"@{vars_file}"))
    result = results[SERVER]

    # exchange_command: each existing hostile name finds exactly its connector...
    found = result["r0"]
    assert not found.get("failed"), found.get("msg")
    assert [s["objects"][0]["Identity"] for s in found["steps"]] == existing
    # ...and each raw value is looked up as itself and not found, the error naming it.
    looked = result["r1"]["steps"]
    assert [s["status"] for s in looked] == ["error"] * len(raw), [s.get("error") for s in looked]
    for value, step in zip(raw, looked):
        assert value in step["error"], (value, step["error"])
    # receive_connector_tls: an unknown identity is refused, naming it; nothing written.
    refused = result["r2"]["results"]
    assert len(refused) == len(unknown)
    for value, item in zip(unknown, refused):
        assert item.get("failed") and repr(value) in item["msg"], item.get("msg")
    # smtp_tls_probe: a helo_name that is not a host name or address literal is refused, naming it.
    # (Checked last and collected: see the report for NUL, which fails before the module's own check.)
    probes = result["r3"]["results"]
    assert len(probes) == len(unknown)
    probe_problems = [(entry_id, item.get("msg")) for entry_id, value, item in zip(unknown_ids, unknown, probes)
                      if not (item.get("failed") and "helo_name" in item["msg"] and repr(value) in item["msg"])]

    # The journal: every value arrived as itself, nothing but reads ran, the state did not change.
    ran = steps(journal(lab))
    assert {s["cmdlet"] for s in ran} <= READS, {s["cmdlet"] for s in ran}
    identities = [s["parameters"]["Identity"] for s in ran if s["cmdlet"] == "Get-ReceiveConnector" and "Identity" in s["parameters"]]
    assert identities[:len(existing) + len(raw)] == existing + raw
    assert state_text(lab) == initial
    assert counters(lab)[SERVER][1] == before[1], "a refused argument wrote something"
    assert not marker.exists(), "a Jinja expression passed as an argument was templated"
    reliability(len(existing) + len(raw) + 2 * len(unknown))
    assert not probe_problems, f"smtp_tls_probe did not refuse these helo_name values naming them: {probe_problems}"


@pytest.mark.reliability("Hostile input", "connector names that begin or end with whitespace Python strips (tab, space, NEL, LS, PS)")
def test_connector_names_with_edge_whitespace(running_lab, tmp_path, reliability):
    """A name's edges are part of it: the remediation must set the connectors the facts listed, not refuse them.

    Exchange's -Identity binding keeps the string as given, so "  padded\\t " and
    "nel\\x85ls\\u2028ps\\u2029" are other connectors than "padded" and "nel\\x85ls\\u2028ps".
    """
    entries = corpus(str(tmp_path / "m"))
    edge = [e for e in entries if e.value != e.value.strip() and can_name_connector(e)]
    assert {e.id for e in edge} >= {"padded", "unicode_line_breaks"}
    placement = Placement([e for e in entries if e.id in {"subexpression", "smart_double", "long_10000"}])
    doc = placement.scenario()
    template = doc["servers"][0]["receive_connectors"][-1]
    for n, entry in enumerate(edge):
        doc["servers"][0]["receive_connectors"].append({**template, "name": entry.value, "bindings": [f"0.0.0.0:{4000 + n}"]})
    doc["send_connectors"] = [{"name": e.value, "address_spaces": [f"smtp:edge{n}.example;1"], "source_transport_servers": [SERVER],
                               "fqdn": SMTP_DOMAIN, "tls_certificate_name": {"certificate": f"{SERVER}/old"}, "require_tls": True}
                              for n, e in enumerate(edge)]
    path = tmp_path / "edges.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    lab = running_lab(path)

    rc, output, report, changes = run(lab, tmp_path / "remediate", "remediate")
    receive = {f"{SERVER}\\{e.value}" for e in edge}
    send = {e.value for e in edge}
    state = yaml.safe_load(lab.state_path.read_text(encoding="utf-8"))
    ran = steps(journal(lab))
    assert {(c["object"], c["status"]) for c in changes["changes"]} >= {(n, "applied") for n in receive | send}, \
        [report["hosts"][SERVER]["message"], report["organization"]["message"]]
    assert rc == 0 and statuses(report) == {SERVER: "remediated"}, output
    assert {p["parameters"]["Identity"] for p in ran if p["cmdlet"] == "Set-ReceiveConnector"} >= receive
    assert {p["parameters"]["Identity"] for p in ran if p["cmdlet"] == "Set-SendConnector"} == send
    names = {c["name"]: c["tls_certificate_name"] for c in state["servers"][0]["receive_connectors"]}
    names.update({c["name"]: c["tls_certificate_name"] for c in state["send_connectors"]})
    assert all(names[e.value] == placement.renewal_name for e in edge)
    reliability(2 * len(edge))


SCOPE_IDS = ["jinja_lookup", "nul", "subexpression"]


@pytest.mark.reliability("Hostile input", "corpus strings as connector_tls_scope of the audit playbook")
def test_scope_is_refused_before_any_launch(running_lab, tmp_path, reliability):
    marker = tmp_path / "jinja-ran"
    entries = {e.id: e for e in corpus(str(marker))}
    lab = running_lab(Placement(list(entries.values())).write(tmp_path / "hostile.yml"))
    initial = state_text(lab)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    for entry_id in SCOPE_IDS:
        value = entries[entry_id].value
        vars_file = unsafe_vars(tmp_path / f"scope-{entry_id}.yml", {"connector_tls_scope": value})
        proc = subprocess.run(
            [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), "exchange.transport_tls.audit",
             "-e", f"connector_tls_report_dir={tmp_path / entry_id}", "-e", f"@{vars_file}"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
        output = proc.stdout + proc.stderr
        assert proc.returncode != 0, output
        # The message names the variable and the value as given (repr, JSON-escaped in Ansible's output), and a valid example.
        assert "connector_tls_scope" in output and json.dumps(repr(value))[1:-1] in output, output
        assert "receive_connectors[?contains(ports, `25`)]" in output, output
        assert counters(lab)[SERVER][0] == 0, f"{entry_id}: a launch happened before the scope was refused"
    assert journal(lab) == []
    assert state_text(lab) == initial
    assert not marker.exists(), "connector_tls_scope was templated"
    reliability(len(SCOPE_IDS))
