# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is this Exchange server an environment the collection can be trusted on? One read batch, judged on the controller.

No Windows, PowerShell or Exchange exists where the collection is built and
tested, so what only a real server can show is checked here, from the same
read batch the audit runs: which session exchange_command opened, whether the
certificates arrived with their Exchange properties (a session without
``serializationLevel=Full`` loses Services, Status, RootCAType...), whether
enums arrived as names or integers, the Exchange version and role, which
allow-listed cmdlets RBAC left the account, whether EdgeSync reaches every
subscribed Edge server (Test-EdgeSynchronization, from each Mailbox server of an
organisation that has Edge servers), and whether the controller reaches port 25
with STARTTLS.

Every check says ``pass``, ``warn``, ``fail`` or ``not_checked``, what was
found, what it means and what to do. ``fail`` is kept for what would make the
audit or the remediation wrong; a check that could not look is
``not_checked``, never ``pass``. Pure Python: no Ansible imports.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import transport_facts

__all__ = [
    "CHECK_NAMES", "STATUSES", "read_steps", "server_checks", "probe_check", "verdict", "summary_lines", "document",
]

STATUSES = ("pass", "warn", "fail", "not_checked")
CHECK_NAMES = (
    "reads", "session", "version", "certificate_fidelity", "enum_form", "rbac",
    "edge_transport_certificate", "edgesync", "smtp_starttls",
)
SCHEMA = "exchange.transport_tls/environment/v1"

# The certificate properties the collection decides from that only a full-fidelity session returns
# (docs/exchange-behaviour.md#sessions: they live in SerializationData, which a session without serializationLevel=Full
# does not send; CSS-Exchange PRs #1200 and #2388).
FIDELITY_PROPERTIES = ("Services", "Status", "HasPrivateKey", "RootCAType")
# Where Exchange enums arrive in the read batch: step id -> properties.
_ENUM_PROPERTIES = {
    "server": ("ServerRole",),
    "certificates": ("Services", "Status", "RootCAType"),
    "receive_connectors": ("TransportRole", "AuthMechanism", "PermissionGroups"),
}
_REQUIRED_STEPS = ("server", "certificates", "receive_connectors", "send_connectors", "transport_service")

# What the audit reads and what the remediation writes, per role. Get-WinEvent and Restart-Service are
# Windows cmdlets, outside Exchange RBAC. The hybrid configuration does not exist on Edge.
_AUDIT_CMDLETS = ("Get-ExchangeServer", "Get-ExchangeCertificate", "Get-ReceiveConnector", "Get-SendConnector",
                  "Get-TransportService")
_WRITE_CMDLETS = ("Set-ReceiveConnector", "Set-SendConnector", "Enable-ExchangeCertificate")
_MAILBOX_ONLY = {"audit": ("Get-HybridConfiguration",), "write": ("Set-HybridConfiguration",)}

# Cumulative updates this collection supports, by AdminDisplayVersion (major, minor, build): Microsoft's
# "Exchange Server build numbers and release dates"; the same builds carry the 2026 security updates
# (microsoft/CSS-Exchange PR #2574: 15.1.2507, 15.2.1544, 15.2.1748, 15.2.2562).
SUPPORTED_BUILDS = {
    (15, 1, 2507): "Exchange Server 2016 CU23",
    (15, 2, 1544): "Exchange Server 2019 CU14",
    (15, 2, 1748): "Exchange Server 2019 CU15",
    (15, 2, 2562): "Exchange Server Subscription Edition RTM",
}
_SE_RTM_BUILD = 2562
_PRODUCTS = {(15, 0): "Exchange Server 2013", (15, 1): "Exchange Server 2016", (15, 2): "Exchange Server 2019"}
_DOTTED = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:\.(\d+))?$")
# Which role holds which cmdlet is the organisation's (Get-ManagementRole -Cmdlet); on Edge, local Administrators.
_RBAC_ACTION = ("give the account a role group whose roles hold these cmdlets (Get-ManagementRole -Cmdlet <name> "
                "lists them; Organization Management holds all), or on Edge make it a local Administrator")
