# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report of role connector_tls: one verdict per host and for the organisation, from the run's results.

Input is what the role's tasks registered, unchanged (facts, the check-mode
plans, the real runs, the SMTP probes, restarts), so the report says what the
modules said and nothing is decided twice. The shapes written here are an
interface (schemas/report-v1.schema.json, schemas/changes-v1.schema.json,
docs/reports.md): keys are added, never renamed.

Statuses, worst first: error (unreachable for a host), blocked, drift,
remediated, compliant. ``drift`` is what a remediation would change or an
error-severity finding; warnings without a proposal (an old 12014 event, a
certificate property Exchange did not return) are reported but do not make a
host drift, or a clean server would fail the audit for a day after its fix.

Pure Python: no Ansible imports.
"""

from __future__ import annotations

import ipaddress

from typing import Dict, Iterable, List, Optional

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import receive_selection
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.facts_after import facts_after
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.restart import probe_status

REPORT_SCHEMA = "exchange.transport_tls/report/v1"
CHANGES_SCHEMA = "exchange.transport_tls/changes/v1"

COMPLIANT, DRIFT, REMEDIATED, BLOCKED, ERROR, UNREACHABLE = (
    "compliant", "drift", "remediated", "blocked", "error", "unreachable")
HOST_STATUSES = (COMPLIANT, DRIFT, REMEDIATED, BLOCKED, ERROR, UNREACHABLE)
_RANK = {COMPLIANT: 0, REMEDIATED: 1, DRIFT: 2, BLOCKED: 3, ERROR: 4, UNREACHABLE: 4}
ORGANIZATION_TYPES = ("send_connector", "hybrid_configuration")
# What connector_tls_exempt can name, and the status it gives them in the report (findings.EXEMPT).
_EXEMPTABLE = ("receive_connector", "send_connector", "hybrid_configuration")
EXEMPT = "exempt"
# The statuses of a change in changes.json (schemas/changes-v1.schema.json).
PLANNED, ATTEMPTED, APPLIED, NOT_APPLIED, UNKNOWN = "planned", "attempted", "applied", "not_applied", "unknown"
_UNKNOWN_WHY = ("the write was launched but its outcome could not be established (the reply was lost or could not be"
                " read): it may have been applied; the object's current value says which")
# Findings about the certificate a connector uses (as opposed to the connector's name).
_CERTIFICATE_CODES = (
    "tls_certificate_expired", "tls_certificate_expiring_soon", "tls_certificate_smtp_not_enabled",
    "tls_certificate_status_not_valid", "tls_certificate_self_signed_for_hybrid",
    "tls_certificate_not_third_party_for_hybrid",
)
# Report-level codes: what the SMTP probe saw against what the configuration makes transport present.
PROBE_CODES = {
    "starttls_not_offered": "the connector should offer STARTTLS but the SMTP probe saw none",
    "starttls_certificate_mismatch": "the SMTP probe was shown another certificate than the one the configuration selects",
    "starttls_handshake_failed": "STARTTLS was offered but the TLS handshake failed",
    "smtp_probe_failed": "the SMTP probe could not connect or the SMTP dialogue failed",
}


def worst(statuses: Iterable[str]) -> str:
    found = list(statuses)
    return max(found, key=lambda s: _RANK[s]) if found else COMPLIANT


def _ok(result: Optional[dict]) -> bool:
    """A registered result of a task that ran and did not fail."""
    return bool(result) and not result.get("skipped") and not result.get("failed") and not result.get("unreachable")


def _ran(result: Optional[dict]) -> bool:
    return bool(result) and not result.get("skipped")


def _failed(result: Optional[dict]) -> bool:
    """A task that ran and failed, or lost its host (ignore_unreachable registers no 'failed')."""
    return _ran(result) and bool(result.get("failed") or result.get("unreachable"))


def _message(result: dict) -> str:
    return str(result.get("msg") or result.get("message") or "the task failed without a message").strip()


# What to do about a failure the message alone does not say how to act on: (texts that identify it, advice).
# Only failures recognised by their text get advice; Exchange's session and guard messages carry their own.
_ADVICE = (
    (("credentials were rejected", "HTTP 401", "Code 401"),
     "Check this host's WinRM credentials (ansible_user and ansible_password, or the Kerberos ticket) and run again."),
    (("Code 500", "WS-Management service cannot process the request"),
     "The WinRM service of the server failed the request (HTTP 500): check the server's WinRM service and its event log,"
     " then run again."),
    (("Connection reset", "Connection aborted"),
     "The connection to the server's WinRM port was cut (a WinRM restart, a firewall or a load balancer): run again;"
     " if it persists, check the network path to that port."),
    (("Read timed out", "read timeout="),
     "The server did not answer within ansible_winrm_read_timeout_sec: check that it is up and not overloaded (or raise"
     " that timeout), then run again."),
    (("Insufficient access rights",),
     "The account running the play lacks the Exchange permission for the cmdlet named: give it an RBAC role that"
     " allows it (for example Organization Management), then run again."),
    (("change in the current set of domain controllers",),
     "Exchange lost its domain controller during the call, which is usually transient: run again."),
    # Unreachable before any WinRM exchange: the address, the port or the path to it, not the server's software.
    (("Connection refused", "NewConnectionError", "Failed to establish a new connection"),
     "Nothing accepted the connection on this host's WinRM port: check ansible_host and ansible_port (5985 for http,"
     " 5986 for https) in the inventory, that the WinRM service listens there (winrm enumerate winrm/config/listener),"
     " and that no firewall between the controller and the server blocks it, then run again."),
    (("ConnectTimeout", "Connection timed out", "connect timeout="),
     "The controller got no answer from this host's WinRM port: check that the server is up, that ansible_host resolves"
     " to it from the controller, and that the firewall lets the controller in on 5985/5986, then run again."),
    (("Name or service not known", "nodename nor servname", "getaddrinfo failed", "No address associated"),
     "The controller cannot resolve this host's name: check ansible_host in the inventory and the controller's DNS,"
     " then run again."),
)


def _with_advice(message: str) -> str:
    """``message``, followed by what to do when its failure is one of the recognised kinds."""
    for texts, advice in _ADVICE:
        if any(t.lower() in message.lower() for t in texts):
            return message if message.endswith(advice) else message.rstrip() + " " + advice
    return message


def facts_now(run: dict, org_changes: Optional[List[dict]] = None, expiring_days: int = 30) -> Optional[dict]:
    """A host's facts as the run left them (None when they could not be read).

    The gathered facts, or the receive task's read-back facts when it changed something, with the
    organisation's changes applied.
    """
    gathered, receive = run.get("gathered"), run.get("receive")
    if not _ok(gathered):
        return None
    facts = gathered["ansible_facts"]["exchange_tls"]
    if _ran(receive) and (receive.get("ansible_facts") or {}).get("exchange_tls"):
        facts = receive["ansible_facts"]["exchange_tls"]
    return facts_after(facts, org_changes, expiring_days) if org_changes else facts


def drifts(finding: dict) -> bool:
    """A finding that makes its object drift: an error, or a warning a converging module would fix."""
    return finding["severity"] == "error" or bool(finding.get("expected"))


def _finding(f: dict, in_scope: bool = True, exempt: Optional[str] = None) -> dict:
    entry = {
        "code": f["code"], "severity": f["severity"], "object_type": f["object_type"], "object": f["object"],
        "message": f["message"], "current": f.get("current"), "expected": f.get("expected"),
        "certificates": list(f.get("certificates") or []), "in_scope": in_scope,
    }
    if exempt:
        entry["exempt"] = exempt
    return entry


def counts(finding: dict) -> bool:
    """A finding that makes its host or the organisation drift: in scope, not exempted by the user, and drifting."""
    return finding.get("in_scope", True) and not finding.get("exempt") and drifts(finding)


def exempt_reason(exempt: Optional[Dict[str, str]], obj: Optional[str]) -> Optional[str]:
    """The user's reason for exempting ``obj`` (connector_tls_exempt, keys compared without case), or None."""
    return {str(k).strip().lower(): v for k, v in (exempt or {}).items()}.get(str(obj or "").strip().lower())


