# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Enabling SMTP on a certificate without losing the server's default SMTP certificate.

Why this is its own module: ``Enable-ExchangeCertificate -Services SMTP`` on
a certificate that is not the default (internal transport) certificate asks
"Overwrite the existing default SMTP certificate?". A non-interactive host
cannot answer, and ``-Force`` answers Yes: it replaces the default, which
breaks EdgeSync on an Edge server and goes against Microsoft's advice to keep
the self-signed default (docs/exchange-behaviour.md#smtp-enabling). No cmdlet sets the
default directly, so this follows Microsoft's own non-interactive pattern
(New-ExchangeAuthCertificate.ps1):

1. record ``InternalTransportCertificateThumbprint``;
2. ``Enable-ExchangeCertificate <new> -Services SMTP -Force``;
3. ``Enable-ExchangeCertificate <previous> -Services SMTP -Force`` to put
   the default back, in the same launch so the window is short and an Edge
   server never ends a launch with another default;
4. read back the default and the new certificate's services; when the read
   disagrees, read again after a wait (Microsoft's script sleeps 10 s before
   its re-read) for at most ``sum(READBACK_WAITS)`` seconds before declaring
   that the default was not put back.

The restore names SMTP only. Services are additive (Enable-ExchangeCertificate
documentation), so the previous default keeps every service it had; naming
them again only adds ways to fail: UM and UMCallRouter fail while
UMStartupMode is TCP, Federation is not to be enabled this way, IIS would
rebind the web site. A failed restore would leave the new certificate as the
default, which on an Edge server breaks EdgeSync.

Directory replication: the default lives in Active Directory
(msExchServerInternalTLSCert on the server object), so a read served by
another domain controller than the write may return the value from before
the enable or the restore. The controller pins one domain controller
(``domain_controller``) for the guards, the enable, the restore and the
read-back of a launch, the way Exchange itself writes through the domain
controller an object was read from (its OriginatingServer); the polled
read-back covers the case where no domain controller is known. On an Edge
server there is none to pin: its AD LDS is local.

The launch that enables is guarded: if the default is no longer the one
recorded (someone changed it in between), nothing is enabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import exchange_enums
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import (
    Change,
    ENABLE,
    PlanError,
    RESTORE,
    VERIFY,
    guard_id,
    readback_id,
    step,
    step_id,
    steps_by_id,
)

UNKNOWN = "unknown"

# Seconds to wait before each re-read of a default that read back as another certificate after a
# successful restore: Microsoft's New-ExchangeAuthCertificate.ps1 sleeps 10 s once; three reads cover
# the replication between domain controllers of one site in most organisations (bounded: 30 s).
READBACK_WAITS = (10, 10, 10)


@dataclass
class SmtpEnable:
    """SMTP to enable on one certificate of one server, keeping its default SMTP certificate."""

    server: str
    thumbprint: str
    subject: Optional[str]
    services_before: object          # list of names, or "unknown"
    default_thumbprint: str
    default_services: object         # list of names, or "unknown"
    edge: bool = False
    # Services exactly as the facts read them (by name or by number): what the guard expects to read again.
    services_value: object = None
    # Filled from the results (record()):
    enabled: bool = False            # Enable-ExchangeCertificate on the new certificate succeeded
    restored: bool = False           # the previous default was enabled again
    services_after: Optional[List[str]] = None
    default_after: Optional[str] = None
    done: bool = False               # enabled, restored and read back as expected

    @property
    def key(self) -> str:
        # The same certificate (thumbprint) can be imported on several servers.
        return f"{self.server}\\{self.thumbprint}"

    @staticmethod
    def restore_services() -> str:
        # SMTP only: services are additive, so the previous default keeps the others, and exchange_command
        # accepts no other value for Services (Microsoft's restore is -Services SMTP -Force).
        return "SMTP"

    def repair_command(self) -> str:
        return (
            f"Enable-ExchangeCertificate -Server {self.server} -Thumbprint {self.default_thumbprint}"
            f" -Services {self.restore_services().replace(' ', '')} -Force"
        )

    def as_dict(self) -> dict:
        return {
            "server": self.server,
            "enabled": self.thumbprint,
            "services_before": self.services_before,
            "services_after": self.services_after,
            "internal_transport_certificate": {"before": self.default_thumbprint, "after": self.default_after},
            "done": self.done,
        }

    def planned_change(self) -> Change:
        """The services change Enable-ExchangeCertificate -Services SMTP makes (services are additive)."""
        after = ([] if self.services_before == UNKNOWN else list(self.services_before)) + ["SMTP"]
        return Change("certificate", self.thumbprint, "Services", self.services_before, after, self.server)

    def changes(self) -> List[Change]:
        """What the enabling changed on the server, as far as its results tell."""
        if not self.enabled:
            return []
        made = [self.planned_change()]
        if self.services_after is not None:
            made[0].after = self.services_after
        if self.default_after is not None and self.default_after.upper() != self.default_thumbprint.upper():
            made.append(Change("transport_service", self.server, "InternalTransportCertificateThumbprint",
                               self.default_thumbprint, self.default_after, self.server))
        return made


def needs_smtp(certificate: dict) -> Optional[bool]:
    """True when SMTP is missing, False when present, None when Exchange did not say."""
    services = certificate.get("services")
    if services == UNKNOWN or services is None:
        return None
    return "SMTP" not in services


def plan(facts: dict, certificate: dict) -> SmtpEnable:
    """The SMTP enabling of ``certificate`` on the server of ``facts``; PlanError when the default could not be kept."""
    server = facts["server"]["name"]
    default = facts.get("internal_transport_certificate")
    current = next((c for c in facts["certificates"] if c["thumbprint"] == default), None) if default else None
    if current is None:
        where = "is not set" if default is None else f"({default}) is not in the certificate store"
        raise PlanError(
            f"SMTP must be enabled on {certificate['thumbprint']} on {server}, but the default SMTP certificate of"
            f" {server} {where}. Enable-ExchangeCertificate -Force would make {certificate['thumbprint']} the default,"
            " and there would be nothing to put back. Recreate the default first (New-ExchangeCertificate -Services"
            " SMTP -Force, a self-signed certificate; on an Edge server re-create the Edge subscription), then run again."
        )
    if current.get("has_private_key") is not True:
        key = "has no private key" if current.get("has_private_key") is False else (
            "has a private key Exchange did not report (a session without serializationLevel=Full, or an expired"
            " or missing Auth certificate, loses it)")
        raise PlanError(
            f"SMTP must be enabled on {certificate['thumbprint']} on {server}, but the default SMTP certificate"
            f" {default} {key}, so Enable-ExchangeCertificate could not be trusted to put it back after -Force made"
            f" {certificate['thumbprint']} the default. Recreate the default first (New-ExchangeCertificate -Services"
            " SMTP -Force), then run again."
        )
    if current.get("expired") or current.get("not_yet_valid"):
        raise PlanError(
            f"SMTP must be enabled on {certificate['thumbprint']} on {server}, but the default SMTP certificate"
            f" {default} is not valid now (expires {current.get('not_after')}); Exchange may refuse to enable it again"
            f" after -Force made {certificate['thumbprint']} the default. Recreate the default first"
            " (New-ExchangeCertificate -Services SMTP -Force; on an Edge server re-create the Edge subscription), then run again."
        )
    return SmtpEnable(
        server=server,
        thumbprint=certificate["thumbprint"],
        subject=certificate.get("subject"),
        services_before=certificate.get("services"),
        default_thumbprint=default,
        default_services=current.get("services"),
        edge=facts["server"].get("role") == "Edge",
        services_value=certificate.get("services_value"),
    )


def services_text(services: object) -> str:
    """Services as the payload flattens AllowedServices ("IIS, SMTP"; none is "None")."""
    return ", ".join(services) if isinstance(services, list) and services else "None"


def _guards(item: SmtpEnable) -> List[dict]:
    # The default is still the recorded one and still in the store (so it can be put back), and the new
    # certificate's services are still those the decision saw (facts taken before another run enabled SMTP
    # would otherwise swap the default twice for nothing).
    return [
        step(guard_id("transport_service", item.server), "Get-TransportService", {"Identity": item.server},
             ["InternalTransportCertificateThumbprint"], {"InternalTransportCertificateThumbprint": item.default_thumbprint}),
        step(guard_id("certificate", f"{item.server}\\{item.default_thumbprint}"), "Get-ExchangeCertificate",
             {"Server": item.server, "Thumbprint": item.default_thumbprint}, ["Thumbprint"], {"Thumbprint": item.default_thumbprint}),
        step(guard_id("certificate", item.key), "Get-ExchangeCertificate",
             {"Server": item.server, "Thumbprint": item.thumbprint}, ["Thumbprint", "Services"],
             {"Thumbprint": item.thumbprint,
              "Services": services_text(item.services_before) if item.services_value is None else item.services_value}),
    ]


def enable_steps(items: List[SmtpEnable]) -> List[dict]:
    """One launch: every guard, then per certificate enable and restore back to back, then read-backs."""
    steps: List[dict] = []
    for item in items:
        steps.extend(s for s in _guards(item) if s["id"] not in {k["id"] for k in steps})
    for item in items:
        steps.append(step(step_id(ENABLE, "certificate", item.key), "Enable-ExchangeCertificate",
                          {"Server": item.server, "Thumbprint": item.thumbprint, "Services": "SMTP", "Force": True}))
        steps.append(step(step_id(RESTORE, None, item.key), "Enable-ExchangeCertificate",
                          {"Server": item.server, "Thumbprint": item.default_thumbprint,
                           "Services": item.restore_services(), "Force": True}))
    for item in items:
        steps.extend(s for s in _readbacks(item) if s["id"] not in {k["id"] for k in steps})
    return steps


def _readbacks(item: SmtpEnable) -> List[dict]:
    return [
        step(readback_id("transport_service", item.server), "Get-TransportService", {"Identity": item.server},
             ["InternalTransportCertificateThumbprint"]),
        step(readback_id("certificate", item.key), "Get-ExchangeCertificate",
             {"Server": item.server, "Thumbprint": item.thumbprint}, ["Thumbprint", "Services"]),
    ]


def verify_steps(items: List[SmtpEnable]) -> List[dict]:
    """Guards for the next launch: the default is still the recorded one (so later writes may go on)."""
    servers = {item.server: item for item in items}
    return [
        step(step_id(VERIFY, "transport_service", item.server), "Get-TransportService", {"Identity": item.server},
             ["InternalTransportCertificateThumbprint"], {"InternalTransportCertificateThumbprint": item.default_thumbprint})
        for item in servers.values()
    ]


def _services(value: object) -> List[str]:
    # By name ("IIS, SMTP") or, from a session that could not rehydrate the enum, by number (24).
    try:
        return exchange_enums.ALLOWED_SERVICES.names(value, "Services", "the certificate read back")
    except exchange_enums.EnumValueError:
        return [str(value)]


def _edge_words(item: SmtpEnable) -> str:
    if not item.edge:
        return ""
    return (" On this Edge server EdgeSync stops working while the default differs from the certificate the"
            " subscription pinned; once the default is back, check it with Test-EdgeSynchronization on a Mailbox server.")


def not_restored_message(item: SmtpEnable, live_default: Optional[str], cause: str) -> str:
    """What state the server is in when the default could not be put back, and how to repair it."""
    live = live_default or "unknown (it could not be read)"
    return (
        f"SMTP was enabled on {item.thumbprint} on {item.server}, and Enable-ExchangeCertificate -Force made it the"
        f" default SMTP certificate; putting the previous default {item.default_thumbprint} back failed: {cause}."
        f" {item.server}'s default SMTP (internal transport) certificate is now {live}; no connector was changed."
        f" Repair it in the Exchange Management Shell: {item.repair_command()}, then check with"
        f" Get-TransportService {item.server} | Format-List InternalTransportCertificateThumbprint.{_edge_words(item)}"
    )


def record(items: List[SmtpEnable], result: dict) -> None:
    """Fill each item's outcome from an enabling launch's result, whether it completed or stopped."""
    steps = steps_by_id(result)
    for item in items:
        item.enabled = steps.get(step_id(ENABLE, "certificate", item.key), {}).get("status") == "ok"
        item.restored = steps.get(step_id(RESTORE, None, item.key), {}).get("status") == "ok"
        if item.enabled and not item.restored:
            # -Force makes the enabled certificate the default (docs/exchange-behaviour.md#smtp-enabling).
            item.default_after = item.thumbprint
    record_readback(items, result)


def record_readback(items: List[SmtpEnable], result: dict) -> None:
    """Take the default and the services read back by an enabling launch or by readback_steps."""
    steps = steps_by_id(result)
    for item in items:
        service = steps.get(readback_id("transport_service", item.server), {})
        certificate = steps.get(readback_id("certificate", item.key), {})
        if service.get("status") == "ok" and service.get("objects"):
            item.default_after = service["objects"][0].get("InternalTransportCertificateThumbprint")
        if certificate.get("status") == "ok" and certificate.get("objects"):
            item.services_after = _services(certificate["objects"][0].get("Services"))


def _settled(item: SmtpEnable) -> bool:
    return (item.default_after is None or item.default_after.upper() == item.default_thumbprint.upper()) and (
        item.services_after is None or "SMTP" in item.services_after)


def unsettled(items: List[SmtpEnable]) -> List[SmtpEnable]:
    """Enabled and restored without an error, yet read back otherwise: a domain controller may not have the writes yet."""
    return [i for i in items if i.enabled and i.restored and not _settled(i)]


def readback_steps(items: List[SmtpEnable]) -> List[dict]:
    """A read-only launch that reads the default and the services again (the polled read-back)."""
    steps: List[dict] = []
    for item in items:
        steps.extend(s for s in _readbacks(item) if s["id"] not in {k["id"] for k in steps})
    return steps


def read_enable_result(items: List[SmtpEnable], result: dict, waited: int = 0) -> Optional[str]:
    """Record what a completed enabling launch did; a failure message, or None when every default held.

    ``waited``: the seconds spent re-reading (record_readback) since the launch; the message says so.
    """
    if not waited:
        record(items, result)
    steps = steps_by_id(result)
    after = f" (read again for {waited} seconds)" if waited else ""
    for item in items:
        if not item.enabled:
            continue
        if not item.restored:
            cause = steps.get(step_id(RESTORE, None, item.key), {}).get("error") or "the step did not run"
            return not_restored_message(item, item.default_after, cause)
        if item.default_after is not None and item.default_after.upper() != item.default_thumbprint.upper():
            return not_restored_message(item, item.default_after, f"the default read back afterwards is another certificate{after}")
        if item.services_after is not None and "SMTP" not in item.services_after:
            return (f"Enable-ExchangeCertificate -Services SMTP on {item.thumbprint} on {item.server} completed, but the"
                    f" certificate's services read back as {', '.join(item.services_after) or 'None'}{after}; no connector"
                    " was changed. Check the certificate on the server (Get-ExchangeCertificate).")
        item.done = True
    return None


def failed_enable_message(items: List[SmtpEnable], result: dict) -> str:
    """An enabling launch that stopped (not at a guard): what it did before, and what to check."""
    record(items, result)
    for item in items:
        if item.enabled and not item.restored:
            steps = steps_by_id(result)
            cause = steps.get(step_id(RESTORE, None, item.key), {}).get("error") or "the batch stopped before it"
            return not_restored_message(item, item.default_after, cause)
    stop = result.get("stop") or {}
    cause = stop.get("message") or result.get("msg") or "no message"
    done = [i for i in items if i.enabled and i.restored]
    for item in done:
        item.done = True
    if not done:
        return (f"enabling SMTP failed: {cause}. Exchange reported the error before any certificate was enabled, so the"
                " default SMTP certificate should be unchanged; check with Get-TransportService | Format-List"
                " Name,InternalTransportCertificateThumbprint. No connector was changed.")
    listing = ", ".join(f"{i.thumbprint} on {i.server}" for i in done)
    return (f"enabling SMTP stopped: {cause}. Before that, SMTP was enabled on {listing}, with the default SMTP"
            " certificate put back; no connector was changed. Run again once the cause is fixed.")


__all__ = [
    "SmtpEnable",
    "record",
    "services_text",
    "enable_steps",
    "failed_enable_message",
    "needs_smtp",
    "not_restored_message",
    "plan",
    "read_enable_result",
    "readback_steps",
    "record_readback",
    "unsettled",
    "verify_steps",
]