# How a refused cmdlet fails: Windows, Active Directory and Exchange RBAC wordings, and a cmdlet RBAC left out of the
# session (CommandNotFoundException).
_ACCESS_DENIED = re.compile(r"access.?denied|unauthori[sz]ed|insufficient access rights|isn't within your current write scope|"
                            r"CommandNotFound|is not recognized as the name of a cmdlet", re.I)


# EdgeSync (Test-EdgeSynchronization and the organisation's servers, to know whether it has Edge servers) is
# read from the Mailbox servers: the cmdlet runs there, not on an Edge (Microsoft Learn, Test-EdgeSynchronization;
# "Edge Subscriptions"). ExcludeRecipientTest: configuration objects only, which is what the collection changes
# (send connectors); recipients take longer to compare and are not the collection's.
_EDGESYNC_STEPS = (
    {"id": "organization_servers", "cmdlet": "Get-ExchangeServer", "parameters": {}, "properties": ["Name", "IsEdgeServer"]},
    {"id": "edgesync", "cmdlet": "Test-EdgeSynchronization", "parameters": {"ExcludeRecipientTest": True},
     "properties": ["Name", "SyncStatus", "ConnectionResult", "FailureDetail"]},
)


def read_steps(server: str) -> List[dict]:
    """The audit's own read batch and the EdgeSync reads, every step tolerant: one refused cmdlet must not hide what
    the others show. The role is unknown until the batch runs, so an Edge server runs the EdgeSync reads too, and
    they are not judged there."""
    steps = transport_facts.read_steps(server, event_hours=1, max_events=1)
    steps += [dict(step, parameters=dict(step["parameters"]), properties=list(step["properties"])) for step in _EDGESYNC_STEPS]
    for step in steps:
        step["continue_on_error"] = True
    return steps


def _check(name: str, status: str, found: str, meaning: str, action: str = "") -> dict:
    return {"name": name, "status": status, "found": found, "meaning": meaning, "action": action}


def _steps(raw: dict) -> Dict[str, dict]:
    return {step.get("id"): step for step in raw.get("steps") or [] if isinstance(step, dict)}


def _objects(step: Optional[dict]) -> List[dict]:
    if not step or step.get("status") == "error":
        return []
    return [obj for obj in step.get("objects") or [] if isinstance(obj, dict)]


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and value.strip().lstrip("-").isdigit())


# ------------------------------------------------------------------ checks
def _reads(steps: Dict[str, dict], facts_error: Optional[str]) -> dict:
    if not steps and facts_error:
        return _check("reads", "fail", facts_error, "nothing could be read from this server, so neither the audit "
                      "nor the remediation can run here", "fix what the message names, then run this playbook again")
    failed = [(sid, steps[sid]) for sid in _REQUIRED_STEPS if sid in steps and steps[sid].get("status") == "error"]
    missing = [sid for sid in _REQUIRED_STEPS if sid not in steps]
    if failed or missing:
        found = "; ".join(f"{s.get('cmdlet', sid)} failed: {s.get('error') or 'no message'}" for sid, s in failed)
        if missing:
            found = "; ".join(filter(None, [found, "no result for " + ", ".join(missing)]))
        return _check("reads", "fail", found, "the audit's read batch cannot complete on this server, so neither "
                      "the audit nor the remediation can run here",
                      "fix what the message names (for a refusal: " + _RBAC_ACTION + "), then run this playbook again")
    if facts_error:
        return _check("reads", "fail", facts_error, "the read batch ran but its result does not describe this server",
                      "check the inventory host name and the module's server option")
    return _check("reads", "pass", "every cmdlet of the audit's read batch ran", "the audit can read this server")