def _plan(d: dict) -> dict:
    plan = {k: d.get(k) for k in ("object_type", "object", "status", "current", "expected", "reason")}
    sources = (d.get("details") or {}).get("source_servers") or d.get("source_servers")
    if sources:
        plan["source_servers"] = sources
    return plan


def _change(c: dict) -> dict:
    return {k: c.get(k) for k in ("object_type", "object", "property", "before", "after", "server")}


def change_key(c: dict) -> tuple:
    """One property of one object: certificates and transport services are per server, connectors are not."""
    where = (c.get("server") or "").lower() if c["object_type"] in ("certificate", "transport_service") else ""
    return c["object_type"], c["object"].lower(), c["property"], where


def _listening(facts: dict) -> List[dict]:
    """The enabled port-25 receive connectors of the service that listens on port 25.

    On a Mailbox server that is Front End Transport (the Transport service listens on 2525); on an Edge server,
    its Transport service. A Mailbox server whose only port-25 connectors are another service's keeps those.
    """
    candidates = [c for c in facts.get("receive_connectors") or [] if c.get("enabled", True) and 25 in (c.get("ports") or [])]
    if (facts.get("server") or {}).get("role") == "Edge":
        return candidates
    return [c for c in candidates if c.get("transport_role") == "FrontendTransport"] or candidates


def _answering(candidates: List[dict], sender: str) -> Optional[dict]:
    by_identity = {c["identity"]: c for c in candidates}
    # The server's own address is not in the facts: every binding on port 25 counts as listening on it.
    chosen = receive_selection.select_connector(
        [(c["identity"], c.get("bindings") or ["0.0.0.0:25", "[::]:25"], c.get("remote_ip_ranges")) for c in candidates],
        None, 25, sender)
    return by_identity.get(chosen)


def _expectation(connector: dict) -> dict:
    return {
        "identity": connector["identity"],
        "starttls_offered": bool(connector.get("starttls_offered")),
        "expected_thumbprint": connector.get("selected_certificate") if connector.get("starttls_offered") else None,
    }


def probe_source(source: Optional[str], name: str = "probe_target's source") -> Optional[str]:
    """The address the server sees the probe come from, normalised, or None when not known; ValueError otherwise."""
    if source in (None, ""):
        return None
    try:
        return str(ipaddress.ip_address(str(source).strip()))
    except ValueError:
        raise ValueError(
            f"{name} must be the IP address the server sees the probe come from (such as 192.0.2.10"
            f" or 2001:db8::10), or null when not known; got {source!r}") from None


def probe_target(facts: dict, source: Optional[str] = None) -> Optional[dict]:
    """The receive connector the SMTP probe proves, and what transport should present there.

    Exchange hands a connection to the receive connector whose binding, then RemoteIPRanges, match it most
    specifically (plugin_utils/_facts/receive_selection). ``microsoft_365`` is the connector a Microsoft 365 sender
    reaches (Exchange Online's published outbound ranges): the one hybrid mail depends on. ``source`` is the
    probe's address as the server sees it; when given, ``identity`` and the keys beside it are the connector the
    probe itself reaches, and ``proves_microsoft_365`` says whether that is Microsoft 365's connector (None: the
    source is not known, and the probe is taken to reach Microsoft 365's connector). ``expected_thumbprint`` is
    None when the configuration offers no STARTTLS there. None: no connector listens on port 25.
    """
    candidates = _listening(facts)
    if not candidates:
        return None
    cloud = _answering(candidates, receive_selection.MICROSOFT_365_SENDERS[0])
    reached = cloud if source is None else _answering(candidates, source)
    if source is None and cloud is None:
        reached = candidates[0]  # no connector accepts Microsoft 365: the probe is all there is to check
    if reached is None:
        target = {"identity": None, "starttls_offered": False, "expected_thumbprint": None}
        role = candidates[0].get("transport_role")
    else:
        target = _expectation(reached)
        role = reached.get("transport_role")
    edge = (facts.get("server") or {}).get("role") == "Edge"
    target["service"] = "MSExchangeFrontEndTransport" if role == "FrontendTransport" and not edge else "MSExchangeTransport"
    target["source"] = source
    target["microsoft_365"] = _expectation(cloud) if cloud is not None else None
    target["proves_microsoft_365"] = None if source is None else bool(reached is not None and reached is cloud)
    return target


