# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the SMTP probe proves: which receive connector answers on port 25 and what transport should present there
(``probe_target``), and the findings a probe result makes against that (``starttls_*``, ``smtp_probe_failed``).
Pure Python: no Ansible imports.
"""

from __future__ import annotations

import ipaddress

from typing import List, Optional

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import receive_selection
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.restart import probe_status

# Report-level codes: what the SMTP probe saw against what the configuration makes transport present.
PROBE_CODES = {
    "starttls_not_offered": "the connector should offer STARTTLS but the SMTP probe saw none",
    "starttls_certificate_mismatch": "the SMTP probe was shown another certificate than the one the configuration selects",
    "starttls_handshake_failed": "STARTTLS was offered but the TLS handshake failed",
    "smtp_probe_failed": "the SMTP probe could not connect or the SMTP dialogue failed",
}


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
