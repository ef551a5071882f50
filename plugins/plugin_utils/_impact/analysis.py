# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a candidate certificate would change and break across the fleet: the impact document (impact/v1).

A pure function of the gathered facts of every server, the candidate and the
options. ``TlsCertificateName`` names an issuer and a subject, not a
certificate, so a renewal from a new intermediate, or with a changed subject,
leaves every object naming the old pair pointing at nothing once the old
certificate goes (KB 2989382; Microsoft's recipe for the value is
``"<I>$($cert.Issuer)<S>$($cert.Subject)"``). This module lists those objects,
the servers that must hold the candidate (Import-ExchangeCertificate, then
Enable-ExchangeCertificate -Services SMTP), and the findings.

Which objects the candidate renews is decided with the replacement policy's
own ranking (plugin_utils/_facts/replacement.py): an object whose name has the
candidate's subject, or its subject's CN, or a CN the candidate covers.
Objects naming unrelated certificates are not listed.

Sources for the rules: Microsoft 365 checks the on-premises certificate
against its inbound connector's TlsSenderCertificateName (550 5.7.64
TenantAttribution otherwise; learn.microsoft.com/exchange/mail-flow-best-practices/
use-connectors-to-configure-mail-flow/set-up-connectors-for-secure-mail-flow-with-a-partner);
hybrid needs a certificate from a third-party CA and the same certificate on
every Edge server of an Edge-based hybrid (learn.microsoft.com/exchange/
hybrid-deployment-prerequisites and /exchange/certificate-requirements).
"""

from __future__ import annotations

import datetime as dt
from typing import Dict, List, Optional

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import hybrid, tls_name
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.certificate_selection import covers, domain_matches, parse_time
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.replacement import _rank, _subject_and_cn
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.fact_values import same_server
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._impact.candidate import Candidate

__all__ = ["CODES", "SCHEMA", "analyse", "breaks_mail"]

SCHEMA = "exchange.transport_tls/impact/v1"
ERROR, WARNING, INFO = "error", "warning", "info"
ORGANIZATION = "organization"
MICROSOFT_365 = "Microsoft 365"
EXO_OBJECT = "inbound connector from on-premises"

# code: (severity, meaning). Codes are an interface (reports and CI key on them): add, never rename.
CODES: Dict[str, tuple] = {
    "candidate_name_change": (INFO, "an object names the old issuer and subject and must be renamed to the candidate's"),
    "candidate_domain_not_covered": (ERROR, "a connector FQDN or hybrid domain is not covered by the candidate's subject or SANs"),
    "candidate_exo_domain_not_covered": (ERROR, "Microsoft 365's inbound connector domain (TlsSenderCertificateName) is not covered"),
    "candidate_not_third_party": (ERROR, "hybrid needs a certificate from a third-party CA, and the candidate does not chain to a trusted root"),
    "candidate_chain_incomplete": (WARNING, "the file does not include the chain up to a trusted root"),
    "candidate_weak_key": (ERROR, "the candidate's RSA key is shorter than 2048 bits"),
    "candidate_weak_signature": (ERROR, "the candidate is signed with SHA-1 (or MD5)"),
    "candidate_no_server_auth": (ERROR, "the candidate's EKU lacks serverAuth"),
    "candidate_no_client_auth": (WARNING, "the candidate's EKU lacks clientAuth (Exchange is a TLS client to Microsoft 365)"),
    "candidate_expiring": (WARNING, "the candidate expires within expiring_days (an error when it has expired)"),
    "candidate_not_yet_valid": (ERROR, "the candidate is not valid yet"),
    "candidate_edge_subject_mismatch": (ERROR, "Edge servers of an Edge-based hybrid would not all name the same issuer and subject"),
    "candidate_no_private_key": (ERROR, "the candidate has no private key, so transport cannot use it"),
    "candidate_renews_nothing": (WARNING, "no object names the candidate's issuer and subject or a certificate it renews"),
    "candidate_host_unread": (ERROR, "a server's facts are missing or incomplete, so what the candidate changes there is unknown"),
}
ACTIONS = ("rename", "unchanged", "import", "enable_smtp", "blocked")
_NAMING_OBJECTS = ("receive_connector", "send_connector", "hybrid_configuration")
# Findings about the certificate itself (not one object): they affect every object that would name it.
_CERTIFICATE_CODES = {"candidate_not_third_party", "candidate_chain_incomplete", "candidate_weak_key", "candidate_weak_signature",
                      "candidate_no_server_auth", "candidate_no_client_auth", "candidate_expiring", "candidate_not_yet_valid",
                      "candidate_no_private_key"}
_WEAK_HASHES = ("sha1", "md5")


class _Doc:
    """Collects objects and findings (one finding per code and message, with every host it affects)."""

    def __init__(self) -> None:
        self.objects: List[dict] = []
        self.findings: List[dict] = []

    def finding(self, code: str, message: str, hosts=(), severity: Optional[str] = None, objects=()) -> str:
        for f in self.findings:
            if f["code"] == code and f["message"] == message:
                f["hosts"] = sorted(set(f["hosts"]) | set(hosts))
                f["objects"] = sorted(set(f["objects"]) | set(objects))
                return code
        self.findings.append({"code": code, "severity": severity or CODES[code][0], "message": message, "hosts": sorted(set(hosts)),
                              "objects": sorted(set(objects))})
        return code

    def certificate_findings_affect(self, codes: set) -> None:
        """The certificate's own findings affect every object that would name it."""
        users = sorted({o["object"] for o in self.objects if o["object_type"] in _NAMING_OBJECTS and o["action"] in ("rename", "unchanged", "blocked")})
        for f in self.findings:
            if f["code"] in codes and not f["objects"]:
                f["objects"] = users

    def add(self, host, object_type, obj, current, after, action, findings=()) -> dict:
        entry = {"host": host, "object_type": object_type, "object": obj, "current": current, "after": after,
                 "action": action, "findings": list(findings)}
        self.objects.append(entry)
        return entry