def probe_reach_problem(probe: dict, target: Optional[dict]) -> Optional[dict]:
    """A warning when the probe reached another connector than Microsoft 365's: it proves nothing about hybrid mail."""
    if not target or target.get("proves_microsoft_365") is not False or not probe.get("connected", True):
        return None
    cloud = (target.get("microsoft_365") or {}).get("identity")
    reached = target.get("identity")
    where = "no connector" if reached is None else reached
    if cloud is None:
        message = (f"The SMTP probe from {target['source']} reached {where}, and no receive connector on port 25 accepts"
                   " Microsoft 365's addresses (Exchange Online's outbound ranges such as 40.92.0.0/15 and 104.47.0.0/17):"
                   " hybrid mail cannot reach this server. Check the RemoteIPRanges of its port-25 connectors.")
    else:
        message = (f"The SMTP probe from {target['source']} reached {where}, not the connector Microsoft 365 reaches ({cloud}):"
                   f" it does not prove {cloud}. Its RemoteIPRanges or bindings send the controller elsewhere; probe from an"
                   f" address {cloud} accepts (connector_tls_probe_host, connector_tls_probe_source) to prove it.")
    return {"code": "starttls_probe_other_connector", "severity": "warning", "object_type": "receive_connector",
            "object": cloud or where, "message": message, "current": reached, "expected": None, "certificates": [],
            "in_scope": True}


# Microsoft 365 delivers only over TLS 1.2 or later since TLS 1.0 and 1.1 were retired
# (https://learn.microsoft.com/purview/tls-1.0-and-1.1-deprecation-for-office-365).
_OLD_TLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")


def probe_tls_problem(probe: dict, target: Optional[dict]) -> Optional[dict]:
    """A warning when the probe negotiated a TLS version older than 1.2."""
    version = probe.get("tls_version")
    if version not in _OLD_TLS:
        return None
    where = f"{probe.get('host')}:{probe.get('port')}"
    return {"code": "starttls_tls_version_old", "severity": "warning", "object_type": "receive_connector",
            "object": (target or {}).get("identity") or where,
            "message": (f"{where} negotiated {version} ({probe.get('cipher')}): Microsoft 365 and current senders require TLS"
                        " 1.2 or later. Enable TLS 1.2 in Schannel and .NET on the server (Microsoft's Exchange Server TLS"
                        " configuration guidance) and disable the older versions."),
            "current": version, "expected": None, "certificates": [], "in_scope": True}


def probe_problem(probe: dict, target: Optional[dict]) -> Optional[dict]:
    """The finding a probe result makes against the configuration, or None when they agree."""
    where = f"{probe.get('host')}:{probe.get('port')}"
    obj = (target or {}).get("identity") or where
    if probe.get("failed") or not probe.get("connected", True):
        code, message = "smtp_probe_failed", (
            f"The SMTP probe of {where} failed: {probe.get('error') or probe.get('msg') or 'no answer'}. STARTTLS is"
            " unknown: it could not be verified, and a probe that fails never restarts transport; check that the"
            " controller reaches port 25 (firewall, connector_tls_probe_host/port), or set connector_tls_probe=false.")
        current, expected = None, None
    elif target is None:
        return None
    else:
        expected, seen = target["expected_thumbprint"], probe.get("thumbprint")
        current = seen
        if expected and not probe.get("starttls_offered"):
            code, message = "starttls_not_offered", (
                f"The configuration of {obj} selects certificate {expected}, but {where} does not offer STARTTLS: the"
                f" transport service has not loaded the change ({target['service']} needs a restart, see"
                " connector_tls_restart_transport), or another connector answers the controller's address.")
        elif probe.get("starttls_offered") and not probe.get("tls_established") and expected:
            code, message = "starttls_handshake_failed", (
                f"{where} offers STARTTLS but the TLS handshake failed: {probe.get('error') or 'no detail'}. A certificate"
                " without the SMTP service, or without access to its private key, fails this way"
                " (Enable-ExchangeCertificate -Services SMTP).")
        elif probe.get("tls_established") and seen != expected:
            code, message = "starttls_certificate_mismatch", (
                f"{where} presented certificate {seen} ({probe.get('subject')}) but the configuration of {obj} selects"
                f" {expected or 'no certificate'}: transport has not reloaded the connector ({target['service']} needs a"
                " restart), or another connector answers the controller's address.")
        else:
            return None
    return {"code": code, "severity": "error", "object_type": "receive_connector", "object": obj, "message": message,
            "current": current, "expected": expected if code != "smtp_probe_failed" else None, "certificates": [],
            "in_scope": True}


