# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The replacement policy: which certificate a stale TlsCertificateName should name now.

One function, used by the facts module (to propose) and by every module that
changes a connector (to decide), so a proposal in an audit is exactly what a
remediation would do. It never guesses: when the best candidates are
different certificates (different subjects), the answer is "ambiguous" and a
person chooses by thumbprint.

Rules (issue "exchange_certificate_facts", replacement policy):

* Candidates are certificates in this server's store with a private key, valid
  now (not expired, not yet-to-come), status not Revoked, Invalid, DateInvalid
  or PendingRequest, and, for hybrid or cloud connectors, issued under a
  third-party root (RootCAType ThirdParty): HCW and Microsoft 365 require a
  certificate from a trusted third-party CA, so neither a self-signed nor an
  Enterprise or Group Policy CA certificate qualifies, and an unknown root type
  is not accepted (Microsoft Learn, "Certificate requirements for hybrid
  deployments", learn.microsoft.com/exchange/certificate-requirements).
* Ranks, best first: the same subject as the stale name (only the issuer
  changed, or the name was typed by hand); the same subject CN (e.g. the CA
  dropped OU= at renewal); domains that cover the stale CN or the connector's
  FQDN (wildcards as TLS matches them).
* A hybrid connector is not chosen for by its FQDN (a Default Frontend
  connector announces the server's own FQDN, which HCW leaves alone, and
  Microsoft 365 checks the certificate against its own connector's domain).
  Its callers pass ``hints`` instead: the names of the organisation's hybrid
  identity (hybrid.identity_names). They are tried in order when the stale name
  finds nothing; when none finds anything, the only third-party certificate
  in the store is the answer (several with different subjects: ambiguous).
* A name cannot choose between certificates with the same issuer and subject:
  transport presents the newest. A candidate whose name would present such a
  twin that cannot be used is excluded, with the twin named.
* Within the best rank, CA-issued certificates come before self-signed ones
  (transport's own order); then, among renewals of the same subject, the
  newest NotBefore, then the latest NotAfter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import tls_name
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.certificate_selection import (
    comparable,
    covers,
    parse_time,
    presented_for_name,
)
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.certificate_facts import MISSING_PROPERTIES_REMEDY

FOUND = "found"
NONE = "none"
AMBIGUOUS = "ambiguous"

RANK_SAME_SUBJECT = 0
RANK_SAME_COMMON_NAME = 1
RANK_COVERS_DOMAIN = 2
RANK_HYBRID_THIRD_PARTY = 3

RANK_WORDS = {
    RANK_SAME_SUBJECT: "it has the same subject as the stale name",
    RANK_SAME_COMMON_NAME: "it has the same subject CN as the stale name",
    RANK_COVERS_DOMAIN: "its names cover the stale name's CN or the connector's FQDN",
    RANK_HYBRID_THIRD_PARTY: "it is the third-party certificate in the store of this hybrid server",
}

_UNUSABLE_STATUS = {"revoked", "invalid", "dateinvalid", "pendingrequest"}


@dataclass
class Replacement:
    status: str                                      # FOUND | NONE | AMBIGUOUS
    certificate: dict | None = None                  # the choice, when FOUND
    rank: int | None = None
    candidates: list = field(default_factory=list)   # the best rank's certificates (AMBIGUOUS: one per subject)
    excluded: list = field(default_factory=list)     # [(certificate, why)] that ranked but cannot be used

    @property
    def name(self) -> str | None:
        return self.certificate["tls_certificate_name"] if self.certificate else None

    @property
    def basis(self) -> str:
        return RANK_WORDS.get(self.rank, "") if self.rank is not None else ""


def _rank(certificate: dict, stale_subject: str | None, stale_cn: str | None, fqdn: str | None) -> int | None:
    subject = certificate["subject"]
    if stale_subject is not None and (
        subject.lower() == stale_subject.lower() or tls_name.names_match_loosely("<S>" + subject, "<S>" + stale_subject)
    ):
        return RANK_SAME_SUBJECT
    cn = tls_name.common_name(subject)
    if stale_cn is not None and cn is not None and cn.lower() == stale_cn.lower():
        return RANK_SAME_COMMON_NAME
    if any(n and covers(certificate, n) for n in (stale_cn, fqdn)):
        return RANK_COVERS_DOMAIN
    return None


def unusable_because(certificate: dict, now: dt.datetime, public_only: bool) -> str | None:
    """Why a certificate cannot be named by a connector, or None when it can."""
    if certificate.get("has_private_key") is not True:
        if certificate.get("has_private_key") == "unknown":
            return f"Exchange did not say whether it has a private key (HasPrivateKey did not arrive; {MISSING_PROPERTIES_REMEDY})"
        return "it has no private key"
    if parse_time(certificate["not_after"]) < now:
        return f"it expired on {certificate['not_after']}"
    if parse_time(certificate["not_before"]) > now:
        return f"it is not valid before {certificate['not_before']}"
    status = str(certificate.get("status") or "")
    if status.lower() in _UNUSABLE_STATUS:
        return f"its status is {status}"
    if public_only and certificate.get("self_signed"):
        return "it is self-signed, and a hybrid or cloud connector needs a certificate from a public CA"
    if public_only:
        return not_third_party_because(certificate)
    return None


def not_third_party_because(certificate: dict) -> str | None:
    """Why a certificate is not a hybrid certificate by its root (RootCAType), or None when it is ThirdParty."""
    root = str(certificate.get("root_ca_type") or "unknown")
    if root.lower() == "thirdparty":
        return None
    if root.lower() == "unknown":
        return ("Exchange did not say which kind of root its chain has (RootCAType unknown), and a hybrid or cloud"
                " connector needs a certificate from a third-party CA")
    return (f"its root is {root} (RootCAType), not a third-party CA: Microsoft 365 does not trust it, and a hybrid or"
            " cloud connector needs a certificate from a third-party CA")


def _twin_problem(certificate: dict, certificates: list[dict], now: dt.datetime, public_only: bool) -> str | None:
    """Why naming this certificate would present another one, with its issuer and subject, that cannot be used."""
    presented = presented_for_name(certificate["tls_certificate_name"], certificates)
    if presented is None or presented["thumbprint"] == certificate["thumbprint"]:
        return None
    why = unusable_because(presented, now, public_only)
    if why is None:
        return None
    return (f"its name would make transport present {presented['thumbprint']}, a newer certificate with the same"
            f" issuer and subject, which cannot be used: {why}")


def _newest_first(certificate: dict) -> tuple:
    return (
        -parse_time(certificate["not_before"]).timestamp(),
        -parse_time(certificate["not_after"]).timestamp(),
        certificate["thumbprint"],
    )


def _subject_and_cn(name: str | None) -> tuple:
    if not name:
        return None, None
    try:
        subject = tls_name.split_tls_certificate_name(name).subject
    except tls_name.TlsCertificateNameError:
        return None, None
    return subject, (tls_name.common_name(subject) if subject else None)


def choose_replacement(
    certificates: list[dict],
    now: dt.datetime,
    stale_name: str | None = None,
    fqdn: str | None = None,
    public_only: bool = False,
    hints: list | None = None,
) -> Replacement:
    """The certificate a connector holding ``stale_name`` (or none) should name on this server.

    ``hints`` (hybrid connectors): further names, best first, tried when the
    stale name finds nothing; with hints given, a lone third-party certificate
    is the last resort.
    """
    choice = _choose(certificates, now, stale_name, fqdn, public_only)
    if hints is None or choice.status != NONE:
        return choice
    excluded = list(choice.excluded)
    for hint in hints:
        if hint and not (stale_name and tls_name.names_match(hint, stale_name)):
            choice = _choose(certificates, now, hint, None, public_only)
            if choice.status != NONE:
                return choice
            excluded.extend(e for e in choice.excluded if all(e[0] is not x[0] for x in excluded))
    choice = _choose(certificates, now, None, None, public_only, any_third_party=True)
    if choice.status == NONE:
        choice.excluded = excluded
    return choice


def _choose(certificates, now, stale_name, fqdn, public_only, any_third_party=False) -> Replacement:
    stale_subject, stale_cn = _subject_and_cn(stale_name)
    ranked, excluded = [], []
    for certificate in comparable(certificates):
        rank = _rank(certificate, stale_subject, stale_cn, fqdn)
        if rank is None and any_third_party and not certificate.get("self_signed") and not not_third_party_because(certificate):
            rank = RANK_HYBRID_THIRD_PARTY
        if rank is None:
            continue
        why = unusable_because(certificate, now, public_only) or _twin_problem(certificate, certificates, now, public_only)
        if why:
            excluded.append((certificate, why))
        else:
            ranked.append((rank, certificate))
    if not ranked:
        return Replacement(NONE, excluded=excluded)
    best_rank = min(rank for rank, _cert in ranked)
    best = [c for rank, c in ranked if rank == best_rank]
    if any(not c["self_signed"] for c in best):
        best = [c for c in best if not c["self_signed"]]
    best.sort(key=_newest_first)
    by_subject: dict[str, dict] = {}
    for certificate in best:
        by_subject.setdefault(certificate["subject"].lower(), certificate)
    if len(by_subject) > 1:
        return Replacement(AMBIGUOUS, rank=best_rank, candidates=list(by_subject.values()), excluded=excluded)
    return Replacement(FOUND, certificate=best[0], rank=best_rank, candidates=best, excluded=excluded)


__all__ = [
    "AMBIGUOUS",
    "FOUND",
    "NONE",
    "Replacement",
    "choose_replacement",
    "not_third_party_because",
    "unusable_because",
]
