# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""receive_connector_tls's decision: which receive connectors of one server change, to what.

The decision is made from facts (transport_facts.parse_read's shape) and
nothing else, so check mode, a run with registered facts and a run that reads
first decide the same. ``certificate: auto`` takes the name the findings
propose (replacement.choose_replacement through findings.analyze), so what an
audit proposes is exactly what a remediation writes. A connector that is not
drifted is never touched.

Refusals (PlanError) are decided before anything runs. A connector the sweep
(no identity given) cannot fix is ``blocked`` and left alone; the others
still converge.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import findings as findings_mod
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import smtp_enable
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import hybrid, tls_name
# facts_after lives in its own module (the report needs it too); re-exported for existing callers.
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.facts_after import facts_after  # noqa: F401
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.certificate_selection import covers, parse_time, presented_for_name
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import (
    BLOCKED,
    CHANGE,
    Decision,
    Plan,
    PlanError,
    SET,
    UNCHANGED,
    find_named,
    guard_id,
    readback_id,
    renames,
    same_name,
    step,
    step_id,
)
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.findings import EXEMPT
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.replacement import unusable_because

OBJECT_TYPE = "receive_connector"
# Findings whose proposal this module applies, and those that say no proposal exists.
_UNFIXABLE = ("no_replacement_certificate", "ambiguous_replacement_certificate")


class ReceivePlan(Plan):
    """The plan for one server's receive connectors (``server`` is that server)."""


def connector_of(facts: dict, identity: str) -> dict:
    """The receive connector of this server that ``identity`` names (SERVER\\Name or Name, any case)."""
    server = facts["server"]["name"]
    connector = find_named(facts["receive_connectors"], identity)
    if connector is not None:
        return connector
    known = ", ".join(repr(c.get("identity")) for c in facts["receive_connectors"]) or "none"
    raise PlanError(f"identity {identity!r} is not a receive connector of {server}; its receive connectors are: {known}")


def _certificate(facts: dict, thumbprint: str) -> dict:
    for certificate in facts["certificates"]:
        if certificate["thumbprint"] == thumbprint:
            return certificate
    listing = "; ".join(
        f"{c['thumbprint']} ({c.get('subject')}, expires {c.get('not_after')})" for c in facts["certificates"]
    ) or "none"
    raise PlanError(
        f"certificate {thumbprint} is not in the certificate store of {facts['server']['name']}; its certificates are: {listing}"
    )


def _stale_common_name(name: Optional[str]) -> Optional[str]:
    if not name:
        return None
    try:
        return tls_name.common_name(tls_name.split_tls_certificate_name(name).subject)
    except tls_name.TlsCertificateNameError:
        return None


class _Planner:
    def __init__(self, facts: dict, enable_smtp: bool, expiring_days: int, named: Optional[List[dict]] = None):
        self.facts = facts
        self.server = facts["server"]["name"]
        self.now = parse_time(facts["collected_at"])
        self.enable_smtp = enable_smtp
        # Findings skip disabled connectors; one named explicitly is converged as if it were enabled.
        wanted = {id(c) for c in named or [] if not c.get("enabled", True)}
        analysed = dict(facts, receive_connectors=[
            dict(c, enabled=True) if id(c) in wanted else c for c in facts["receive_connectors"]])
        self.findings = findings_mod.analyze(analysed, expiring_days=expiring_days)
        self.plan = ReceivePlan(self.server, domain_controller=facts.get("domain_controller"))
        self._smtp: Dict[str, smtp_enable.SmtpEnable] = {}
        self.hybrid_exempt = hybrid.edge_hybrid_exempt(facts)

    def is_hybrid(self, connector: dict) -> bool:
        """A hybrid connector needs a third-party certificate and is not held to its FQDN (hybrid.py)."""
        return bool(connector["hybrid"]) and not self.hybrid_exempt

    def findings_of(self, connector: dict) -> List[dict]:
        return [f for f in self.findings if f["object_type"] == OBJECT_TYPE and f["object"] == connector["identity"]]

    def smtp_for(self, connector: dict, certificate: dict) -> Optional[str]:
        """Plan SMTP on ``certificate`` when it lacks it; the reason it cannot be, or None."""
        missing = smtp_enable.needs_smtp(certificate)
        if missing is False:
            return None
        if missing is None:
            if self.enable_smtp:
                return (f"Exchange did not return the services of {certificate['thumbprint']}, so whether SMTP must be"
                        " enabled is unknown. Exchange sends them to a session that asks for serializationLevel=Full"
                        " (as this collection's does; a connection_uri must carry it) when it can sign the serialization"
                        " data: renew the Auth certificate if it has expired or is missing. Or set enable_smtp=false"
                        " if you know SMTP is enabled on it")
            self.plan.warnings.append(
                f"the services of {certificate['thumbprint']} are unknown; {connector['identity']} was set on the"
                " assumption that SMTP is enabled on it (enable_smtp=false)")
            return None
        if not self.enable_smtp:
            return (f"certificate {certificate['thumbprint']} is not enabled for SMTP, and with enable_smtp=false it"
                    " cannot be: transport would select it and the TLS handshake would fail. Set enable_smtp=true")
        try:
            item = smtp_enable.plan(self.facts, certificate)
        except PlanError as exc:
            return str(exc)
        self._smtp.setdefault(item.key, item)
        return None

    def decide(self, connector: dict, state: str, thumbprint: Optional[str], explicit: bool) -> Decision:
        identity, current = connector["identity"], connector.get("tls_certificate_name")
        if state == "absent":
            if current is None:
                return Decision(OBJECT_TYPE, identity, UNCHANGED, current, None, "TlsCertificateName is already null")
            return Decision(OBJECT_TYPE, identity, CHANGE, current, None,
                            "state=absent clears TlsCertificateName (KB2989382); rerun the Hybrid Configuration Wizard after")
        if not explicit and not connector.get("enabled", True):
            return Decision(OBJECT_TYPE, identity, UNCHANGED, current, current, "the connector is disabled")
        if thumbprint is None:
            return self.decide_auto(connector, explicit)
        if explicit:
            return self.decide_thumbprint(connector, thumbprint)
        # A sweep with a thumbprint: the given certificate instead of the policy's choice, for drifted connectors only.
        if not self.drifted(connector):
            return Decision(OBJECT_TYPE, identity, UNCHANGED, current, current, "not drifted")
        try:
            return self.decide_thumbprint(connector, thumbprint)
        except PlanError as exc:
            return Decision(OBJECT_TYPE, identity, BLOCKED, current, None, str(exc))

    def drifted(self, connector: dict) -> bool:
        return any(f.get("expected") or f["code"] in _UNFIXABLE for f in self.findings_of(connector))

    def decide_thumbprint(self, connector: dict, thumbprint: str) -> Decision:
        identity, current = connector["identity"], connector.get("tls_certificate_name")
        certificate = _certificate(self.facts, thumbprint)
        public = self.is_hybrid(connector)
        why = unusable_because(certificate, self.now, public_only=public)
        if why:
            raise PlanError(f"certificate {thumbprint} cannot be named by {identity}: {why}")
        presented = presented_for_name(certificate["tls_certificate_name"], self.facts["certificates"]) or certificate
        why = unusable_because(presented, self.now, public_only=public)
        if why:
            raise PlanError(
                f"certificate {thumbprint} cannot be named by {identity}: a name cannot choose between certificates with"
                f" the same issuer and subject, and transport would present the newer {presented['thumbprint']}, which"
                f" cannot be used: {why}"
            )
        # The names senders reach this connector by: its FQDN, and the host name of the certificate it named
        # so far (a Default Frontend connector often announces the server's FQDN while mail arrives for mail.*).
        # A hybrid connector's FQDN is not what Microsoft 365 checks (it checks its own connector's domain).
        fqdn = None if public else connector.get("fqdn") or self.facts["server"].get("fqdn")
        known = list(dict.fromkeys(n.lower() for n in (fqdn, _stale_common_name(current)) if n))
        if known and not any(covers(certificate, n) for n in known):
            names = ", ".join(certificate.get("domains") or []) or certificate.get("subject")
            what = ("the host name of the certificate it named" if public else
                    f"{identity}'s FQDN{' and the host name of the certificate it named' if len(known) > 1 else ''}")
            raise PlanError(
                f"certificate {thumbprint} covers neither {' nor '.join(known)} ({what}); its names are {names}."
                " Senders that check the name would refuse it. Choose a certificate for that name"
            )
        return self.named(connector, certificate, current, "the certificate given by thumbprint")

    def named(self, connector: dict, certificate: dict, current: Optional[str], basis: str, keep_name: bool = False) -> Decision:
        identity = connector["identity"]
        # keep_name: only SMTP is missing on the certificate transport already selects; a connector that selects
        # by FQDN keeps doing so (a pinned name would go stale at the next renewal).
        name = current if keep_name else certificate["tls_certificate_name"]
        if not keep_name:
            # What transport will present for the name: the newest with its issuer and subject. SMTP goes there.
            certificate = presented_for_name(name, self.facts["certificates"]) or certificate
        too_long = tls_name.edge_length_problem(name) if self.facts["server"].get("role") == "Edge" else None
        if too_long and not same_name(current, name):
            return Decision(OBJECT_TYPE, identity, BLOCKED, current, name, f"{identity} is on an Edge server and {too_long}",
                            certificate)
        problem = self.smtp_for(connector, certificate)
        if problem:
            return Decision(OBJECT_TYPE, identity, BLOCKED, current, name, problem, certificate)
        key = f"{self.server}\\{certificate['thumbprint']}"
        smtp = [key] if key in self._smtp else []
        if same_name(current, name) and not smtp:
            return Decision(OBJECT_TYPE, identity, UNCHANGED, current, name, "it already names this certificate", certificate)
        reason = f"{basis}: {certificate['thumbprint']}" + (" (SMTP enabled first)" if smtp else "")
        return Decision(OBJECT_TYPE, identity, CHANGE, current, name, reason, certificate, smtp)

    def decide_auto(self, connector: dict, explicit: bool) -> Decision:
        identity, current = connector["identity"], connector.get("tls_certificate_name")
        found = self.findings_of(connector)
        unfixable = [f for f in found if f["code"] in _UNFIXABLE]
        if unfixable:
            return Decision(OBJECT_TYPE, identity, BLOCKED, current, None, unfixable[0]["message"],
                            details={"finding": unfixable[0]["code"]})
        proposal = next((f for f in found if f.get("expected") and f.get("certificates")), None)
        if proposal is None:
            codes = sorted({f["code"] for f in found})
            reason = "no finding" if not codes else f"nothing this module can change fixes {', '.join(codes)}"
            return Decision(OBJECT_TYPE, identity, UNCHANGED, current, current, reason)
        certificate = _certificate(self.facts, proposal["certificates"][0])
        return self.named(connector, certificate, current, f"the replacement policy ({proposal['code']})",
                          keep_name=proposal["code"] == "tls_certificate_smtp_not_enabled")


def plan(facts: dict, identities: Optional[List[str]] = None, certificate: Optional[str] = None,
         state: str = "present", enable_smtp: bool = True, expiring_days: int = 30,
         certificates: Optional[Dict[str, str]] = None, exempt: Optional[Dict[str, str]] = None) -> ReceivePlan:
    """Decide for the receive connectors of the server in ``facts``.

    ``identities`` None means every enabled connector, of which only drifted
    ones change (with a thumbprint: drifted ones get that certificate instead
    of the policy's choice); ``certificate`` None means auto, else a
    normalised thumbprint. Raises
    PlanError for a refusal; with explicit identities a blocked connector is a
    refusal too, so nothing changes.

    ``certificates`` (identity in lower case -> thumbprint) names the certificate for single connectors instead
    of ``certificate``: in a sweep, only where the connector needs a fix. ``exempt`` (identity in lower case ->
    reason): those connectors are decided ``exempt`` and never changed. Keys of other servers are ignored here; a
    key with this server's prefix that names no connector of it is refused.
    """
    certificates, exempt = certificates or {}, exempt or {}
    server = facts["server"]["name"].lower()
    here = {c["identity"].lower() for c in facts["receive_connectors"]}
    strays = [k for k in certificates if k.split("\\", 1)[0] == server and k not in here]
    if strays:
        known = ", ".join(f"'{c.get('identity')}'" for c in facts["receive_connectors"]) or "none"
        named = ", ".join("'" + k + "'" for k in strays)
        raise PlanError(f"certificates (connector_tls_certificates in the role) names {named}, which is"
                        f" not a receive connector of {facts['server']['name']}; its receive connectors are: {known}")
    if state not in ("present", "absent"):
        raise PlanError(f"state must be 'present' or 'absent', got {state!r}")
    if state == "absent" and certificate is not None:
        raise PlanError("certificate cannot be combined with state=absent, which clears TlsCertificateName")
    if state == "absent" and not identities:
        raise PlanError("state=absent needs identity: clearing the name of every connector is never what a sweep should do")
    explicit = bool(identities)
    connectors = [connector_of(facts, i) for i in identities] if explicit else list(facts["receive_connectors"])
    planner = _Planner(facts, enable_smtp, expiring_days, named=connectors if explicit else None)
    if certificate is not None:
        _certificate(facts, certificate)  # not in the store: refused whatever the connectors
    seen = set()
    for connector in connectors:
        if connector["identity"] in seen:
            continue
        seen.add(connector["identity"])
        reason = exempt.get(connector["identity"].strip().lower())
        if reason is not None:
            current = connector.get("tls_certificate_name")
            planner.plan.decisions.append(Decision(OBJECT_TYPE, connector["identity"], EXEMPT, current, current, f"exempt: {reason}"))
            continue
        pinned = certificates.get(connector["identity"].strip().lower())
        try:
            decision = planner.decide(connector, state, pinned or certificate, explicit)
        except PlanError as exc:
            if pinned is None:
                raise
            raise PlanError(f"{exc} (the certificate given for {connector['identity']} in certificates,"
                            " connector_tls_certificates in the role)") from None
        if pinned is not None and decision.status == BLOCKED:
            decision.reason += f" (the certificate given for it in certificates, connector_tls_certificates in the role: {pinned})"
        if explicit and decision.status == BLOCKED:
            raise PlanError(f"{decision.object} cannot be converged: {decision.reason}")
        planner.plan.decisions.append(decision)
    wanted = {t for d in planner.plan.decisions if d.status == CHANGE for t in d.smtp}
    planner.plan.smtp = [item for key, item in planner._smtp.items() if key in wanted]
    return planner.plan


def write_steps(plan_: ReceivePlan) -> List[dict]:
    """Guards for every object first, then every write, then read-backs: one launch."""
    steps = smtp_enable.verify_steps(plan_.smtp)
    changing = renames(plan_.decisions)
    for thumbprint in dict.fromkeys(d.certificate["thumbprint"] for d in changing if d.certificate):
        steps.append(step(guard_id("certificate", thumbprint), "Get-ExchangeCertificate",
                          {"Server": plan_.server, "Thumbprint": thumbprint}, ["Thumbprint"], {"Thumbprint": thumbprint}))
    for d in changing:
        steps.append(step(guard_id(OBJECT_TYPE, d.object), "Get-ReceiveConnector", {"Identity": d.object},
                          ["Identity", "TlsCertificateName"], {"TlsCertificateName": d.current}))
    for d in changing:
        steps.append(step(step_id(SET, OBJECT_TYPE, d.object), "Set-ReceiveConnector",
                          {"Identity": d.object, "TlsCertificateName": d.expected}))
    for d in changing:
        steps.append(step(readback_id(OBJECT_TYPE, d.object), "Get-ReceiveConnector", {"Identity": d.object},
                          ["Identity", "TlsCertificateName"]))
    return steps


__all__ = ["ReceivePlan", "connector_of", "facts_after", "plan", "write_steps"]