def _probe_entry(probe: dict, target: Optional[dict]) -> dict:
    # A probe that failed validating its arguments returns no host or port: take them from its invocation.
    asked = (probe.get("invocation") or {}).get("module_args") or {}
    port = probe.get("port") if probe.get("port") is not None else asked.get("port")
    return {
        "host": probe.get("host") or asked.get("host"), "port": int(port) if port is not None else None,
        "connector": (target or {}).get("identity"), "phase": probe.get("phase", "before"),
        "connected": bool(probe.get("connected", not probe.get("failed"))),
        "starttls_offered": bool(probe.get("starttls_offered")),
        "thumbprint": probe.get("thumbprint"),
        "expected_thumbprint": (target or {}).get("expected_thumbprint"),
        "subject": probe.get("subject"), "issuer": probe.get("issuer"), "not_after": probe.get("not_after"),
        "tls_version": probe.get("tls_version"), "cipher": probe.get("cipher"),
        "error": probe.get("error") or (probe.get("msg") if probe.get("failed") else None),
        "source": (target or {}).get("source"),
        "microsoft_365_connector": ((target or {}).get("microsoft_365") or {}).get("identity"),
        "proves_microsoft_365": (target or {}).get("proves_microsoft_365"),
        # What the probe proves: ok, problem, or unknown when it could not complete (no restart is made on that).
        "status": probe_status(probe, (target or {}).get("expected_thumbprint")),
    }


def _empty_host(status: str, message: Optional[str]) -> dict:
    return {"status": status, "message": message, "server": None, "launches": 0, "findings": [], "connectors": [],
            "certificates": [], "plans": [], "changes": [], "probe": [], "restarts": []}


def _in_scope(identity: str, scope: Optional[List[str]]) -> bool:
    return scope is None or identity.lower() in {s.lower() for s in scope}


