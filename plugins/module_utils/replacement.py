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
  or PendingRequest, and, for hybrid or cloud connectors, not self-signed
  (HCW requires a third-party certificate, exchange-reference.md section 5).
* Ranks, best first: the same subject as the stale name (only the issuer
  changed, or the name was typed by hand); the same subject CN (e.g. the CA
  dropped OU= at renewal); domains that cover the stale CN or the connector's
  FQDN (wildcards as TLS matches them).
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

from ansible_collections.exchange.transport_tls.plugins.module_utils import tls_name
from ansible_collections.exchange.transport_tls.plugins.module_utils.certificate_selection import (
    comparable,
    covers,
    parse_time,
    presented_for_name,
)
from ansible_collections.exchange.transport_tls.plugins.module_utils.transport_facts import MISSING_PROPERTIES_REMEDY

FOUND = "found"
NONE = "none"
AMBIGUOUS = "ambiguous"

RANK_SAME_SUBJECT = 0
RANK_SAME_COMMON_NAME = 1
RANK_COVERS_DOMAIN = 2

RANK_WORDS = {
    RANK_SAME_SUBJECT: "it has the same subject as the stale name",
    RANK_SAME_COMMON_NAME: "it has the same subject CN as the stale name",
    RANK_COVERS_DOMAIN: "its names cover the stale name's CN or the connector's FQDN",
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
    return None


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


def choose_replacement(
    certificates: list[dict],
    now: dt.datetime,
    stale_name: str | None = None,
    fqdn: str | None = None,
    public_only: bool = False,
) -> Replacement:
    """The certificate a connector holding ``stale_name`` (or none) should name on this server."""
    stale_subject = stale_cn = None
    if stale_name:
        try:
            stale_subject = tls_name.split_tls_certificate_name(stale_name).subject
        except tls_name.TlsCertificateNameError:
            stale_subject = None
        stale_cn = tls_name.common_name(stale_subject) if stale_subject else None
    ranked, excluded = [], []
    for certificate in comparable(certificates):
        rank = _rank(certificate, stale_subject, stale_cn, fqdn)
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
    "unusable_because",
]
