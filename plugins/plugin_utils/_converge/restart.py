# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether role connector_tls restarts a server's transport service after its change, and why.

Restarting transport interrupts mail flow on that server, so a restart needs
evidence that it can help: this run changed a receive connector on the server,
and the SMTP probe reached port 25 and completed its dialogue, and what it saw
is the configuration before the change (no STARTTLS where the changed connector
now offers it, or another certificate than the one the configuration selects).
A probe that could not connect, timed out or broke off proves nothing about
transport: its result is "unknown", and a restart cannot open a port that a
firewall between the controller and the server closes (outbound port 25 is
blocked by default at large cloud providers, where an AWX controller may run).

``always`` restarts every server this run changed, without looking at the
probe; ``never`` restarts nothing. A server the run did not change is never
restarted.

Pure Python: no Ansible imports.
"""

from __future__ import annotations

from typing import Optional

POLICIES = ("never", "if_needed", "always")
# What a probe result proves about transport, in report.json's probe entries (``status``).
PROBE_OK, PROBE_PROBLEM, PROBE_UNKNOWN = "ok", "problem", "unknown"


def probe_status(probe: Optional[dict], expected_thumbprint: Optional[str]) -> str:
    """ok (transport presents what the configuration selects), problem (it does not), unknown (the probe failed)."""
    if not probe or probe.get("skipped"):
        return PROBE_UNKNOWN
    if probe.get("failed") or probe.get("unreachable") or not probe.get("connected"):
        return PROBE_UNKNOWN
    if not expected_thumbprint:
        return PROBE_OK
    if probe.get("thumbprint") and str(probe["thumbprint"]).upper() == str(expected_thumbprint).upper():
        return PROBE_OK
    return PROBE_PROBLEM


def decide(policy: str, host_changed: bool, probe: Optional[dict], target: Optional[dict]) -> dict:
    """{restart, service, probe (ok/problem/unknown/none), reason}: the decision for one server, in words.

    ``probe`` is the registered result of the probe after the change (smtp_tls_probe), ``target`` what
    probe_target returns for the server's facts after the run (None: no port-25 connector).
    """
    if policy not in POLICIES:
        raise ValueError(f"connector_tls_restart_transport must be one of {', '.join(POLICIES)}, got {policy!r}")
    service = (target or {}).get("service")
    expected = (target or {}).get("expected_thumbprint")
    ran = bool(probe) and not probe.get("skipped")
    status = probe_status(probe, expected) if ran else "none"

    def result(restart: bool, reason: str) -> dict:
        return {"restart": restart, "service": service, "probe": status, "reason": reason}

    if policy == "never":
        return result(False, "connector_tls_restart_transport is never")
    if not host_changed:
        return result(False, "this run changed nothing on this server, so a restart cannot be what it needs")
    if not service:
        return result(False, "this server has no enabled port-25 receive connector, so no transport service serves the change")
    if policy == "always":
        return result(True, "connector_tls_restart_transport is always and this run changed a receive connector")
    if not ran:
        return result(False, "no SMTP probe ran (connector_tls_probe is false), so nothing shows that transport needs a restart")
    where = f"{probe.get('host')}:{probe.get('port')}"
    if status == PROBE_UNKNOWN:
        return result(False, (
            f"the SMTP probe of {where} did not complete ({probe.get('error') or probe.get('msg') or 'no answer'}), so"
            " whether transport loaded the change is unknown; a restart cannot fix an unreachable port, so none was made"))
    if status == PROBE_OK:
        return result(False, f"the SMTP probe of {where} shows what the configuration selects")
    if not probe.get("starttls_offered"):
        return result(True, f"STARTTLS did not come back after the change: {where} offers no STARTTLS, but the"
                            f" configuration selects certificate {expected}")
    if probe.get("tls_established"):
        return result(True, f"STARTTLS did not come back after the change: {where} presented certificate"
                            f" {probe.get('thumbprint')}, not {expected} as the configuration selects")
    # STARTTLS offered, handshake failed: the certificate itself (SMTP service, private key) is the cause.
    return result(False, f"{where} offers STARTTLS but the handshake failed ({probe.get('error') or 'no detail'});"
                         " a restart does not fix the certificate, so none was made")


__all__ = ["POLICIES", "PROBE_OK", "PROBE_PROBLEM", "PROBE_UNKNOWN", "decide", "probe_status"]
