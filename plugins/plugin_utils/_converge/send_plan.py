# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""send_connector_tls's decision: one name for each send connector that every source server holds.

A send connector is one organisation object with one TlsCertificateName, and
each of its source servers resolves that name against its own store (454
4.7.5 when it cannot). So the decision needs the facts of every source
server at once; the action plugin collects them from hostvars and this
module decides from them alone:

* a source server without facts blocks the plan (unless ignored): changing
  the name without knowing its store could stop it sending;
* the new name must be usable on every source server: private key, valid
  now, a usable status, not self-signed for a cloud connector, and SMTP
  enabled (or enabled by this run, keeping the default, on Mailbox servers;
  an Edge server's certificate can only be enabled on the Edge itself);
* the preferred name is the one the replacement policy picks on the source
  servers, which is what receive_connector_tls picks for their receive side.

The write runs on a Mailbox server (Set-SendConnector is disabled on a
subscribed Edge); SMTP on another Mailbox server is enabled through
Enable-ExchangeCertificate -Server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import findings as findings_mod
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import hybrid as hybrid_mod
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import smtp_enable
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import tls_name
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.certificate_selection import (
    covers,
    matching_certificates,
    parse_time,
    selection_order,
)
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
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.replacement import (
    FOUND,
    choose_replacement,
    unusable_because,
)
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.fact_values import same_server

OBJECT_TYPE = "send_connector"
HYBRID = "hybrid_configuration"
HYBRID_OBJECT = "Hybrid Configuration"


@dataclass
class SendPlan(Plan):
    """The plan for the organisation's send connectors and hybrid configuration (``server`` is None)."""

    runner: str = ""                 # the Mailbox server the batch runs on


@dataclass
class _Holding:
    """What one source server holds for one name."""

    server: str
    role: str
    certificate: Optional[dict] = None   # the certificate transport would use for the name
    problem: Optional[str] = None        # why it cannot send with the name
    needs_smtp: bool = False
    services_unknown: bool = False
    smtp_by_run: bool = False            # SMTP is missing, and this run enables it there before the send write

    @property
    def usable(self) -> bool:
        return self.problem is None and not self.needs_smtp

    def as_dict(self) -> dict:
        return {
            "role": self.role,
            "thumbprint": self.certificate["thumbprint"] if self.certificate else None,
            "status": "missing" if self.problem else ("smtp_to_enable" if self.needs_smtp else (
                "smtp_enabled_by_run" if self.smtp_by_run else ("services_unknown" if self.services_unknown else "ok"))),
            "reason": self.problem,
        }


def _holding(facts: dict, name: str, public_only: bool, enable_smtp: bool,
             enabled_by_run: Optional[Dict[str, object]] = None) -> _Holding:
    """What the server of ``facts`` holds for ``name``.

    ``enabled_by_run`` (planned_smtp_enables()): SERVER\\THUMBPRINT -> True for the SMTP enables this run's
    per-server plans make before the send connectors are written; SERVER -> why that server's plan failed.
    """
    server, role = facts["server"]["name"], facts["server"].get("role") or "Mailbox"
    now = parse_time(facts["collected_at"])
    matches = [c for c in matching_certificates(name, facts["certificates"]) if c.get("has_private_key") is not False]
    if not matches:
        have = matching_certificates(name, facts["certificates"])
        why = "its certificates with this name have no private key" if have else "it holds no certificate with this issuer and subject"
        return _Holding(server, role, problem=why)
    certificate = sorted(matches, key=selection_order)[0]
    if role == "Edge" and tls_name.edge_length_problem(name):
        return _Holding(server, role, certificate, tls_name.edge_length_problem(name))
    why = unusable_because(certificate, now, public_only)
    if why:
        return _Holding(server, role, certificate, f"{certificate['thumbprint']}: {why}")
    missing = smtp_enable.needs_smtp(certificate)
    if missing is None:
        return _Holding(server, role, certificate, services_unknown=True)
    if not missing:
        return _Holding(server, role, certificate)
    planned = enabled_by_run or {}
    if planned.get(f"{server}\\{certificate['thumbprint']}".upper()) is True:
        # The receive side of this server enables it first (the role's remediation runs receive_connector_tls on
        # every server before send_connector_tls), so the real run will find it enabled: plan the write now.
        return _Holding(server, role, certificate, smtp_by_run=True)
    if not enable_smtp:
        return _Holding(server, role, certificate, f"{certificate['thumbprint']} is not enabled for SMTP (enable_smtp=false)")
    if role == "Edge":
        return _Holding(server, role, certificate,
                        f"{certificate['thumbprint']} is not enabled for SMTP, and on an Edge server only a run on the"
                        " Edge itself can enable it: run receive_connector_tls there, or Enable-ExchangeCertificate"
                        " keeping the default, then gather facts again"
                        + (f" ({server}'s own plan in this run cannot enable it: {planned[server.upper()]})"
                           if isinstance(planned.get(server.upper()), str) else ""))
    try:
        smtp_enable.plan(facts, certificate)
    except PlanError as exc:
        return _Holding(server, role, certificate, str(exc))
    return _Holding(server, role, certificate, needs_smtp=True)


def _renews(renewal: Optional[dict], current: dict, fqdn: Optional[str]) -> bool:
    """A renewal outlives what it replaces and covers the connector FQDN it covered (ISO 8601 UTC sorts by time)."""
    if renewal is None or renewal["not_after"] <= current["not_after"]:
        return False
    return not (fqdn and covers(current, fqdn) and not covers(renewal, fqdn))


class _Planner:
    def __init__(self, fleet: Dict[str, dict], runner: str, enable_smtp: bool, ignore: List[str], expiring_days: int,
                 enabled_by_run: Optional[Dict[str, object]] = None):
        self.fleet = fleet
        self.enabled_by_run = enabled_by_run or {}
        self.runner = runner
        self.enable_smtp = enable_smtp
        self.expiring_days = expiring_days
        # By name or FQDN: a source is ignored when its name or its first label matches either.
        self.ignore = {i.strip().lower() for i in ignore} | {i.strip().lower().split(".")[0] for i in ignore}
        runner_facts = fleet.get(runner)
        if runner_facts is None:
            raise PlanError(
                f"{runner}, where this task runs, has no exchange_tls facts: run exchange.transport_tls."
                "exchange_certificate_facts on every Exchange server of the play first"
            )
        if runner_facts["server"].get("role") == "Edge":
            mailbox = sorted(h for h, f in fleet.items() if f["server"].get("role") != "Edge")
            raise PlanError(
                f"{runner} is an Edge Transport server, where Set-SendConnector is disabled (EdgeSync); run this task"
                f" once on a Mailbox server: run_once: true with delegate_to: one of"
                f" {', '.join(mailbox) or '(no Mailbox server has facts in this play)'}"
            )
        self.runner_facts = runner_facts
        self.plan = SendPlan(None, runner=runner_facts["server"]["name"], domain_controller=runner_facts.get("domain_controller"))
        self._smtp: Dict[str, smtp_enable.SmtpEnable] = {}

    def source_facts(self, connector: dict):
        found, missing, ignored = [], [], []
        for source in connector["source_transport_servers"]:
            if source.strip().lower() in self.ignore or source.split(".")[0].strip().lower() in self.ignore:
                ignored.append(source)
                continue
            facts = next((f for f in self.fleet.values() if same_server(source, f["server"]["name"], f["server"].get("fqdn"))), None)
            if facts is not None:
                found.append(facts)
            else:
                missing.append(source)
        return found, missing, ignored

    def holdings(self, sources: List[dict], name: str, public_only: bool) -> List[_Holding]:
        return [_holding(f, name, public_only, self.enable_smtp, self.enabled_by_run) for f in sources]

    def candidates(self, sources: List[dict], connector: dict, certificate: Optional[str]) -> List[str]:
        if certificate is not None:
            for facts in [self.runner_facts] + sources:
                for c in facts["certificates"]:
                    if c["thumbprint"] == certificate:
                        return [c["tls_certificate_name"]]
            raise PlanError(f"certificate {certificate} is in the store of none of the source servers with facts nor of {self.plan.runner}")
        names: List[str] = []
        cloud = connector["cloud"]
        for facts in sources:
            # A connector to Microsoft 365 also follows the hybrid identity when its name and FQDN find nothing (hybrid.py).
            choice = choose_replacement(facts["certificates"], parse_time(facts["collected_at"]),
                                        stale_name=connector.get("tls_certificate_name"),
                                        fqdn=connector.get("fqdn"), public_only=cloud,
                                        hints=hybrid_mod.identity_names(facts) if cloud else None)
            if choice.status == FOUND and not any(same_name(choice.name, n) for n in names):
                names.append(choice.name)
        return names

    def decide(self, connector: dict, certificate: Optional[str], explicit: bool) -> Decision:
        name, current = connector["name"], connector.get("tls_certificate_name")
        if not explicit and not connector.get("enabled", True):
            return Decision(OBJECT_TYPE, name, UNCHANGED, current, current, "the connector is disabled")
        sources, missing, ignored = self.source_facts(connector)
        details = {"source_servers": {}, "ignored_source_servers": ignored}
        if missing:
            return Decision(OBJECT_TYPE, name, BLOCKED, current, None,
                            f"no facts for source server(s) {', '.join(missing)}: gather exchange_certificate_facts on them"
                            " in this play (in the role: include them in the play, connector_tls_target); if they no longer"
                            " send, list them in ignore_source_servers (connector_tls_ignore_source_servers in the role);"
                            " or exempt the connector with a reason (connector_tls_exempt)", details=details)
        if not sources:
            return Decision(OBJECT_TYPE, name, UNCHANGED, current, current, "no source server to check", details=details)
        self.check_edge_copies(sources, connector, details)
        healthy = False
        if current:
            held = self.holdings(sources, current, connector["cloud"])
            details["source_servers"] = {h.server: h.as_dict() for h in held}
            healthy = all(h.usable for h in held)
            expiring = any(h.certificate and h.certificate.get("days_remaining") is not None
                           and h.certificate["days_remaining"] < self.expiring_days for h in held)
            # Without identity a thumbprint, like auto, only replaces names that are broken or expiring.
            if healthy and not expiring and not (certificate is not None and explicit):
                return Decision(OBJECT_TYPE, name, UNCHANGED, current, current, "every source server holds it", details=details)
        elif (certificate is None or not explicit) and not (connector["cloud"] and not connector.get("fqdn")):
            # A connector to Microsoft 365 with neither name nor FQDN presents the server's own FQDN's
            # certificate (HealthChecker: misconfigured): it gets the hybrid certificate's name, as HCW would give it.
            return Decision(OBJECT_TYPE, name, UNCHANGED, current, current,
                            "no TlsCertificateName: the connector uses its FQDN; name a certificate with certificate and"
                            " identity to pin one", details=details)
        candidates = self.candidates(sources, connector, certificate)
        renewing = healthy and certificate is None
        if renewing:
            # Only here because it expires soon: the current name is not its own renewal.
            candidates = [c for c in candidates if not same_name(c, current)]
            replaced = {h.server: h.certificate for h in held}
        for candidate in candidates:
            held = self.holdings(sources, candidate, connector["cloud"])
            if all(h.problem is None for h in held) and (not renewing or all(
                    _renews(h.certificate, replaced[h.server], connector.get("fqdn")) for h in held)):
                return self.change(connector, held, candidate, details)
        if healthy and certificate is None:
            return Decision(OBJECT_TYPE, name, UNCHANGED, current, current,
                            f"its certificate expires within {self.expiring_days} days on some source server, and no"
                            " renewal is held by every source server yet", details=details)
        if not candidates:
            return Decision(OBJECT_TYPE, name, BLOCKED, current, None,
                            "no source server holds a usable replacement for the current name", details=details)
        held = self.holdings(sources, candidates[0], connector["cloud"])
        details["source_servers"] = {h.server: h.as_dict() for h in held}
        lacking = "; ".join(f"{h.server}: {h.problem}" for h in held if h.problem)
        capped = tls_name.edge_length_problem(candidates[0]) and all(h.role == "Edge" for h in held if h.problem)
        advice = (" Then gather facts again and rerun" if capped else " Install the certificate with its private key there"
                  " (or enable SMTP on it), gather facts again, and rerun")
        return Decision(OBJECT_TYPE, name, BLOCKED, current, candidates[0],
                        f"not every source server can use {candidates[0]}: {lacking}.{advice}", details=details)

    def check_edge_copies(self, sources: List[dict], connector: dict, details: dict) -> None:
        """Each Edge source server's own copy (EdgeSync replicates the connector there) against the organisation's.

        A run cannot wait for EdgeSync (minutes), so a change is verified on the Edge by the next run's facts:
        the copy an Edge read for itself is compared here, and a difference is reported.
        """
        current, copies = connector.get("tls_certificate_name"), {}
        for facts in sources:
            if facts["server"].get("role") != "Edge":
                continue
            own = find_named(facts.get("send_connectors") or [], connector["name"])
            copies[facts["server"]["name"]] = own.get("tls_certificate_name") if own else None
            if own is None or same_name(copies[facts["server"]["name"]], current):
                continue
            edge = facts["server"]["name"]
            why = tls_name.edge_length_problem(current)
            self.plan.warnings.append(
                f"{edge}'s own copy of send connector {connector['name']} names {copies[edge]!r}, not the"
                f" organisation's {current!r}: EdgeSync has not copied the change to {edge}, which sends with the old"
                " name. " + (f"It cannot: {why}." if why else "Run Start-EdgeSynchronization on a Mailbox server,"
                                                              " check Test-EdgeSynchronization, then gather facts again."))
        if copies:
            details["edge_copies"] = copies

    def change(self, connector: dict, held: List[_Holding], candidate: str, details: dict) -> Decision:
        name, current = connector["name"], connector.get("tls_certificate_name")
        details["source_servers"] = {h.server: h.as_dict() for h in held}
        unknown = [h for h in held if h.services_unknown]
        if unknown and self.enable_smtp:
            listing = ", ".join(f"{h.certificate['thumbprint']} on {h.server}" for h in unknown)
            return Decision(OBJECT_TYPE, name, BLOCKED, current, candidate,
                            f"Exchange did not return the services of {listing}, so whether SMTP must be enabled is"
                            " unknown. Exchange sends them to a session that asks for serializationLevel=Full (as this"
                            " collection's does; a connection_uri must carry it) when it can sign the serialization data:"
                            " renew the Auth certificate if it has expired or is missing. Or set enable_smtp=false"
                            " if you know SMTP is enabled", details=details)
        for h in unknown:
            self.plan.warnings.append(f"the services of {h.certificate['thumbprint']} on {h.server} are unknown; {name}"
                                      " was planned on the assumption that SMTP is enabled on it (enable_smtp=false)")
        smtp = []
        for h in held:
            if h.needs_smtp:
                facts = next(f for f in self.fleet.values() if f["server"]["name"] == h.server)
                item = smtp_enable.plan(facts, h.certificate)
                self._smtp.setdefault(item.key, item)
                smtp.append(item.key)
        if same_name(current, candidate) and not smtp:
            return Decision(OBJECT_TYPE, name, UNCHANGED, current, candidate, "every source server holds it", details=details)
        later = [h.server for h in held if h.smtp_by_run]
        return Decision(OBJECT_TYPE, name, CHANGE, current, candidate,
                        "every source server holds it" + (" (SMTP enabled first)" if smtp else "")
                        + (f", after SMTP is enabled on {', '.join(later)} by this run" if later else ""),
                        smtp=smtp, details=details)

    def hybrid(self, decisions: List[Decision]) -> Optional[Decision]:
        configuration = self.runner_facts.get("hybrid_configuration")
        if not configuration:
            return None
        current = configuration.get("tls_certificate_name")
        cloud = {d.object for d in decisions}
        names = []
        for connector in self.runner_facts["send_connectors"]:
            if connector["cloud"] and connector["name"] in cloud:
                decision = next(d for d in decisions if d.object == connector["name"])
                if decision.status == BLOCKED:
                    return Decision(HYBRID, HYBRID_OBJECT, BLOCKED, current, None,
                                    f"the connector to Microsoft 365 {connector['name']} is blocked")
                if decision.expected and not any(same_name(decision.expected, n) for n in names):
                    names.append(decision.expected)
        if not names and not any(c["cloud"] for c in self.runner_facts["send_connectors"]):
            return self.hybrid_from_receive(current)
        if len(names) != 1:
            why = "no connector to Microsoft 365 in scope" if not names else "the connectors to Microsoft 365 name different certificates"
            return Decision(HYBRID, HYBRID_OBJECT, UNCHANGED, current, current, why)
        if same_name(current, names[0]):
            return Decision(HYBRID, HYBRID_OBJECT, UNCHANGED, current, names[0], "it names the connector's certificate")
        return Decision(HYBRID, HYBRID_OBJECT, CHANGE, current, names[0],
                        "the same name as the connector to Microsoft 365, so the next Hybrid Configuration Wizard run starts from it")

    def hybrid_from_receive(self, current: Optional[str]) -> Decision:
        """No send connector to Microsoft 365 (mail leaves through a gateway, or the organisation only receives):
        the hybrid configuration follows the hybrid receive connectors, as receive_connector_tls converges them."""
        names: List[str] = []
        blocked = []
        for facts in sorted(self.fleet.values(), key=lambda f: f["server"]["name"]):
            if hybrid_mod.edge_hybrid_exempt(facts):
                continue
            found = findings_mod.analyze(facts, expiring_days=self.expiring_days)
            for rc in facts["receive_connectors"]:
                if not rc.get("hybrid") or not rc.get("enabled", True):
                    continue
                mine = [f for f in found if f["object_type"] == "receive_connector" and f["object"] == rc["identity"]]
                if any(f["code"] in ("no_replacement_certificate", "ambiguous_replacement_certificate") for f in mine):
                    blocked.append(rc["identity"])
                    continue
                wanted = next((f["expected"] for f in mine if f.get("expected") and f.get("certificates")),
                              rc.get("tls_certificate_name"))
                if wanted and not any(same_name(wanted, n) for n in names):
                    names.append(wanted)
        if blocked:
            return Decision(HYBRID, HYBRID_OBJECT, BLOCKED, current, None,
                            f"there is no connector to Microsoft 365, and the hybrid receive connector(s) {', '.join(blocked)}"
                            " that the hybrid configuration follows cannot be converged")
        if len(names) != 1:
            why = ("no connector to Microsoft 365 and no hybrid receive connector names a certificate" if not names else
                   "there is no connector to Microsoft 365, and the hybrid receive connectors name different certificates: "
                   + "; ".join(names))
            return Decision(HYBRID, HYBRID_OBJECT, UNCHANGED, current, current, why)
        if same_name(current, names[0]):
            return Decision(HYBRID, HYBRID_OBJECT, UNCHANGED, current, names[0], "it names the hybrid receive connectors' certificate")
        return Decision(HYBRID, HYBRID_OBJECT, CHANGE, current, names[0],
                        "there is no connector to Microsoft 365: the same name as the hybrid receive connectors, so the"
                        " next Hybrid Configuration Wizard run starts from it")


def connector_named(connectors: List[dict], identity: str) -> dict:
    connector = find_named(connectors, identity)
    if connector is not None:
        return connector
    known = ", ".join(repr(c["name"]) for c in connectors) or "none"
    raise PlanError(f"identity {identity!r} is not a send connector of the organisation; its send connectors are: {known}")


def plan(fleet: Dict[str, dict], runner: str, identities: Optional[List[str]] = None, certificate: Optional[str] = None,
         enable_smtp: bool = True, ignore_source_servers: Optional[List[str]] = None,
         update_hybrid_configuration: bool = False, expiring_days: int = 30,
         enabled_by_run: Optional[Dict[str, object]] = None, certificates: Optional[Dict[str, str]] = None,
         exempt: Optional[Dict[str, str]] = None) -> SendPlan:
    """Decide for the organisation's send connectors from the facts of every host (inventory name -> facts).

    ``enabled_by_run`` (from planned_smtp_enables()): the SMTP enables the same run makes on other servers before
    the send connectors are written. A connector whose only obstacle is SMTP missing there is planned as a change,
    so the check-mode plan and the planned changes.json show every write the run makes.

    ``certificates`` (name in lower case -> thumbprint) names the certificate of single connectors instead of
    ``certificate`` (in a sweep only where the current name needs replacing); ``exempt`` (name in lower case, or
    "hybrid configuration" -> reason) leaves those objects alone, decided ``exempt``.
    """
    certificates, exempt = certificates or {}, exempt or {}
    planner = _Planner(fleet, runner, enable_smtp, ignore_source_servers or [], expiring_days, enabled_by_run)
    connectors = planner.runner_facts["send_connectors"]
    explicit = bool(identities)
    chosen = [connector_named(connectors, i) for i in identities] if explicit else list(connectors)
    seen = set()
    for connector in chosen:
        if connector["name"] in seen:
            continue
        seen.add(connector["name"])
        reason = exempt.get(connector["name"].strip().lower())
        if reason is not None:
            current = connector.get("tls_certificate_name")
            planner.plan.decisions.append(Decision(OBJECT_TYPE, connector["name"], EXEMPT, current, current, f"exempt: {reason}"))
            continue
        pinned = certificates.get(connector["name"].strip().lower())
        try:
            decision = planner.decide(connector, pinned or certificate, explicit)
        except PlanError as exc:
            if pinned is None or explicit:
                raise
            # In a sweep a pinned certificate that cannot be named blocks its connector only.
            current = connector.get("tls_certificate_name")
            decision = Decision(OBJECT_TYPE, connector["name"], BLOCKED, current, None, str(exc))
        if pinned is not None and decision.status == BLOCKED:
            decision.reason += (f" (the certificate given for it in certificates, connector_tls_certificates in the role:"
                                f" {pinned})")
        if explicit and decision.status == BLOCKED:
            raise PlanError(f"send connector {decision.object} cannot be converged: {decision.reason}")
        planner.plan.decisions.append(decision)
    if update_hybrid_configuration and HYBRID_OBJECT.lower() in exempt and planner.runner_facts.get("hybrid_configuration"):
        current = planner.runner_facts["hybrid_configuration"].get("tls_certificate_name")
        planner.plan.decisions.append(Decision(HYBRID, HYBRID_OBJECT, EXEMPT, current, current,
                                               f"exempt: {exempt[HYBRID_OBJECT.lower()]}"))
    elif update_hybrid_configuration:
        decision = planner.hybrid(planner.plan.decisions)
        if decision is not None:
            planner.plan.decisions.append(decision)
    wanted = {key for d in planner.plan.decisions if d.status == CHANGE for key in d.smtp}
    planner.plan.smtp = [item for item in planner._smtp.values() if item.key in wanted]
    return planner.plan


def planned_smtp_enables(receive_plans: List[dict]) -> Dict[str, object]:
    """SERVER\\THUMBPRINT (upper case) -> True for each SMTP enable the per-server plans make, from registered
    check-mode receive_connector_tls results; a server whose plan failed maps its certificates' keys to nothing,
    but the server itself (SERVER, upper case) to the failure, so a blocked send connector says why.

    A skipped result (no facts on that host) contributes nothing: nothing will be enabled there.
    """
    enabled: Dict[str, object] = {}
    for result in receive_plans or []:
        if not isinstance(result, dict) or result.get("skipped"):
            continue
        for change in result.get("changes") or []:
            if change.get("object_type") == "certificate" and change.get("property") == "Services" and change.get("server"):
                if "SMTP" in (change.get("after") or []):
                    enabled[f"{change['server']}\\{change['object']}".upper()] = True
        if result.get("failed") or result.get("unreachable"):
            servers = {str(p.get("object", "")).split("\\", 1)[0] for p in result.get("plans") or [] if "\\" in str(p.get("object", ""))}
            for server in servers:
                enabled.setdefault(server.upper(), str(result.get("msg") or "its plan failed").strip())
    return enabled


def write_steps(plan_: SendPlan, fleet: Dict[str, dict]) -> List[dict]:
    """Guards for every object first, then every write, then read-backs: one launch on the runner."""
    steps = smtp_enable.verify_steps(plan_.smtp)
    changing = renames(plan_.decisions)
    guarded = set()
    for d in changing:
        for server, holding in (d.details.get("source_servers") or {}).items():
            key = (server, holding["thumbprint"])
            # An Edge server's store cannot be read from a Mailbox server's session; its facts were checked.
            if holding["thumbprint"] and holding.get("role") != "Edge" and key not in guarded:
                guarded.add(key)
                steps.append(step(guard_id("certificate", f"{server}\\{holding['thumbprint']}"), "Get-ExchangeCertificate",
                                  {"Server": server, "Thumbprint": holding["thumbprint"]}, ["Thumbprint"],
                                  {"Thumbprint": holding["thumbprint"]}))
    for d in changing:
        if d.object_type == OBJECT_TYPE:
            steps.append(step(guard_id(OBJECT_TYPE, d.object), "Get-SendConnector", {"Identity": d.object},
                              ["Identity", "TlsCertificateName"], {"TlsCertificateName": d.current}))
        else:
            steps.append(step(guard_id(HYBRID, d.object), "Get-HybridConfiguration", {},
                              ["TlsCertificateName"], {"TlsCertificateName": d.current}))
    for d in changing:
        if d.object_type == OBJECT_TYPE:
            steps.append(step(step_id(SET, OBJECT_TYPE, d.object), "Set-SendConnector",
                              {"Identity": d.object, "TlsCertificateName": d.expected}))
        else:
            steps.append(step(step_id(SET, HYBRID, d.object), "Set-HybridConfiguration", {"TlsCertificateName": d.expected}))
    for d in changing:
        if d.object_type == OBJECT_TYPE:
            steps.append(step(readback_id(OBJECT_TYPE, d.object), "Get-SendConnector", {"Identity": d.object},
                              ["Identity", "TlsCertificateName"]))
        else:
            steps.append(step(readback_id(HYBRID, d.object), "Get-HybridConfiguration", {}, ["TlsCertificateName"]))
    return steps


__all__ = ["SendPlan", "connector_named", "plan", "planned_smtp_enables", "write_steps"]