def _candidate_cert(candidate: Candidate) -> dict:
    """The candidate in the shape certificate facts have, for the shared coverage and ranking rules."""
    return {"subject": candidate.subject, "issuer": candidate.issuer, "domains": list(candidate.domains)}


def _renews(candidate: Candidate, name: Optional[str]) -> bool:
    """Whether the candidate renews the certificate ``name`` designates (replacement.py's ranking)."""
    subject, cn = _subject_and_cn(name)
    if subject is None:
        return False
    return _rank(_candidate_cert(candidate), subject, cn, None) is not None


def _server_name(facts: dict) -> str:
    return (facts.get("server") or {}).get("name") or ""


def _host_of(fleet: dict, reference: str) -> Optional[str]:
    for host, facts in fleet.items():
        server = facts.get("server") or {}
        if same_server(reference, server.get("name"), server.get("fqdn")):
            return host
    return None


def _certificate_checks(doc: _Doc, candidate: Candidate, now: dt.datetime, expiring_days: int, is_hybrid: bool, hosts: list) -> None:
    """Findings about the certificate itself; they affect every server that would use it."""
    if candidate.key and candidate.key.startswith("RSA ") and (candidate.key_size or 0) < 2048:
        doc.finding("candidate_weak_key", f"the candidate's key is {candidate.key}; Exchange and Microsoft 365 need RSA 2048 or longer", hosts)
    if candidate.signature_hash in _WEAK_HASHES:
        doc.finding("candidate_weak_signature", f"the candidate is signed with {candidate.signature_hash.upper()}; ask the CA for SHA-256", hosts)
    if candidate.eku is not None:
        usages = set(candidate.eku)
        if not usages & {"serverAuth", "anyExtendedKeyUsage"}:
            doc.finding("candidate_no_server_auth", f"the candidate's EKU is {', '.join(candidate.eku) or 'empty'}, without serverAuth:"
                        " a sending server refuses it in STARTTLS", hosts)
        if not usages & {"clientAuth", "anyExtendedKeyUsage"}:
            doc.finding("candidate_no_client_auth", "the candidate's EKU lacks clientAuth: Exchange presents it as a TLS client to Microsoft 365"
                        " and to partners; public CAs stop issuing clientAuth in 2026 and the effect on Exchange is not documented", hosts)
    not_after, not_before = parse_time(candidate.not_after), parse_time(candidate.not_before)
    if not_after < now:
        doc.finding("candidate_expiring", f"the candidate expired on {candidate.not_after}", hosts, severity=ERROR)
    elif (not_after - now) // dt.timedelta(days=1) < expiring_days:
        doc.finding("candidate_expiring", f"the candidate expires on {candidate.not_after}, within {expiring_days} days", hosts)
    if not_before > now:
        doc.finding("candidate_not_yet_valid", f"the candidate is valid only from {candidate.not_before}", hosts)
    if candidate.has_private_key is False:
        doc.finding("candidate_no_private_key", "the candidate has no private key: export it from where it was requested with its key"
                    " (a PFX) before importing", hosts)
    if candidate.chain_complete is False:
        doc.finding("candidate_chain_incomplete", f"the file does not include the chain: {candidate.trust_detail}; a server that lacks the"
                    " intermediate sends an incomplete chain and Microsoft 365 or a partner may refuse it", hosts)
    if is_hybrid and candidate.third_party is not True:
        why = candidate.trust_detail or "its root is unknown"
        doc.finding("candidate_not_third_party", f"hybrid needs a certificate from a third-party CA, and the candidate does not chain to a"
                    f" trusted root ({why}); add the CA's root to connector_tls_candidate_trust if it is one", hosts,
                    severity=ERROR if candidate.third_party is False else WARNING)