def _session(raw: dict, role: Optional[str]) -> dict:
    session = raw.get("session")
    if session is None and not raw.get("steps"):
        return _check("session", "not_checked", "the launch failed before a session opened",
                      "the session mode cannot be judged", "see the reads check")
    if session not in ("snapin", "remote"):
        return _check("session", "not_checked", f"the payload did not say which session it opened ({session!r})",
                      "the session mode cannot be judged", "update the collection on the controller")
    if role == "Edge" and session != "snapin":
        return _check("session", "fail", "a remote session on an Edge Transport server",
                      "Edge servers have no remote Exchange PowerShell endpoint; the snap-ins are the only session",
                      "use session=auto (the default) or session=snapin for Edge servers")
    if role == "Mailbox" and session == "snapin":
        return _check("session", "warn", "the Exchange snap-ins on a Mailbox server",
                      "Microsoft supports automating Exchange 2010 and later through remote PowerShell, not by "
                      "loading the snap-ins (KB 2827611); what RBAC allows the account is then not what was checked",
                      "use session=auto (the default) or session=remote for Mailbox servers")
    return _check("session", "pass", f"session={session}", "the session Exchange supports for this role")


def _version(facts: Optional[dict]) -> dict:
    server = (facts or {}).get("server") or {}
    text, role = server.get("version"), server.get("role")
    if not text:
        return _check("version", "not_checked", "Get-ExchangeServer returned no AdminDisplayVersion",
                      "the Exchange version is unknown")
    match = _DOTTED.match(str(text))
    if match is None:
        return _check("version", "warn", f"AdminDisplayVersion {text!r}, role {role}",
                      "a version this collection does not recognise",
                      "attach environment.json to a bug report so the version can be added")
    major, minor, build = (int(part) for part in match.groups()[:3])
    found = f"{text}, role {role}"
    name = SUPPORTED_BUILDS.get((major, minor, build))
    if name is None and (major, minor) == (15, 2) and build > _SE_RTM_BUILD:
        name = "Exchange Server Subscription Edition (an update later than RTM)"
    if name is not None:
        return _check("version", "pass", f"{name} ({found})", "a version the collection is built for")
    product = _PRODUCTS.get((major, minor), f"Exchange {major}.{minor}")
    return _check("version", "warn", f"{product} build {build} ({found})",
                  "not one of the supported cumulative updates (2016 CU23, 2019 CU14/CU15, Subscription Edition); "
                  "the cmdlets and object shapes the collection relies on were not verified there",
                  "install a supported cumulative update")


def _fidelity(steps: Dict[str, dict]) -> dict:
    step = steps.get("certificates")
    objects = _objects(step)
    if not objects:
        found = "Get-ExchangeCertificate failed" if step and step.get("status") == "error" else "no certificate returned"
        return _check("certificate_fidelity", "not_checked", found, "without a certificate, fidelity cannot be judged")
    missing = sorted({prop for obj in objects for prop in FIDELITY_PROPERTIES if obj.get(prop) is None},
                     key=FIDELITY_PROPERTIES.index)
    if not missing:
        return _check("certificate_fidelity", "pass", f"{', '.join(FIDELITY_PROPERTIES)} present on all "
                      f"{len(objects)} certificates", "the session returns full-fidelity certificates")
    raw_only = all(obj.get("Thumbprint") is None and obj.get("RawData") is not None for obj in objects)
    found = f"{', '.join(missing)} missing on {sum(any(o.get(p) is None for p in missing) for o in objects)} of " \
            f"{len(objects)} certificates" + ("; only RawData arrived" if raw_only else "")
    return _check("certificate_fidelity", "fail", found,
                  "not full fidelity: the session did not rebuild Exchange's certificate objects, so which "
                  "certificate has SMTP, is valid or has its private key is unknown; the audit reports these as "
                  "unknown and the remediation blocks rather than guess",
                  "open the session with serializationLevel=Full (session=auto does), and if only RawData arrives, "
                  "repair serialization data signing (the Auth certificate) as Microsoft's CSS-Exchange scripts "
                  "describe")


