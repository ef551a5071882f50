# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout's decisions for one server: import the renewed certificate, and retire the superseded one.

Pure Python, no Ansible: the action plugins exchange_certificate_import and
exchange_certificate_retire read with one launch, decide here, and write with
one guarded launch built here.

Retiring follows what Exchange itself refuses and what Microsoft documents:

* Remove-ExchangeCertificate refuses a certificate whose issuer and subject a
  send connector's TlsCertificateName names ("These certificates are tagged
  with following Send Connectors", Microsoft Learn, "Can't remove a
  certificate that's installed in Exchange Server"). When the renewal keeps
  the old issuer and subject, that name matches both certificates, and
  Microsoft's order is: clear the send connector's name, remove the old
  certificate on each source server, set the name again. That changes mail
  flow for the whole organisation between the steps, so this module does not
  do it on its own: it keeps the certificate and says so, with the article.
* It refuses the internal transport certificate ("The internal transport
  certificate cannot be removed because that would cause the Microsoft
  Exchange Transport service to stop").
* The Auth certificate (Get-AuthConfig CurrentCertificateThumbprint and
  NextCertificateThumbprint) signs OAuth tokens for the whole organisation
  (Microsoft Learn, "Maintain (renew) the Exchange Server Auth certificate").
* A certificate with the IIS service is bound to the Exchange web sites;
  removing it breaks HTTPS. Only Exchange's Services flag is visible here: an
  IIS binding made outside Exchange (IIS Manager) is not.
* A receive connector or the hybrid configuration that still names it would
  lose its certificate: those are renamed first, by the rollout's rename step.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import tls_name
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.certificate_selection import parse_time
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import (
    READ,
    SET,
    Change,
    guard_id,
    readback_id,
    step,
    step_id,
    steps_by_id,
)

STORE = "certificate_store"      # the object type of a certificate put into or taken out of a server's store
IN_STORE = "InStore"             # its one property: "absent" or "present" (the change record holds strings)
NOT_UNDONE = ("Removal cannot be undone: Remove-ExchangeCertificate deletes the certificate and its private key from"
              " the server's store; only an import of the same PFX brings it back.")
_CERT_PROPERTIES = ["Thumbprint", "Subject", "Issuer", "Services", "HasPrivateKey", "NotAfter"]
_CANNOT_REMOVE_ARTICLE = "https://learn.microsoft.com/exchange/troubleshoot/mailflow/cannot-remove-installed-certificate"


def names_certificate(name: Optional[str], issuer: str, subject: str) -> bool:
    """Whether a TlsCertificateName names a certificate of this issuer and subject (a subject-only name names any issuer's)."""
    if not name:
        return False
    try:
        parsed = tls_name.split_tls_certificate_name(name)
    except tls_name.TlsCertificateNameError:
        return False
    fold = tls_name._fold  # pylint: disable=protected-access
    return fold(parsed.subject) == fold(subject) and (not parsed.issuer or fold(parsed.issuer) == fold(issuer))


# -- import -------------------------------------------------------------------------------------------


def store_read_steps(server: str, role: bool = False) -> List[dict]:
    """The server's store; with ``role``, whether it is an Edge server too (for IIS, which Edge does not run)."""
    steps = [step(step_id(READ, None, "store"), "Get-ExchangeCertificate", {"Server": server}, _CERT_PROPERTIES)]
    if role:
        steps.append(step(step_id(READ, None, "server"), "Get-ExchangeServer", {"Identity": server}, ["Name", "IsEdgeServer"]))
    return steps


def is_edge(raw: dict) -> bool:
    """Whether store_read_steps(role=True) found an Edge Transport server."""
    objects = (steps_by_id(raw).get(step_id(READ, None, "server")) or {}).get("objects") or [{}]
    return objects[0].get("IsEdgeServer") is True


def services_of(certificate: Optional[dict]) -> List[str]:
    """A certificate's Services as names (the payload flattens the flags to "IIS, SMTP"; None is no service)."""
    text = str((certificate or {}).get("Services") or "")
    return [s.strip() for s in text.split(",") if s.strip() and s.strip() != "None"]


# IIS on request (connector_tls_rollout_services): Enable-ExchangeCertificate -Services IIS binds the certificate to
# the Default Web Site's HTTPS, so OWA, ECP, EWS and Autodiscover present it from then on (Microsoft Learn,
# Enable-ExchangeCertificate: "IIS ... the certificate is used by the Default Web Site"). An Edge Transport server
# runs no client access web site, so it is never asked there.
IIS_NOTE = ("enabling IIS binds the certificate to the Default Web Site's HTTPS: OWA, ECP, EWS and Autodiscover"
            " present it from then on")
IIS_EDGE = "an Edge Transport server runs no IIS web site for Exchange, so IIS is not enabled there"


def iis_steps(server: str, thumbprint: str, certificate: dict) -> List[dict]:
    """Enable IIS on ``certificate`` (as the store read returned it): guarded by that read's Services, then read back.

    No -Force: the prompt -Force answers is SMTP's "Overwrite the existing default SMTP certificate?"; IIS is
    rebound without one. Services are additive, so SMTP and the others stay.
    """
    services = certificate.get("Services")
    guard = {"Thumbprint": thumbprint, "Services": None if services is None else str(services)}
    return [
        step(guard_id("certificate", thumbprint), "Get-ExchangeCertificate", {"Server": server, "Thumbprint": thumbprint},
             ["Thumbprint", "Services"], guard),
        step(step_id(SET, "certificate", thumbprint), "Enable-ExchangeCertificate",
             {"Server": server, "Thumbprint": thumbprint, "Services": "IIS"}),
        step(readback_id("certificate", thumbprint), "Get-ExchangeCertificate", {"Server": server, "Thumbprint": thumbprint},
             _CERT_PROPERTIES),
    ]


def iis_read_back(raw: dict, thumbprint: str) -> Optional[dict]:
    """The certificate as iis_steps' read-back found it, or None."""
    objects = (steps_by_id(raw).get(readback_id("certificate", thumbprint)) or {}).get("objects") or []
    return objects[0] if objects else None


def iis_change(server: str, thumbprint: str, services: List[str]) -> Change:
    """The change record's entry: the certificate's Services before and after (a rollback says IIS stays)."""
    return Change("certificate", thumbprint, "Services", list(services), list(services) + ["IIS"], server)


def in_store(raw: dict, thumbprint: str) -> Optional[dict]:
    """The certificate ``thumbprint`` as the store read returned it, or None."""
    objects = (steps_by_id(raw).get(step_id(READ, None, "store")) or {}).get("objects") or []
    return next((o for o in objects if str(o.get("Thumbprint") or "").upper() == thumbprint), None)


def import_steps(server: str, thumbprint: str, pfx_bytes: bytes, exportable: bool) -> List[dict]:
    """Import, then read the certificate back; the password travels as exchange_command's certificate_password."""
    parameters = {"Server": server, "FileData": base64.b64encode(pfx_bytes).decode("ascii")}
    if exportable:
        parameters["PrivateKeyExportable"] = True
    return [
        step(step_id(SET, STORE, thumbprint), "Import-ExchangeCertificate", parameters, ["Thumbprint"]),
        step(readback_id(STORE, thumbprint), "Get-ExchangeCertificate", {"Server": server, "Thumbprint": thumbprint},
             _CERT_PROPERTIES),
    ]


def imported_change(server: str, thumbprint: str) -> Change:
    return Change(STORE, thumbprint, IN_STORE, "absent", "present", server)


# -- retire -------------------------------------------------------------------------------------------


@dataclass
class Retirement:
    """What retire decided for one certificate on one server."""

    server: str
    thumbprint: str
    replacement: str
    present: bool = False
    certificate: dict = field(default_factory=dict)
    kept_because: List[str] = field(default_factory=list)
    guards: Dict[str, dict] = field(default_factory=dict)     # step id -> (cmdlet, parameters, properties, guard)

    @property
    def remove(self) -> bool:
        return self.present and not self.kept_because

    def change(self) -> Change:
        return Change(STORE, self.thumbprint, IN_STORE, "present", "absent", self.server)

    def as_dict(self) -> dict:
        return {"server": self.server, "thumbprint": self.thumbprint, "replacement": self.replacement,
                "present": self.present, "remove": self.remove, "kept_because": list(self.kept_because),
                "subject": self.certificate.get("Subject"), "issuer": self.certificate.get("Issuer"),
                "can_be_undone": False, "note": NOT_UNDONE if self.remove else None}


def retire_read_steps(server: str, thumbprint: str, replacement: Optional[str]) -> List[dict]:
    """One launch: the server's role, both certificates, the default SMTP certificate, the Auth configuration, every name.

    ``replacement`` None: no renewed certificate to check (a rollback taking out what a rollout imported).
    """
    steps = [
        step(step_id(READ, None, "server"), "Get-ExchangeServer", {"Identity": server}, ["Name", "IsEdgeServer"]),
        dict(step(step_id(READ, None, "old"), "Get-ExchangeCertificate", {"Server": server, "Thumbprint": thumbprint}, _CERT_PROPERTIES),
             continue_on_error=True),
    ]
    if replacement is not None:
        steps.append(dict(step(step_id(READ, None, "new"), "Get-ExchangeCertificate", {"Server": server, "Thumbprint": replacement},
                               _CERT_PROPERTIES), continue_on_error=True))
    steps += [
        step(step_id(READ, None, "transport"), "Get-TransportService", {"Identity": server}, ["Identity", "InternalTransportCertificateThumbprint"]),
        step(step_id(READ, None, "send"), "Get-SendConnector", {}, ["Identity", "TlsCertificateName", "SourceTransportServers"]),
        step(step_id(READ, None, "receive"), "Get-ReceiveConnector", {"Server": server}, ["Identity", "TlsCertificateName"]),
    ]
    # Neither exists on an Edge server (its shell has no organisation configuration): read, and judged with the role.
    steps.append(dict(step(step_id(READ, None, "auth"), "Get-AuthConfig", {}, ["CurrentCertificateThumbprint", "NextCertificateThumbprint"]),
                      continue_on_error=True))
    steps.append(dict(step(step_id(READ, None, "hybrid"), "Get-HybridConfiguration", {}, ["TlsCertificateName"]), continue_on_error=True))
    return steps


def _objects(raw: dict, sid: str) -> Optional[List[dict]]:
    entry = steps_by_id(raw).get(sid)
    if entry is None or entry.get("status") != "ok":
        return None
    return list(entry.get("objects") or [])


def decide_retirement(raw: dict, server: str, thumbprint: str, replacement: Optional[str], proven: Optional[str]) -> Retirement:
    """Whether the superseded certificate may go, from retire_read_steps' result and the proof's verdict.

    ``proven`` is None when the SMTP probe showed the replacement on this server, else why not. ``replacement``
    None (a rollback undoing an import): what keeps a certificate is judged alone, with no renewal to check.
    """
    decision = Retirement(server, thumbprint, replacement or "")
    old = (_objects(raw, step_id(READ, None, "old")) or [None])[0]
    if old is None:
        return decision            # not in the store: nothing to retire, nothing to say
    decision.present, decision.certificate = True, old
    kept = decision.kept_because
    issuer, subject = str(old.get("Issuer") or ""), str(old.get("Subject") or "")
    new = (_objects(raw, step_id(READ, None, "new")) or [None])[0]
    if replacement is None:
        pass
    elif new is None:
        kept.append(f"the renewed certificate {replacement} is not in this server's store")
    else:
        if "SMTP" not in str(new.get("Services") or ""):
            kept.append(f"the renewed certificate {replacement} is not enabled for SMTP here")
        if new.get("HasPrivateKey") is False:
            kept.append(f"the renewed certificate {replacement} has no private key here")
    if replacement is not None and proven is not None:
        kept.append(f"the SMTP probe has not shown the renewed certificate on this server: {proven}")
    services = str(old.get("Services") or "")
    if "IIS" in [s.strip() for s in services.split(",")]:
        kept.append("it is enabled for IIS (Services: " + services + "); move IIS to the renewed certificate first"
                    " (an IIS binding made outside Exchange is not visible here)")
    transport = (_objects(raw, step_id(READ, None, "transport")) or [{}])[0]
    default = str(transport.get("InternalTransportCertificateThumbprint") or "").upper()
    if default == thumbprint:
        kept.append("it is the internal transport (default SMTP) certificate, which Exchange refuses to remove")
    decision.guards[guard_id("transport_service", server)] = {
        "cmdlet": "Get-TransportService", "parameters": {"Identity": server},
        "properties": ["InternalTransportCertificateThumbprint"],
        "guard": {"InternalTransportCertificateThumbprint": transport.get("InternalTransportCertificateThumbprint")}}
    auth = _objects(raw, step_id(READ, None, "auth"))
    if auth:
        current = str(auth[0].get("CurrentCertificateThumbprint") or "").upper()
        upcoming = str(auth[0].get("NextCertificateThumbprint") or "").upper()
        if thumbprint in (current, upcoming):
            kept.append(f"it is the organisation's {'current' if thumbprint == current else 'next'} Auth certificate (Get-AuthConfig)")
        decision.guards[guard_id("auth_config", "organization")] = {
            "cmdlet": "Get-AuthConfig", "parameters": {},
            "properties": ["CurrentCertificateThumbprint", "NextCertificateThumbprint"],
            "guard": {k: auth[0].get(k) for k in ("CurrentCertificateThumbprint", "NextCertificateThumbprint")}}
    elif not (_objects(raw, step_id(READ, None, "server")) or [{}])[0].get("IsEdgeServer"):
        kept.append("Get-AuthConfig could not be read, so it is not known whether this is the Auth certificate")
    new_pair = (str((new or {}).get("Issuer") or ""), str((new or {}).get("Subject") or ""))
    old_name = tls_name.format_tls_certificate_name(issuer, subject)
    same_pair = new is not None and tls_name.names_match(tls_name.format_tls_certificate_name(*new_pair), old_name)
    for kind, read_id, cmdlet in (("send connector", step_id(READ, None, "send"), "Get-SendConnector"),
                                  ("receive connector", step_id(READ, None, "receive"), "Get-ReceiveConnector")):
        objects = _objects(raw, read_id)
        if objects is None:
            kept.append(f"the {kind}s could not be read, so it is not known whether one names it")
            continue
        for obj in objects:
            name, ident = obj.get("TlsCertificateName"), str(obj.get("Identity"))
            decision.guards[guard_id(kind.replace(' ', '_'), ident)] = {
                "cmdlet": cmdlet, "parameters": {"Identity": ident}, "properties": ["Identity", "TlsCertificateName"],
                "guard": {"TlsCertificateName": name}}
            if not names_certificate(name, issuer, subject):
                continue
            if kind == "send connector" and same_pair:
                kept.append(f"send connector {ident} names its issuer and subject, which the renewed certificate shares:"
                            " Exchange refuses to remove either while a send connector names them. Microsoft's order"
                            " (clear the connector's TlsCertificateName, remove the old certificate on each source server,"
                            f" set the name again) changes mail flow organisation-wide; follow {_CANNOT_REMOVE_ARTICLE}")
            else:
                kept.append(f"{kind} {ident} still names it ({name}); rename it first")
    hybrid = _objects(raw, step_id(READ, None, "hybrid"))
    if hybrid:
        name = hybrid[0].get("TlsCertificateName")
        decision.guards[guard_id("hybrid_configuration", "Hybrid Configuration")] = {
            "cmdlet": "Get-HybridConfiguration", "parameters": {}, "properties": ["TlsCertificateName"],
            "guard": {"TlsCertificateName": name}}
        if names_certificate(name, issuer, subject):
            kept.append(f"the hybrid configuration still names it ({name}); rename it first")
    decision.guards[guard_id("certificate", thumbprint)] = {
        "cmdlet": "Get-ExchangeCertificate", "parameters": {"Server": server, "Thumbprint": thumbprint},
        "properties": ["Thumbprint", "Services"], "guard": {"Thumbprint": thumbprint, "Services": old.get("Services")}}
    return decision


def as_restored(raw: dict, names: List[dict]) -> dict:
    """retire_read_steps' result as it will be once a rollback has put ``names`` back (check mode decides on that).

    ``names``: the rollback's restore entries (object_type, object, before) of connectors and the hybrid configuration.
    """
    wanted = {(n["object_type"], "" if n["object_type"] == "hybrid_configuration" else str(n["object"]).casefold()): n["before"]
              for n in names}
    kinds = {step_id(READ, None, "send"): "send_connector", step_id(READ, None, "receive"): "receive_connector",
             step_id(READ, None, "hybrid"): "hybrid_configuration"}
    steps = []
    for entry in raw.get("steps") or []:
        kind = kinds.get(entry.get("id"))
        if kind and entry.get("objects"):
            objects = []
            for obj in entry["objects"]:
                key = (kind, "" if kind == "hybrid_configuration" else str(obj.get("Identity")).casefold())
                objects.append(dict(obj, TlsCertificateName=wanted[key]) if key in wanted else obj)
            entry = dict(entry, objects=objects)
        steps.append(entry)
    return dict(raw, steps=steps)


def retire_steps(decision: Retirement) -> List[dict]:
    """Every read the decision rested on, guarded by what it found; then the removal and its read-back."""
    steps = [step(sid, g["cmdlet"], g["parameters"], g["properties"], g["guard"]) for sid, g in decision.guards.items()]
    steps.append(step(step_id(SET, STORE, decision.thumbprint), "Remove-ExchangeCertificate",
                      {"Server": decision.server, "Thumbprint": decision.thumbprint, "Confirm": False}))
    steps.append(dict(step(readback_id(STORE, decision.thumbprint), "Get-ExchangeCertificate",
                           {"Server": decision.server, "Thumbprint": decision.thumbprint}, ["Thumbprint"]),
                      continue_on_error=True))
    return steps


def removed(raw: dict, thumbprint: str) -> bool:
    """Whether the read-back after the removal no longer finds the certificate."""
    entry = steps_by_id(raw).get(readback_id(STORE, thumbprint)) or {}
    if entry.get("status") == "ok":
        return not entry.get("objects")
    return "was not found" in str(entry.get("error") or "") or "ObjectNotFound" in str(entry.get("error_id") or "")


# -- rename targets ---------------------------------------------------------------------------------


def targets(facts: dict, thumbprint: str, tls_certificate_name: str, not_after: Optional[str] = None) -> dict:
    """What the rollout renames and retires on one server, from its exchange_tls facts and the renewed certificate.

    Superseded: every other certificate in the store with the renewed one's subject (what a CA renewal keeps),
    not self-signed, and (with ``not_after``, the renewal's) expiring no later than the renewal: a newer certificate
    staged beside it is never superseded by it.
    Renamed: this server's receive connectors, the send connectors it sees and the hybrid configuration whose
    TlsCertificateName names a superseded certificate and not the renewed one.
    """
    renewed = tls_name.split_tls_certificate_name(tls_certificate_name)
    fold = tls_name._fold  # pylint: disable=protected-access
    superseded = [c for c in facts.get("certificates") or []
                  if str(c.get("thumbprint") or "").upper() != thumbprint and c.get("subject")
                  and fold(c["subject"]) == fold(renewed.subject) and not c.get("self_signed")
                  and not _later(c.get("not_after"), not_after)]

    def stale(name: Optional[str]) -> bool:
        return bool(name) and not names_certificate(name, renewed.issuer or "", renewed.subject) and any(
            names_certificate(name, c.get("issuer") or "", c["subject"]) for c in superseded)

    hybrid = facts.get("hybrid_configuration") or {}
    return {
        "superseded": [{"thumbprint": c["thumbprint"], "tls_certificate_name": c.get("tls_certificate_name"),
                        "services": c.get("services"), "not_after": c.get("not_after")} for c in superseded],
        "receive_connectors": sorted(c["identity"] for c in facts.get("receive_connectors") or []
                                     if c.get("enabled", True) and stale(c.get("tls_certificate_name"))),
        "send_connectors": sorted(c["name"] for c in facts.get("send_connectors") or [] if stale(c.get("tls_certificate_name"))),
        "hybrid_configuration": stale(hybrid.get("tls_certificate_name")),
    }


def _later(text: Optional[str], than: Optional[str]) -> bool:
    """Whether the facts timestamp ``text`` is after ``than`` (False when either is unknown)."""
    if not text or not than:
        return False
    try:
        return parse_time(text) > parse_time(than)
    except ValueError:
        return False