def _hybrid_facts(fleet: dict) -> tuple:
    """(host, hybrid configuration facts) from the first server that read it, or (None, None)."""
    for host, facts in fleet.items():
        hc = facts.get("hybrid_configuration")
        if hc:
            return host, hc
    return None, None


def _current_exo_domain(fleet: dict, hc: Optional[dict]) -> Optional[str]:
    """The domain Microsoft 365's inbound connector most likely names: the CN of the hybrid identity's subject.

    The identity is what HCW wrote (hybrid.identity_names: the hybrid configuration's name, then the cloud send
    connectors', then the hybrid receive connectors'). That the Microsoft 365 connector names the same certificate's
    CN is an inference (HCW configures both from the certificate chosen in the wizard; on-premises cannot read the
    Microsoft 365 side), hence the option exo_inbound_domain.
    """
    if not hc:
        return None
    for host in sorted(fleet):
        for name in hybrid.identity_names(fleet[host]):
            _subject, cn = _subject_and_cn(name)
            if cn:
                return cn
    return None


def _covered(candidate: Candidate, domain: str) -> bool:
    return covers(_candidate_cert(candidate), domain) or any(domain_matches(d, domain) for d in candidate.domains)


def analyse(fleet: Dict[str, dict], candidate: Candidate, *, now: dt.datetime, expiring_days: int = 30,
            exo_inbound_domain: Optional[str] = None, unread_hosts: Optional[Dict[str, str]] = None) -> dict:
    """The impact document for ``candidate`` over ``fleet`` (inventory host -> exchange_tls facts).

    ``unread_hosts``: host -> why its facts are missing; each is an error
    finding, because what the candidate changes there is unknown.
    """
    doc = _Doc()
    after_name = candidate.tls_certificate_name
    hosts = sorted(fleet)
    hc_host, hc = _hybrid_facts(fleet)
    is_hybrid = hc is not None or any(sc.get("cloud") for f in fleet.values() for sc in f.get("send_connectors") or [])
    for host, why in sorted((unread_hosts or {}).items()):
        doc.finding("candidate_host_unread", f"{host}: {why}; what the candidate changes there is not shown", [host])
    for host in hosts:
        if fleet[host].get("read_errors"):
            doc.finding("candidate_host_unread", f"{host}: some reads failed ({len(fleet[host]['read_errors'])}); objects they"
                        " would have shown are missing", [host], severity=WARNING)
    if not fleet and not unread_hosts:
        doc.finding("candidate_host_unread", "no server's facts were given: nothing was analysed", [])
    needing = set()  # hosts that must hold the candidate

    def judge(host, object_type, obj, name, domains_to_cover, object_hosts) -> Optional[dict]:
        if not name:
            return None
        if tls_name.names_match(name, after_name):
            needing.update(object_hosts)
            return doc.add(host, object_type, obj, name, after_name, "unchanged")
        if not _renews(candidate, name):
            return None
        needing.update(object_hosts)
        codes = [doc.finding("candidate_name_change", f"{object_type} {obj} names {name} and must be renamed to {after_name}", object_hosts,
                             objects=[obj])]
        for domain in domains_to_cover:
            if domain and not _covered(candidate, domain):
                codes.append(doc.finding("candidate_domain_not_covered", f"{object_type} {obj} serves {domain}, which the candidate"
                                         f" ({', '.join(candidate.domains) or 'no domains'}) does not cover", object_hosts, objects=[obj]))
        blocked = any(CODES[c][0] == ERROR for c in codes)
        return doc.add(host, object_type, obj, name, after_name, "blocked" if blocked else "rename", codes)

    hybrid_domain = _current_exo_domain(fleet, hc)
    for host in hosts:
        facts = fleet[host]
        for rc in facts.get("receive_connectors") or []:
            # A hybrid receive connector's Fqdn is the server's own name; Microsoft 365 checks the hybrid domain instead.
            domains = [hybrid_domain] if rc.get("hybrid") else [rc.get("fqdn")]
            judge(host, "receive_connector", rc.get("identity") or rc.get("name"), rc.get("tls_certificate_name"), domains, [host])
    seen_send = set()
    for host in hosts:
        for sc in fleet[host].get("send_connectors") or []:
            key = (sc.get("identity") or sc.get("name") or "").lower()
            if key in seen_send:
                continue
            seen_send.add(key)
            sources = [h for h in (_host_of(fleet, s) for s in sc.get("source_transport_servers") or []) if h] or [host]
            judge(ORGANIZATION, "send_connector", sc.get("identity") or sc.get("name"), sc.get("tls_certificate_name"),
                  [sc.get("fqdn")], sources)
    if hc:
        listed = (hc.get("receiving_transport_servers") or []) + (hc.get("sending_transport_servers") or [])
        listed += hc.get("edge_transport_servers") or []
        hc_hosts = [h for h in (_host_of(fleet, s) for s in listed) if h] or [hc_host]
        judge(ORGANIZATION, "hybrid_configuration", "hybrid configuration", hc.get("tls_certificate_name"), [hybrid_domain], hc_hosts)
    if fleet and not any(o["object_type"] in _NAMING_OBJECTS for o in doc.objects):
        # Probably the wrong file: say so rather than report a clean result that checked nothing.
        doc.finding("candidate_renews_nothing", f"no connector and no hybrid configuration names {after_name} or a certificate with its"
                    f" subject or common name ({', '.join(candidate.domains) or 'no domains'}): check that this is the renewal you meant", hosts)
    # The certificate's own problems affect the servers that would use it (all analysed ones when none does yet).
    _certificate_checks(doc, candidate, now, expiring_days, is_hybrid, sorted(needing) or hosts)
    doc.certificate_findings_affect(_CERTIFICATE_CODES)
    _exo_inbound(doc, candidate, exo_inbound_domain or hybrid_domain, bool(exo_inbound_domain), is_hybrid)
    _edge_checks(doc, fleet, hc)
    _placement(doc, fleet, candidate, needing)
    return {
        "schema": SCHEMA,
        "generated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "candidate": candidate.as_dict(),
        "options": {"expiring_days": expiring_days, "exo_inbound_domain": exo_inbound_domain or hybrid_domain},
        "hosts": hosts,
        "objects": doc.objects,
        "findings": doc.findings,
        "summary": _summary(doc),
    }