def _enum_values(steps: Dict[str, dict]) -> List[Any]:
    values = []
    for sid, props in _ENUM_PROPERTIES.items():
        for obj in _objects(steps.get(sid)):
            for prop in props:
                value = obj.get(prop)
                values.extend(value if isinstance(value, list) else [value])
    return [v for v in values if v is not None and v != ""]


def _enum_form(steps: Dict[str, dict]) -> dict:
    values = _enum_values(steps)
    if not values:
        return _check("enum_form", "not_checked", "no enum value arrived", "the enum form cannot be judged")
    numbers = sum(1 for v in values if _is_number(v))
    if numbers == 0:
        return _check("enum_form", "pass", "names (such as \"IIS, SMTP\")", "enums arrive by name, as documented")
    form = "integers" if numbers == len(values) else "names and integers mixed"
    return _check("enum_form", "warn", f"{form} ({numbers} of {len(values)} values)",
                  "the session did not rehydrate Exchange types; the collection reads the documented integer values "
                  "too, but the session is not the one it was built for",
                  "open the session with serializationLevel=Full (session=auto does)")


def _rbac(raw: dict, steps: Dict[str, dict], role: Optional[str]) -> dict:
    edge = role == "Edge"
    audit = list(_AUDIT_CMDLETS) + ([] if edge else list(_MAILBOX_ONLY["audit"]))
    write = list(_WRITE_CMDLETS) + ([] if edge else list(_MAILBOX_ONLY["write"]))
    # Only cmdlets this role should have: Get-HybridConfiguration fails on Edge by design.
    denied = [s.get("cmdlet") for s in steps.values() if s.get("status") == "error" and s.get("cmdlet") in audit
              and _ACCESS_DENIED.search(f"{s.get('error')} {s.get('error_id')}")]
    available = raw.get("available_cmdlets")
    if not isinstance(available, list):
        if denied:
            return _check("rbac", "fail", f"access denied to {', '.join(denied)}", "the audit cannot run here",
                          _RBAC_ACTION)
        return _check("rbac", "not_checked", "the payload did not report which cmdlets the account can run",
                      "RBAC trimming cannot be judged", "update the collection on the controller")
    have = {str(name).lower() for name in available}
    no_read = [c for c in audit if c.lower() not in have or c in denied]
    no_write = [c for c in write if c.lower() not in have]
    if no_read:
        return _check("rbac", "fail", f"not available to this account: {', '.join(no_read + no_write)}",
                      "the audit cannot read this server", _RBAC_ACTION)
    if no_write:
        return _check("rbac", "warn", f"not available to this account: {', '.join(no_write)}",
                      "the audit works; the remediation cannot change this server",
                      "for remediation: " + _RBAC_ACTION)
    return _check("rbac", "pass", f"all {len(audit) + len(write)} Exchange cmdlets the collection uses",
                  "the account can audit and remediate")


def _edge_certificate(facts: Optional[dict]) -> dict:
    thumbprint = (facts or {}).get("internal_transport_certificate")
    if not thumbprint:
        return _check("edge_transport_certificate", "not_checked", "Get-TransportService named no certificate",
                      "the certificate EdgeSync's direct trust uses is unknown")
    certificate = next((c for c in facts.get("certificates") or [] if c.get("thumbprint") == thumbprint), None)
    if certificate is None:
        return _check("edge_transport_certificate", "warn", f"{thumbprint} is not in the Edge's certificate store",
                      "the Edge's default certificate, which its Edge Subscription trusts, is gone",
                      "put the certificate back or re-create the Edge Subscription (New-EdgeSubscription)")
    if certificate.get("expired") or certificate.get("status") == "DateInvalid":
        return _check("edge_transport_certificate", "warn", f"{thumbprint} has expired",
                      "EdgeSync and mail between the Edge and the Mailbox servers stop trusting it",
                      "renew it, then re-create the Edge Subscription")
    return _check("edge_transport_certificate", "pass", f"{thumbprint} is in the store",
                  "the Edge's default certificate exists; remediation never replaces it")