class _Host:
    """One host's verdict, from its registered results and the facts as they are after the run."""

    def __init__(self, name: str, run: dict, mode: str, check_mode: bool, now: Optional[dict],
                 exempt: Optional[Dict[str, str]] = None):
        self.name, self.run, self.mode, self.check_mode, self.now = name, run, mode, check_mode, now
        self.exempt = exempt or {}

    def build(self) -> dict:
        gathered = self.run.get("gathered")
        if not gathered or gathered.get("skipped"):
            return _empty_host(ERROR, "facts were not gathered on this host (an earlier task stopped it)")
        if gathered.get("unreachable"):
            return dict(_empty_host(UNREACHABLE, _with_advice(_message(gathered))), launches=0)
        if gathered.get("failed"):
            return dict(_empty_host(ERROR, _with_advice(_message(gathered))), launches=int(gathered.get("launches") or 0))
        now, before, receive = self.now, gathered["ansible_facts"]["exchange_tls"], self.run.get("receive")
        scope = self.run.get("scope")
        self.before, self.scope = before, scope
        errors: List[str] = []
        findings = [_finding(f, self._finding_in_scope(f), self._exempt_of(f)) for f in now.get("findings") or []
                    if f["object_type"] not in ORGANIZATION_TYPES]
        probes, probe_findings = self._probes()
        findings.extend(probe_findings)
        plan_result = self.run.get("receive_plan")
        plans = [_plan(d) for d in (plan_result or {}).get("plans") or [] if _in_scope(d["object"], scope)]
        if _ran(plan_result) and plan_result.get("failed") and not plan_result.get("plans"):
            errors.append("deciding the receive connectors failed: " + _message(plan_result))
        changes = [_change(c) for c in (receive or {}).get("changes") or []] if _ran(receive) and not self.check_mode else []
        if _failed(receive):
            errors.append(("the remediation stopped: " if not receive.get("unreachable") else "the host became unreachable: ")
                          + _with_advice(_message(receive)))
        restarts = []
        for restart in self.run.get("restarts") or []:
            if not _ran(restart):
                continue
            restarts.append({"service": restart.get("service"), "reason": restart.get("reason")})
            if _failed(restart):
                errors.append(f"restarting {restart.get('service')} failed: {_message(restart)}")
        launches = sum(int((r or {}).get("launches") or 0) for r in (gathered, receive))
        launches += sum(1 for r in self.run.get("restarts") or [] if _ran(r) and not r.get("unreachable"))
        connectors = self._connectors(plans, changes, errors)
        blocked = [p for p in plans if p["status"] == "blocked"]
        statuses = [c["status"] for c in connectors if c["status"] not in ("out_of_scope", "disabled", EXEMPT)]
        # Connector findings count through their connector's status; probe findings just below.
        statuses += [DRIFT for f in findings if counts(f) and f["object_type"] != "receive_connector"]
        if any(f["code"] in PROBE_CODES for f in findings):
            statuses.append(ERROR if self._remediating() or any(f["code"] == "smtp_probe_failed" for f in findings) else DRIFT)
        if any(f["code"] == "starttls_probe_other_connector" for f in findings):
            # The connector hybrid mail depends on was not proven: unknown, which is not compliant.
            statuses.append(DRIFT)
        if errors:
            statuses.append(ERROR)
        status = worst(statuses)
        if status == COMPLIANT and changes:
            status = REMEDIATED
        message = None
        if errors:
            message = "; ".join(errors)
        elif status == BLOCKED:
            message = "; ".join(f"{p['object']}: {p['reason']}" for p in blocked) or None
        elif any(f["code"] in PROBE_CODES for f in findings):
            message = next(f["message"] for f in findings if f["code"] in PROBE_CODES)
        elif any(f["code"] == "starttls_probe_other_connector" for f in findings):
            message = next(f["message"] for f in findings if f["code"] == "starttls_probe_other_connector")
        server = now["server"]
        return {
            "status": status, "message": message,
            "server": {k: server.get(k) for k in ("name", "fqdn", "role", "version")},
            "launches": launches, "findings": findings, "connectors": connectors,
            "certificates": self._certificates(findings), "plans": plans, "changes": changes,
            "probe": probes, "restarts": restarts,
        }

    def _remediating(self) -> bool:
        return self.mode == "remediate" and not self.check_mode

    def _exempt_of(self, f: dict) -> Optional[str]:
        return exempt_reason(self.exempt, f["object"]) if f["object_type"] in _EXEMPTABLE else None

    def _finding_in_scope(self, f: dict) -> bool:
        return f["object_type"] != "receive_connector" or _in_scope(f["object"], self.scope)

    def _probes(self):
        entries, problems = [], []
        ran = [p for p in self.run.get("probes") or [] if _ran(p) and not p.get("unreachable")]
        # Where the probe came from as the server sees it (smtp_tls_probe's seen_as, else its socket's address).
        source = next((p.get("source_address") for p in reversed(ran) if p.get("source_address")), None)
        target = probe_target(self.now, source)
        for probe in ran:
            entries.append(_probe_entry(probe, target))
        # The last probe is the verdict: an earlier one may predate the restart that fixed it.
        if entries:
            last = [p for p in self.run.get("probes") or [] if _ran(p)][-1]
            for check in (probe_problem, probe_reach_problem, probe_tls_problem):
                problem = check(last, target)
                if problem:
                    problems.append(problem)
        return entries, problems

    def _connectors(self, plans: List[dict], changes: List[dict], errors: List[str]) -> List[dict]:
        before = {c["identity"]: c for c in self.before["receive_connectors"]}
        planned = {p["object"]: p for p in plans}
        changed = {c["object"] for c in changes if c["object_type"] == "receive_connector"}
        changed_certificates = {c["object"] for c in changes if c["object_type"] == "certificate"}
        result = []
        for c in self.now["receive_connectors"]:
            identity = c["identity"]
            own = [f for f in self.now.get("findings") or [] if f["object_type"] == "receive_connector" and f["object"] == identity]
            in_scope = _in_scope(identity, self.scope)
            plan = planned.get(identity)
            reason = exempt_reason(self.exempt, identity)
            if not in_scope:
                status = "out_of_scope"
            elif reason:
                status = EXEMPT
            elif not c.get("enabled", True):
                status = "disabled"
            elif plan and plan["status"] == "blocked":
                status = BLOCKED
            elif any(drifts(f) for f in own):
                status = ERROR if errors and plan and plan["status"] == "change" else DRIFT
            elif identity in changed or (c.get("selected_certificate") in changed_certificates):
                status = REMEDIATED
            else:
                status = COMPLIANT
            result.append({
                **({"exempt": reason} if reason and in_scope else {}),
                "identity": identity, "in_scope": in_scope, "enabled": bool(c.get("enabled", True)),
                "ports": list(c.get("ports") or []), "status": status,
                "tls_certificate_name": {"before": (before.get(identity) or c).get("tls_certificate_name"),
                                         "after": c.get("tls_certificate_name")},
                "selected_certificate": c.get("selected_certificate"),
                "starttls_offered": bool(c.get("starttls_offered")),
                "findings": sorted({f["code"] for f in own}),
            })
        return result

    def _certificates(self, findings: List[dict]) -> List[dict]:
        used: Dict[str, List[str]] = {}
        for c in self.now["receive_connectors"]:
            if c.get("selected_certificate"):
                used.setdefault(c["selected_certificate"], []).append(c["identity"])
        for c in self.now["send_connectors"]:
            if c.get("selected_certificate") and c.get("this_server_is_source"):
                used.setdefault(c["selected_certificate"], []).append(c["name"])
        internal = self.now.get("internal_transport_certificate")
        result = []
        for cert in self.now["certificates"]:
            thumbprint = cert["thumbprint"]
            users = used.get(thumbprint, [])
            own = [f for f in findings if not f.get("exempt") and (
                (f["code"] in _CERTIFICATE_CODES and f["object"] in users)
                or (f["code"].startswith("internal_transport_certificate") and f.get("current") == thumbprint)
                or (f["object_type"] == "certificate" and thumbprint in f["certificates"]))]
            severities = {f["severity"] for f in own}
            result.append({
                "thumbprint": thumbprint, "subject": cert.get("subject"), "issuer": cert.get("issuer"),
                "not_after": cert.get("not_after"), "days_remaining": cert.get("days_remaining"),
                "domains": list(cert.get("domains") or []),
                "services": cert.get("services") if isinstance(cert.get("services"), list) else "unknown",
                "used_by": users, "checked": bool(users or own or thumbprint == internal),
                "status": "error" if "error" in severities else ("warning" if "warning" in severities else COMPLIANT),
                "findings": sorted({f["code"] for f in own}),
            })
        return result


def _organization(org: dict, now: Dict[str, Optional[dict]], mode: str, check_mode: bool,
                  scope_of_runner: Optional[List[str]], org_changes: List[dict], exempt: Optional[Dict[str, str]] = None) -> dict:
    plan_result, send = org.get("plan"), org.get("send")
    errors: List[str] = []
    org_in_scope = _org_scope(plan_result, scope_of_runner)
    plans = [_plan(d) for d in (plan_result or {}).get("plans") or [] if org_in_scope(d["object_type"], d["object"])]
    if _ran(plan_result) and plan_result.get("failed") and not plan_result.get("plans"):
        errors.append("deciding the send connectors failed: " + _message(plan_result))
    changes = org_changes
    if _failed(send):
        errors.append("the send connector remediation stopped: " + _with_advice(_message(send)))
    # Organisation findings: every host reports the send connectors it is a source of; one entry per object.
    merged: Dict[tuple, dict] = {}
    for name, facts in now.items():
        for f in (facts or {}).get("findings") or []:
            if f["object_type"] not in ORGANIZATION_TYPES:
                continue
            in_scope = org_in_scope(f["object_type"], f["object"])
            entry = merged.setdefault((f["code"], f["object_type"], f["object"]),
                                      dict(_finding(f, in_scope, exempt_reason(exempt, f["object"])), servers=[]))
            entry["servers"].append(name)
    findings = list(merged.values())
    statuses = [BLOCKED for p in plans if p["status"] == "blocked"]
    statuses += [DRIFT for f in findings if counts(f)]
    statuses += [DRIFT for p in plans if p["status"] == "change" and (mode == "audit" or check_mode)]
    if errors:
        statuses.append(ERROR)
    status = worst(statuses)
    if status == COMPLIANT and changes:
        status = REMEDIATED
    if not org.get("runner"):
        # Only a Mailbox server reads and decides send connectors and the hybrid configuration: without one whose
        # facts were read, nothing was checked, and a report must not call unread objects compliant.
        errors.append("the organisation objects (send connectors, hybrid configuration) were not read: no Mailbox"
                      " server of this run answered (all unreachable or in error, or the run was narrowed to Edge"
                      " servers); include a reachable Mailbox server (connector_tls_target) or name one in"
                      " connector_tls_organization_host")
        status = ERROR
    message = "; ".join(errors) if errors else (
        "; ".join(f"{p['object']}: {p['reason']}" for p in plans if p["status"] == "blocked") or None)
    return {"status": status, "message": message, "runner": org.get("runner"), "findings": findings,
            "plans": plans, "changes": changes}