def _exo_inbound(doc: _Doc, candidate: Candidate, domain: Optional[str], given: bool, is_hybrid: bool) -> None:
    if not domain or not (is_hybrid or given):
        return
    current = f"TlsSenderCertificateName {domain}"
    if _covered(candidate, domain):
        doc.add(MICROSOFT_365, "exo_inbound_connector", EXO_OBJECT, current, current, "unchanged")
        return
    code = doc.finding("candidate_exo_domain_not_covered", f"Microsoft 365's inbound connector expects a certificate for {domain}"
                       f" (TlsSenderCertificateName), which the candidate ({', '.join(candidate.domains) or 'no domains'}) does not"
                       " cover: mail from on-premises would fail with 550 5.7.64 TenantAttribution", [MICROSOFT_365],
                       objects=[EXO_OBJECT])
    doc.add(MICROSOFT_365, "exo_inbound_connector", EXO_OBJECT, current, current, "blocked", [code])


def _after_name(doc: _Doc, host: str, object_type: str) -> List[str]:
    return [o["after"] for o in doc.objects if o["host"] == host and o["object_type"] == object_type]


def _edge_checks(doc: _Doc, fleet: dict, hc: Optional[dict]) -> None:
    """Every Edge server of an Edge-based hybrid must present the same issuer and subject after the change."""
    if not hc or not hc.get("edge_transport_servers"):
        return
    hc_after = next((o["after"] for o in doc.objects if o["object_type"] == "hybrid_configuration"), hc.get("tls_certificate_name"))
    for reference in hc["edge_transport_servers"]:
        host = _host_of(fleet, reference)
        if host is None:
            doc.finding("candidate_host_unread", f"Edge server {reference} is in the hybrid configuration but was not gathered", [str(reference)])
            continue
        differing = {}  # connector -> the name it would have after the change
        for rc in fleet[host].get("receive_connectors") or []:
            identity, name = rc.get("identity") or rc.get("name"), rc.get("tls_certificate_name")
            listed = next((o for o in doc.objects if o["host"] == host and o["object"] == identity), None)
            after = listed["after"] if listed else name
            if after and hc_after and not tls_name.names_match(after, hc_after):
                differing[identity] = after
        if differing:
            doc.finding("candidate_edge_subject_mismatch", f"Edge server {host} would name {', '.join(sorted(set(differing.values())))} while the"
                        f" hybrid configuration names {hc_after}: every Edge server must use a certificate with the same issuer and subject",
                        [host], objects=sorted(differing))