def _edgesync_on_edge() -> dict:
    # Test-EdgeSynchronization runs on a Mailbox server of the organisation, not on the Edge (Microsoft Learn,
    # Test-EdgeSynchronization): the Mailbox servers' edgesync check covers this Edge.
    return _check("edgesync", "not_checked", "EdgeSync is tested from the Mailbox servers, not on the Edge",
                  "this Edge's synchronization is in the edgesync check of the organisation's Mailbox servers",
                  "run this playbook on the Mailbox servers too (or on a Mailbox server: Test-EdgeSynchronization "
                  "-ExcludeRecipientTest)")


# Test-EdgeSynchronization's SyncStatus per Edge Subscription. Normal: AD LDS holds what Active Directory holds.
# Failed: EdgeSync cannot synchronise that Edge (commonly its credentials: the subscription pinned the Edge's
# certificate), so a send connector changed on a Mailbox server, as remediation does, never reaches the Edge and it
# keeps sending with the old TlsCertificateName. Anything else (Warning, ...): out of date or incomplete.
_EDGESYNC_ACTION = ("on a Mailbox server run Test-EdgeSynchronization -ExcludeRecipientTest and Start-EdgeSynchronization; "
                    "if it stays Failed, re-create the Edge Subscription (New-EdgeSubscription on the Edge, then on a "
                    "Mailbox server; rerun the Hybrid Configuration Wizard afterwards in a hybrid organisation)")


def _edgesync(steps: Dict[str, dict]) -> Optional[dict]:
    """The edgesync check of a Mailbox server, or None when the organisation has no Edge server to synchronise."""
    listing, tested = steps.get("organization_servers"), steps.get("edgesync")
    if listing is None or tested is None:
        return _check("edgesync", "not_checked", "the batch did not test EdgeSync", "EdgeSync is not verified",
                      "update the collection on the controller")
    if listing.get("status") == "error":
        return _check("edgesync", "not_checked", f"Get-ExchangeServer (the organisation's servers) failed: {listing.get('error')}",
                      "whether the organisation has Edge servers is unknown, so EdgeSync is not verified", _RBAC_ACTION)
    edges = sorted(str(o.get("Name")) for o in _objects(listing) if str(o.get("IsEdgeServer")).lower() == "true")
    if not edges:
        return None
    if tested.get("status") == "error":
        return _check("edgesync", "not_checked", f"Test-EdgeSynchronization failed: {tested.get('error')}",
                      f"EdgeSync to {', '.join(edges)} is not verified", _RBAC_ACTION)
    statuses = {str(o.get("Name")): o for o in _objects(tested)}
    failed = sorted(name for name, o in statuses.items() if str(o.get("SyncStatus")).lower() == "failed")
    other = sorted(name for name, o in statuses.items()
                   if str(o.get("SyncStatus")).lower() not in ("normal", "failed"))
    missing = [name for name in edges if name.lower() not in {n.lower() for n in statuses}]

    def described(names: List[str]) -> str:
        return "; ".join(f"{n} {statuses[n].get('SyncStatus')}" + (f" ({statuses[n].get('FailureDetail')})"
                                                                   if statuses[n].get("FailureDetail") else "")
                         for n in names)
    if failed:
        return _check("edgesync", "fail", described(failed + other),
                      "EdgeSync cannot synchronise these Edge servers: a send connector changed on a Mailbox server, "
                      "as the remediation does, does not reach them, and they keep sending with the old name", _EDGESYNC_ACTION)
    if other or missing:
        found = "; ".join(filter(None, [described(other), "no synchronization status for " + ", ".join(missing) if missing else ""]))
        return _check("edgesync", "warn", found,
                      "these Edge servers may not hold what Active Directory holds yet; EdgeSync runs every few minutes, "
                      "and an Edge without a status may have no Edge Subscription", _EDGESYNC_ACTION)
    return _check("edgesync", "pass", f"SyncStatus Normal for {', '.join(sorted(statuses))}",
                  "EdgeSync synchronises every Edge Subscription, so send connector changes reach the Edge servers")