def _block_missing_sources(hosts: Dict[str, dict], organization: dict) -> None:
    """A source server that keeps a send connector blocked is itself blocked: the fix is on that server."""
    by_server = {}
    for name, host in hosts.items():
        by_server[name.lower()] = host
        if host["server"] and host["server"].get("name"):
            by_server[host["server"]["name"].lower()] = host
    for plan in organization["plans"]:
        if plan["status"] != "blocked":
            continue
        for server, source in (plan.get("source_servers") or {}).items():
            host = by_server.get(server.lower())
            if host is None or source.get("status") == "ok" or host["status"] in (ERROR, UNREACHABLE):
                continue
            why = (f"{plan['object']} cannot use {plan.get('expected') or plan.get('current')} because this source"
                   f" server {source.get('reason') or source.get('status')}; mail sent through it fails (454 4.7.5)")
            host["status"] = worst([host["status"], BLOCKED])
            host["message"] = "; ".join(m for m in (host["message"], why) if m)


def org_changes_of(org: dict, check_mode: bool) -> List[dict]:
    send = org.get("send")
    if check_mode or not _ran(send):
        return []
    return [_change(c) for c in send.get("changes") or []]


def build(mode: str, check_mode: bool, generated_at: str, runs: Dict[str, dict], org: dict,
          scope: Optional[str] = None, expiring_days: int = 30, exempt: Optional[Dict[str, str]] = None) -> dict:
    """The report (schemas/report-v1.schema.json) from each host's registered results and the organisation's.

    ``runs``: inventory host -> {gathered, scope (identities or None), receive_plan, receive, probes, restarts};
    ``org``: {runner, plan, send}; ``exempt``: connector identity -> the user's reason (connector_tls_exempt):
    those connectors and their findings are reported ``exempt`` and count neither as drift nor as an error.
    """
    if mode not in ("audit", "remediate"):
        raise ValueError(f"mode must be 'audit' or 'remediate', got {mode!r}")
    org_changes = org_changes_of(org, check_mode)
    # Once per host: the facts as the run left them (facts_after recomputes selection and findings).
    now = {name: facts_now(run, org_changes, expiring_days) for name, run in sorted(runs.items())}
    hosts = {name: _Host(name, run, mode, check_mode, now[name], exempt).build() for name, run in sorted(runs.items())}
    runner = org.get("runner")
    organization = _organization(org, now, mode, check_mode, (runs.get(runner) or {}).get("scope"), org_changes, exempt)
    _block_missing_sources(hosts, organization)
    if mode == "audit" or check_mode:
        # Nothing was written: what a remediation would change is drift.
        for host in hosts.values():
            if host["status"] in (COMPLIANT, REMEDIATED) and any(p["status"] == "change" for p in host["plans"]):
                host["status"] = DRIFT
    else:
        # A remediation that ends with drift did not converge: no module changes what is left.
        for entry in list(hosts.values()) + [organization]:
            if entry["status"] == DRIFT:
                left = sorted({f["code"] for f in entry["findings"] if counts(f)})
                entry["status"] = BLOCKED
                entry["message"] = entry["message"] or (
                    "still drifted after the remediation, and no module of this collection fixes it: "
                    + (", ".join(left) or "see findings") + ". Act on the findings' messages by hand, or, for a connector"
                    " that is so by design, exempt it with the reason (connector_tls_exempt).")
    problems = run_problems(runs, scope)
    summary = {"hosts": len(hosts), **{s: 0 for s in HOST_STATUSES}}
    for host in hosts.values():
        summary[host["status"]] += 1
    overall = worst([h["status"] for h in hosts.values()] + [organization["status"]] + [ERROR for _p in problems])
    return {
        "schema": REPORT_SCHEMA, "mode": mode, "check_mode": bool(check_mode), "generated_at": generated_at,
        "scope": scope or None, "status": ERROR if overall == UNREACHABLE else overall, "summary": summary,
        "problems": problems, "hosts": hosts, "organization": organization,
    }


def run_problems(runs: Dict[str, dict], scope: Optional[str]) -> List[str]:
    """What makes the whole run say nothing, whatever each host says: a result that checked nothing is not green."""
    problems = []
    if not runs:
        problems.append("the play had no host: nothing was checked (check -i and connector_tls_target)")
    scopes = [run.get("scope") for run in runs.values()
              if ((run.get("gathered") or {}).get("ansible_facts") or {}).get("exchange_tls") is not None]
    if scope and scopes and all(s is not None and not s for s in scopes):
        problems.append(f"connector_tls_scope selected no connector on any server ({scope!r}): a field name or value"
                        " in it matches nothing in the facts, so nothing was checked; see the field names with"
                        " ansible-doc -t filter exchange.transport_tls.connector_scope, or remove connector_tls_scope")
    return problems