def _placement(doc: _Doc, fleet: dict, candidate: Candidate, needing: set) -> None:
    """Where the candidate must be imported and enabled for SMTP: every server that uses the certificate it renews."""
    for host in sorted(fleet):
        facts = fleet[host]
        certificates = facts.get("certificates") or []
        uses_old = any("SMTP" in (c.get("services") or []) and _renews(candidate, c.get("tls_certificate_name"))
                       and c.get("thumbprint") != candidate.thumbprint for c in certificates)
        if host not in needing and not uses_old:
            continue
        server = _server_name(facts) or host
        held = next((c for c in certificates if str(c.get("thumbprint") or "").upper() == candidate.thumbprint), None)
        if held is None:
            doc.add(host, "certificate", candidate.thumbprint, f"not in {server}'s store", "imported", "import")
        if held is None or "SMTP" not in (held.get("services") or []):
            current = "not enabled for SMTP" if held is not None else "not in the store"
            doc.add(host, "certificate", candidate.thumbprint, current, "enabled for SMTP", "enable_smtp")


def _summary(doc: _Doc) -> dict:
    counts = {a: sum(1 for o in doc.objects if o["action"] == a) for a in ACTIONS}
    severities = {s: sum(1 for f in doc.findings if f["severity"] == s) for s in (ERROR, WARNING, INFO)}
    return {"actions": counts, "findings": severities, "breaks_mail": severities[ERROR] > 0}


def breaks_mail(document: dict) -> bool:
    """Whether a finding would break mail (an error): the playbook's exit status."""
    return any(f["severity"] == ERROR for f in document.get("findings") or [])