def server_checks(raw: dict, facts: Optional[dict], facts_error: Optional[str] = None) -> List[dict]:
    """The checks of one server from its read batch ``raw`` and its parsed facts (None if they could not be parsed)."""
    steps = _steps(raw)
    role = ((facts or {}).get("server") or {}).get("role")
    if role is None:
        objects = _objects(steps.get("server"))
        if objects:
            role = "Edge" if str(objects[0].get("IsEdgeServer")).lower() == "true" else "Mailbox"
    checks = [_reads(steps, facts_error), _session(raw, role), _version(facts), _fidelity(steps), _enum_form(steps),
              _rbac(raw, steps, role)]
    if role == "Edge":
        checks += [_edge_certificate(facts), _edgesync_on_edge()]
    elif role is not None and (edgesync := _edgesync(steps)) is not None:
        checks.append(edgesync)
    return checks


def probe_check(probed: Optional[dict], error: Optional[str] = None) -> dict:
    """The SMTP check from smtp_probe.probe's result, or the ProbeError message; None for both: not probed."""
    if probed is None and error is None:
        return _check("smtp_starttls", "not_checked", "not probed (probe=false)",
                      "whether the controller reaches port 25 is not verified")
    where = f"{(probed or {}).get('host')}:{(probed or {}).get('port')}"
    if error is not None:
        return _check("smtp_starttls", "fail", f"{where}: {error}",
                      "the controller cannot reach SMTP here, so the audit's probe and the remediation's proof fail",
                      "open port 25 from the controller, set exchange_smtp_host/exchange_smtp_port for this host, "
                      "or run the audit with connector_tls_probe=false")
    if not probed.get("starttls_offered"):
        return _check("smtp_starttls", "warn", f"{where}: connected, STARTTLS not offered",
                      "the probe works; the connector offers no STARTTLS, which the audit reports",
                      "run the audit")
    if not probed.get("tls_established"):
        return _check("smtp_starttls", "warn", f"{where}: STARTTLS offered, handshake failed: {probed.get('error')}",
                      "the probe works; the certificate transport picks cannot be used, which the audit reports",
                      "run the audit")
    return _check("smtp_starttls", "pass", f"{where}: STARTTLS, {probed.get('tls_version')}, certificate "
                  f"{probed.get('thumbprint')}", "the controller can prove a fix with the SMTP probe")


def verdict(checks: List[dict]) -> str:
    """fail > warn > pass; a server where nothing passed is not_checked, never pass."""
    statuses = {check["status"] for check in checks}
    for status in ("fail", "warn"):
        if status in statuses:
            return status
    return "pass" if "pass" in statuses else "not_checked"


def summary_lines(servers: Dict[str, dict]) -> List[str]:
    """Readable lines: one verdict per server, then each check that is not a pass."""
    lines = []
    for name in sorted(servers):
        entry = servers[name]
        lines.append(f"{name}: {entry['verdict'].upper()}")
        for check in entry["checks"]:
            if check["status"] != "pass":
                tail = f" -> {check['action']}" if check.get("action") else ""
                lines.append(f"  {check['status']:<11} {check['name']}: {check['found']}{tail}")
    return lines


def document(servers: Dict[str, dict], generated_at: str, versions: Dict[str, Optional[str]]) -> dict:
    """environment.json (schemas/environment-v1.schema.json); ``versions``: collection and ansible_core."""
    verdicts = [entry["verdict"] for entry in servers.values()]
    return {
        "schema": SCHEMA,
        "generated_at": generated_at,
        "collection_version": versions.get("collection"),
        "ansible_core_version": versions.get("ansible_core"),
        "verdict": verdict([{"status": v} for v in verdicts]) if verdicts else "not_checked",
        "servers": servers,
    }