def exit_failure(report: dict, fail_on_drift: bool) -> Optional[str]:
    """Why the run must end non-zero, or None: the rule CI and AWX read from the exit status."""
    summary, organization = report["summary"], report["organization"]
    # Blocked is drift nobody can fix automatically: it fails a real remediation (it did not converge), and an
    # audit or a --check run only as drift does, so fail_on_drift=false really means "report only".
    remediated = report["mode"] == "remediate" and not report["check_mode"]
    failing = (ERROR, UNREACHABLE, BLOCKED) if remediated or fail_on_drift else (ERROR, UNREACHABLE)
    bad = {s: summary[s] for s in failing if summary[s]}
    parts = list(report.get("problems") or []) + [f"{n} host(s) {s}" for s, n in bad.items()]
    if organization["status"] == ERROR or (organization["status"] == BLOCKED and BLOCKED in failing):
        parts.append(f"organisation objects {organization['status']}")
    if fail_on_drift:
        if summary[DRIFT]:
            parts.append(f"{summary[DRIFT]} host(s) drift")
        if organization["status"] == DRIFT:
            parts.append("organisation objects drift")
    return ", ".join(parts) or None


def host_failures(report: dict, fail_on_drift: bool, play_hosts: List[str]) -> Dict[str, str]:
    """Which play hosts the run fails, and why: exactly the hosts the verdict fails, so PLAY RECAP and AWX's per-host
    status point at the servers that need a person. The organisation's failure goes to the host that decided it (or
    the first host), and so do the run's own problems; {} when exit_failure is None."""
    if exit_failure(report, fail_on_drift) is None:
        return {}
    remediated = report["mode"] == "remediate" and not report["check_mode"]
    failing = {ERROR, UNREACHABLE} | ({BLOCKED} if remediated or fail_on_drift else set()) | ({DRIFT} if fail_on_drift else set())
    result: Dict[str, List[str]] = {}
    for name, host in report["hosts"].items():
        if host["status"] in failing:
            why = host["message"] or "; ".join(sorted({f["code"] for f in host["findings"] if counts(f)}))
            result.setdefault(name, []).append(f"{host['status']}: {why}" if why else host["status"])
    organization = report["organization"]
    first = next(iter(play_hosts or report["hosts"]), None)
    owner = organization.get("runner") if organization.get("runner") in (play_hosts or report["hosts"]) else first
    if organization["status"] in failing and owner is not None:
        result.setdefault(owner, []).append(f"organisation objects {organization['status']}"
                                            + (f": {organization['message']}" if organization.get("message") else ""))
    for problem in report.get("problems") or []:
        if first is not None:
            result.setdefault(first, []).append(problem)
    if not result and first is not None:
        result[first] = [exit_failure(report, fail_on_drift)]
    return {name: "; ".join(reasons) for name, reasons in result.items()}


def _org_scope(plan_result: Optional[dict], scope: Optional[List[str]]):
    """Whether an organisation object is in scope: send connectors by name; the hybrid configuration follows them."""
    sends = [d["object"] for d in (plan_result or {}).get("plans") or [] if d["object_type"] == "send_connector"]
    any_send = scope is None or any(_in_scope(name, scope) for name in sends)

    def in_scope(object_type: str, obj: str) -> bool:
        if object_type == "send_connector":
            return _in_scope(obj, scope)
        return object_type != "hybrid_configuration" or any_send
    return in_scope


def scoped_changes(plan_result: dict, scope: Optional[List[str]]) -> List[dict]:
    """The changes of a check-mode plan that the in-scope decisions need (a sweep plans every connector)."""
    org_in_scope = _org_scope(plan_result, scope)
    kept = [d for d in plan_result.get("plans") or [] if d.get("status") == "change" and (
        _in_scope(d["object"], scope) if d["object_type"] == "receive_connector" else org_in_scope(d["object_type"], d["object"]))]
    objects = {(d["object_type"], d["object"]) for d in kept}
    thumbprints = {d.get("certificate") for d in kept} | {
        s.get("thumbprint") for d in kept for s in (d.get("source_servers") or {}).values()}
    result = []
    for c in plan_result.get("changes") or []:
        if c["object_type"] == "certificate":
            wanted = c["object"] in thumbprints
        elif c["object_type"] == "transport_service":
            wanted = bool(kept)
        else:
            wanted = (c["object_type"], c["object"]) in objects
        if wanted:
            result.append(c)
    return result


def planned_changes(runs: Dict[str, dict], org: dict) -> List[dict]:
    """Every change the check-mode plans announce for objects in scope, once, with the host that will make it."""
    seen, result = set(), []
    sources = [(name, (run.get("receive_plan") or {}), run.get("scope")) for name, run in sorted(runs.items())]
    runner = org.get("runner")
    sources.append((runner, org.get("plan") or {}, (runs.get(runner) or {}).get("scope")))
    for host, plan_result, scope in sources:
        if not host or not _ran(plan_result):
            continue
        for c in scoped_changes(plan_result, scope) + _swaps(plan_result, scoped_changes(plan_result, scope)):
            key = change_key(c)
            if key in seen:
                continue
            seen.add(key)
            result.append(dict(_change(c), host=host, status=PLANNED, message=c.get("message")))
    return result


_SWAP = "InternalTransportCertificateThumbprint"


def _swap_message(before: object, after: object) -> str:
    return (f"Enable-ExchangeCertificate -Force makes {after} the default SMTP certificate; the same launch puts {before}"
            " back (restored by the same launch, then read back)")


def _swaps(plan_result: dict, kept: List[dict]) -> List[dict]:
    """The default-SMTP-certificate swap each planned SMTP enable makes and undoes in its launch (smtp_enable.py).

    Planned, then attempted, like every write: if the controller dies between the enable and the restore, a
    rollback finds the default still swapped and puts it back; otherwise it finds the value from before.
    """
    enabling = {(c["object"].lower(), (c.get("server") or "").lower()) for c in kept
                if c["object_type"] == "certificate" and c["property"] == "Services"}
    swaps = []
    for item in plan_result.get("smtp") or []:
        default = (item.get("internal_transport_certificate") or {}).get("before")
        if not default or (str(item.get("enabled") or "").lower(), str(item.get("server") or "").lower()) not in enabling:
            continue
        swaps.append({"object_type": "transport_service", "object": item["server"], "property": _SWAP, "before": default,
                      "after": item["enabled"], "server": item["server"], "message": _swap_message(default, item["enabled"])})
    return swaps


def changes_document(mode: str, check_mode: bool, generated_at: str, planned: List[dict],
                     runs: Optional[Dict[str, dict]] = None, org: Optional[dict] = None, run_id: Optional[str] = None) -> dict:
    """changes.json: the planned changes (``runs`` None: before any write), or completed with what happened.

    Before the writes of a real remediation every planned change is ``attempted``: if the controller dies
    mid-run, the record says what may have been written, and a rollback restores each entry whose object
    still holds its ``after`` value. The final stage settles each as ``applied``, ``not_applied`` or
    ``unknown`` (a write launch whose outcome could not be established: the converging modules'
    ``unknown_changes``). An audit or a check run only ever plans (``planned``).
    """
    writing = mode == "remediate" and not check_mode
    head = {"schema": CHANGES_SCHEMA, "generated_at": generated_at, "mode": mode, "check_mode": bool(check_mode)}
    if run_id is not None:
        head["run_id"] = run_id
    if runs is None:
        status = ATTEMPTED if writing else PLANNED
        return dict(head, complete=False, changes=[dict(c, status=status) for c in planned])
    made: Dict[tuple, dict] = {}
    unsure: Dict[tuple, dict] = {}
    # Why a planned change did not happen: the failure of the task that makes it (per host, and the organisation's).
    failures: Dict[tuple, str] = {}
    attempts = [(name, "host", run.get("receive")) for name, run in runs.items()]
    attempts.append(((org or {}).get("runner"), "organization", (org or {}).get("send")))
    for host, kind, result in attempts:
        if not _ran(result) or check_mode:
            continue
        for c in result.get("changes") or []:
            made.setdefault(change_key(c), dict(_change(c), host=host))
        for c in result.get("unknown_changes") or []:
            unsure.setdefault(change_key(c), dict(_change(c), host=host))
        if _failed(result):
            failures[(host, kind)] = _with_advice(_message(result))
    changes = []
    applied_keys, unsure_keys = set(made), set(unsure)
    for c in planned:
        key = change_key(c)
        done, maybe = made.pop(key, None), unsure.pop(key, None)
        if done is not None:
            changes.append(dict(done, status=APPLIED, message=None))
        elif not writing:
            changes.append(dict(c, status=PLANNED))
        elif maybe is not None:
            changes.append(dict(maybe, status=UNKNOWN, message=_UNKNOWN_WHY))
        elif c["object_type"] == "transport_service" and c["property"] == _SWAP and (
                ("certificate", str(c["after"]).lower(), "Services", (c.get("server") or "").lower()) in applied_keys):
            # The enable was applied and no change of the default came back: the same launch put it back.
            changes.append(dict(c, after=c["before"], status=APPLIED, message=(
                f"{c['after']} was the default SMTP certificate for a moment during the launch that enabled SMTP on it,"
                f" and the same launch put {c['before']} back (read back)")))
        elif c["object_type"] == "transport_service" and c["property"] == _SWAP and (
                ("certificate", str(c["after"]).lower(), "Services", (c.get("server") or "").lower()) in unsure_keys):
            changes.append(dict(c, status=UNKNOWN, message=_UNKNOWN_WHY))
        else:
            kinds = ("organization",) if c["object_type"] in ORGANIZATION_TYPES else ("host", "organization")
            why = next((failures[(c["host"], k)] for k in kinds if (c["host"], k) in failures),
                       "not attempted: the task that makes it did not run (the host failed earlier)")
            changes.append(dict(c, status=NOT_APPLIED, message=why))
    # A change nobody planned (the state moved between plan and write): recorded as it happened.
    changes.extend(dict(c, status=APPLIED, message="not in the plan: the server changed between plan and write")
                   for c in made.values())
    changes.extend(dict(c, status=UNKNOWN, message=_UNKNOWN_WHY) for c in unsure.values())
    if writing:
        changes.extend(restart_changes(runs))
    return dict(head, complete=True, changes=changes)


def restart_changes(runs: Dict[str, dict]) -> List[dict]:
    """The transport restarts of the run as change entries: a restart interrupts mail flow, so it is on the record."""
    result = []
    for host, run in sorted(runs.items()):
        server = (((run.get("gathered") or {}).get("ansible_facts") or {}).get("exchange_tls") or {}).get("server") or {}
        for restart in run.get("restarts") or []:
            if not _ran(restart) or not restart.get("service"):
                continue
            failed = _failed(restart)
            result.append({
                "object_type": "service", "object": restart["service"], "property": "Restart", "before": None,
                "after": None, "server": server.get("name") or host, "host": host,
                "status": NOT_APPLIED if failed else APPLIED,
                "message": (f"restart failed: {_message(restart)}" if failed else None) or restart.get("reason"),
            })
    return result


__all__ = ["build", "changes_document", "counts", "exempt_reason", "exit_failure", "facts_now", "host_failures", "planned_changes",
           "probe_problem", "probe_reach_problem", "probe_target", "probe_tls_problem", "run_problems", "worst"]
