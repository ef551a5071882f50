"""The simulated Exchange organisation: its objects and the transport's rules.

Built from a validated scenario (scenario/). Cmdlets (cmdlets/) read and
change it; the SMTP listener asks it which certificate STARTTLS presents. The
rules are those of lab/docs/scenario-format.md, which follow Microsoft's documentation
(docs/exchange-behaviour.md).
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from dataclasses import dataclass, field

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import receive_selection, tls_name

from . import scenario as scenario_mod
from .pki import MintedCertificate, MintError, Minter

# AllowedServices and AuthMechanisms are [Flags] enums; .NET's ToString lists
# the set names in ascending bit order, which is what the payload returns.
SERVICE_BITS = {"IMAP": 1, "POP": 2, "UM": 4, "IIS": 8, "SMTP": 16, "Federation": 32, "UMCallRouter": 64}
AUTH_BITS = {"Tls": 1, "Integrated": 2, "BasicAuth": 4, "BasicAuthRequireTLS": 8, "ExchangeServer": 16, "ExternalAuthoritative": 32}

EVENT_NO_CERTIFICATE = 12014
EVENT_CERTIFICATE_EXPIRED = 12016


class ModelError(ValueError):
    """The scenario is well-formed but describes something the lab cannot build."""


def flags_to_string(names, bits: dict[str, int]) -> str:
    chosen = [n for n in sorted(bits, key=bits.get) if n in set(names)]
    return ", ".join(chosen) if chosen else "None"


def domain_matches(pattern: str, name: str) -> bool:
    """TLS host matching: exact, or a leading '*.' standing for exactly one label."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern == name:
        return True
    if pattern.startswith("*."):
        head, _, tail = name.partition(".")
        return bool(head) and tail == pattern[2:]
    return False


class Clock:
    """The lab's clock: starts at the scenario's `now` and runs in real time."""

    def __init__(self, start: dt.datetime | None):
        self._start = start
        self._t0 = time.monotonic()

    def now(self) -> dt.datetime:
        if self._start is None:
            return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        return (self._start + dt.timedelta(seconds=time.monotonic() - self._t0)).replace(microsecond=0)


class DirectoryError(LookupError):
    """A -DomainController the lab does not have."""


class Directory:
    """Active Directory as cmdlets see it: two domain controllers and the replication between them.

    With ``lag`` seconds (scenario ``replication_lag_seconds``), a write made
    through one domain controller is read at once through the same one and
    only ``lag`` seconds later through the other (lab/docs/scenario-format.md, Additions).
    When two writes reach the same attribute, the later one wins once both are
    visible (AD's last-writer-wins). The model's objects always hold the latest
    value (what transport acts on); only the cmdlets' reads go through here.
    Lag is measured on the monotonic clock, like the lab clock's progress.
    """

    def __init__(self, organization: str, lag: float):
        self.controllers = (f"dc1.{organization}.lab".lower(), f"dc2.{organization}.lab".lower())
        self.lag = lag
        # A cmdlet without -DomainController is served by either; seeded so a run is reproducible.
        self._random = random.Random(organization)
        self._base: dict[tuple, dict] = {}
        self._writes: dict[tuple, list[tuple[float, str, dict]]] = {}

    def serve(self, requested: str | None) -> str:
        """The domain controller that serves a cmdlet; DirectoryError for one the lab does not have."""
        if requested is None:
            return self._random.choice(self.controllers)
        wanted = requested.lower().rstrip(".")
        for dc in self.controllers:
            if wanted in (dc, dc.split(".", 1)[0]):
                return dc
        if self.lag > 0:
            raise DirectoryError(requested)
        # Without replication any name behaves as one consistent directory (older scenarios pass their own).
        return requested

    def wrote(self, key: tuple, dc: str | None, before: dict, after: dict) -> None:
        changed = {k: v for k, v in after.items() if before.get(k) != v}
        if not changed or self.lag <= 0 or dc is None:
            return
        base = self._base.setdefault(key, {})
        for attr in changed:
            base.setdefault(attr, before.get(attr))
        self._writes.setdefault(key, []).append((time.monotonic(), dc, changed))

    def view(self, key: tuple, dc: str | None, current: dict) -> dict:
        """``current`` (an object view) with each replicated attribute as ``dc`` sees it now."""
        writes = self._writes.get(key)
        if not writes or dc is None:
            return current
        now, seen = time.monotonic(), dict(current)
        for attr, value in self._base[key].items():
            for at, where, changed in writes:           # oldest first: the last visible write wins
                if attr in changed and (where == dc or now - at >= self.lag):
                    value = changed[attr]
            seen[attr] = value
        return seen


@dataclass
class Certificate:
    id: str
    subject: str
    issuer: str
    self_signed: bool
    domains: list[str]
    not_before: dt.datetime
    not_after: dt.datetime
    services: set[str]
    has_private_key: bool
    status: str
    in_store: bool
    minted: MintedCertificate
    friendly_name: str | None = None
    root_ca_type: str | None = None
    # Certificate quality (lab/docs/scenario-format.md, Additions); the minted certificate is what these say.
    key: str = "ECDSA P-256"
    signature_hash: str = "sha256"
    eku: list[str] = field(default_factory=lambda: ["serverAuth", "clientAuth"])
    include_chain: bool = True
    exportable: bool = False

    @property
    def thumbprint(self) -> str:
        return self.minted.thumbprint

    @property
    def tls_certificate_name(self) -> str:
        return tls_name.format_tls_certificate_name(self.issuer, self.subject)

    def covers(self, fqdn: str) -> bool:
        cn = tls_name.common_name(self.subject)
        return any(domain_matches(d, fqdn) for d in self.domains) or (cn is not None and domain_matches(cn, fqdn))

    def expired(self, now: dt.datetime) -> bool:
        return now > self.not_after or now < self.not_before


@dataclass
class ReceiveConnector:
    name: str
    server: "Server"
    transport_role: str | None
    bindings: list[str]
    fqdn: str | None
    auth_mechanism: list[str]
    permission_groups: list[str]
    tls_domain_capabilities: list[str]
    tls_certificate_name: str | None
    require_tls: bool
    remote_ip_ranges: list[str] = field(default_factory=lambda: list(receive_selection.ALL_ADDRESSES))
    # What the transport service loaded; differs from tls_certificate_name only
    # while a change waits for a service restart.
    effective_tls_certificate_name: str | None = None

    @property
    def identity(self) -> str:
        return f"{self.server.name}\\{self.name}"

    @property
    def ports(self) -> set[int]:
        return {int(b.rsplit(":", 1)[1]) for b in self.bindings}

    @property
    def service(self) -> str:
        # Front End Transport serves a Mailbox server's FrontendTransport connectors;
        # everything else (Hub connectors, every Edge connector) is MSExchangeTransport.
        if self.server.role == "Mailbox" and self.transport_role == "FrontendTransport":
            return "MSExchangeFrontEndTransport"
        return "MSExchangeTransport"


@dataclass
class SendConnector:
    name: str
    address_spaces: list[str]
    source_transport_servers: list[str]
    fqdn: str | None
    tls_certificate_name: str | None
    tls_auth_level: str | None
    tls_domain: str | None
    require_tls: bool
    cloud_services_mail_enabled: bool
    smart_hosts: list[str]
    # Per Edge source server, the TlsCertificateName EdgeSync copied there (what that Edge sends with).
    edge_copies: dict[str, str | None] = field(default_factory=dict)


@dataclass
class HybridConfiguration:
    tls_certificate_name: str | None
    receiving_transport_servers: list[str]
    sending_transport_servers: list[str]
    edge_transport_servers: list[str]


@dataclass
class Event:
    id: int
    source: str
    level: str
    time: dt.datetime
    message: str


@dataclass
class Selection:
    """What STARTTLS on a receive connector does right now."""

    offered: bool
    certificate: Certificate | None
    usable: bool            # False: offered, but the handshake fails (no SMTP on the certificate)
    reason: str


@dataclass
class Server:
    name: str
    fqdn: str
    role: str
    version: str
    certificates: list[Certificate]
    internal_transport_certificate: str | None     # thumbprint
    edge_subscription_certificate: str | None      # thumbprint
    transport_change_needs_restart: bool
    certificate_properties: str = "full"            # full | remote | raw_data
    enum_form: str = "name"                         # name | number
    receive_connectors: list[ReceiveConnector] = field(default_factory=list)
    faults: list[dict] = field(default_factory=list)
    launches: int = 0
    writes: int = 0
    restarts: int = 0
    events: list[Event] = field(default_factory=list)
    edgesync: str | None = None

    @property
    def is_edge(self) -> bool:
        return self.role == "Edge"

    def store(self) -> list[Certificate]:
        return [c for c in self.certificates if c.in_store]

    def certificate(self, thumbprint: str) -> Certificate | None:
        t = thumbprint.replace(" ", "").upper()
        return next((c for c in self.store() if c.thumbprint == t), None)

    def certificate_by_id(self, cert_id: str) -> Certificate:
        return next(c for c in self.certificates if c.id == cert_id)

    def matching(self, name: str | None) -> list[Certificate]:
        """Certificates in the store whose issuer and subject match a TlsCertificateName."""
        if not name:
            return []
        try:
            wanted = tls_name.parse_tls_certificate_name(name)
        except tls_name.TlsCertificateNameError:
            return []
        return [
            c
            for c in self.store()
            if c.subject.lower() == wanted.subject.lower()
            and (wanted.issuer is None or c.issuer.lower() == wanted.issuer.lower())
        ]


def _selection_order(cert: Certificate):
    # CA-issued before self-signed, then newest NotBefore; NotAfter and the
    # thumbprint only make the order total so the lab is deterministic.
    return (cert.self_signed, -cert.not_before.timestamp(), -cert.not_after.timestamp(), cert.thumbprint)


class Organization:
    """The whole simulated organisation. All access goes through `lock`."""

    def __init__(self, scenario: dict, minter: Minter | None = None):
        self.lock = threading.RLock()
        self.name = scenario["organization"]
        self.clock = Clock(scenario.get("now"))
        self.launch_seconds = float(scenario["latency"]["launch_seconds"])
        self.directory = Directory(self.name, float(scenario.get("replication_lag_seconds") or 0.0))
        self.minter = minter or Minter()
        self.servers: dict[str, Server] = {}
        for s in scenario["servers"]:
            self.servers[s["name"].lower()] = self._build_server(s)
        self._scenario = scenario
        for s in scenario["servers"]:
            server = self.server(s["name"])
            for rc in s["receive_connectors"]:
                name = self.resolve_name(rc["tls_certificate_name"], server)
                server.receive_connectors.append(
                    ReceiveConnector(
                        name=rc["name"],
                        server=server,
                        transport_role=rc.get("transport_role"),
                        bindings=list(rc["bindings"]),
                        fqdn=rc.get("fqdn"),
                        auth_mechanism=list(rc["auth_mechanism"]),
                        permission_groups=list(rc["permission_groups"]),
                        tls_domain_capabilities=list(rc["tls_domain_capabilities"]),
                        tls_certificate_name=name,
                        require_tls=rc["require_tls"],
                        remote_ip_ranges=list(rc["remote_ip_ranges"]),
                        effective_tls_certificate_name=name,
                    )
                )
        self.send_connectors = [
            SendConnector(
                name=sc["name"],
                address_spaces=list(sc["address_spaces"]),
                source_transport_servers=[self.server(n).name for n in sc["source_transport_servers"]],
                fqdn=sc.get("fqdn"),
                tls_certificate_name=self.resolve_name(sc["tls_certificate_name"], None),
                tls_auth_level=sc.get("tls_auth_level"),
                tls_domain=sc.get("tls_domain"),
                require_tls=sc["require_tls"],
                cloud_services_mail_enabled=sc["cloud_services_mail_enabled"],
                smart_hosts=list(sc.get("smart_hosts") or []),
            )
            for sc in scenario["send_connectors"]
        ]
        for sc, spec in zip(self.send_connectors, scenario["send_connectors"]):
            given = {k.lower(): v for k, v in (spec.get("edge_copies") or {}).items()}
            for name in sc.source_transport_servers:
                if self.server(name).is_edge:
                    fits = sc.tls_certificate_name is None or len(sc.tls_certificate_name) <= tls_name.EDGE_NAME_LIMIT
                    sc.edge_copies[name] = given[name.lower()] if name.lower() in given else (
                        sc.tls_certificate_name if fits else None)
        hc = scenario.get("hybrid_configuration")
        self.hybrid_configuration = None
        if hc is not None:
            self.hybrid_configuration = HybridConfiguration(
                tls_certificate_name=self.resolve_name(hc["tls_certificate_name"], None),
                receiving_transport_servers=[self.server(n).name for n in hc["receiving_transport_servers"]],
                sending_transport_servers=[self.server(n).name for n in hc["sending_transport_servers"]],
                edge_transport_servers=[self.server(n).name for n in hc["edge_transport_servers"]],
            )
        # What Get-AuthConfig names (scenario auth_certificate): kept as references, since Exchange refuses to
        # remove the Auth certificate, so the certificates they name stay.
        self.auth_certificate = scenario.get("auth_certificate")
        # Transport starts: it loads each connector's certificate and logs what it cannot find.
        for server in self.servers.values():
            self.reload_transport(server, None)

    # -- construction -------------------------------------------------------

    def _build_server(self, s: dict) -> Server:
        certs = []
        seen: dict[str, str] = {}
        for c in s["certificates"]:
            try:
                minted = self.minter.mint(
                    subject=c["subject"],
                    issuer=c.get("issuer"),
                    self_signed=c["self_signed"],
                    domains=list(c["domains"]),
                    not_before=c["not_before"],
                    not_after=c["not_after"],
                    key_type=c["key"],
                    signature_hash=c["signature_hash"],
                    eku=list(c["eku"]),
                    include_chain=c["include_chain"],
                )
            except MintError as exc:
                raise ModelError(f"servers.{s['name']}.certificates.{c['id']}: {exc}") from exc
            if c.get("thumbprint") and c["thumbprint"] != minted.thumbprint:
                raise ModelError(
                    f"servers.{s['name']}.certificates.{c['id']}: thumbprint {c['thumbprint']} was given, but this "
                    f"certificate mints as {minted.thumbprint}; remove the thumbprint or restore the certificate's fields"
                )
            if minted.thumbprint in seen:
                raise ModelError(
                    f"servers.{s['name']}.certificates: {seen[minted.thumbprint]!r} and {c['id']!r} are the same "
                    "certificate (same subject, issuer, dates and domains); a store holds a thumbprint once"
                )
            seen[minted.thumbprint] = c["id"]
            certs.append(
                Certificate(
                    id=c["id"],
                    subject=minted.subject,
                    issuer=minted.issuer,
                    self_signed=c["self_signed"],
                    domains=list(c["domains"]),
                    not_before=c["not_before"],
                    not_after=c["not_after"],
                    services=set(c["services"]) - {"None"},
                    has_private_key=c["has_private_key"],
                    status=c["status"],
                    in_store=c["in_store"],
                    minted=minted,
                    friendly_name=c.get("friendly_name"),
                    root_ca_type=c.get("root_ca_type") or ("Registry" if c["self_signed"] else "ThirdParty"),
                    key=c["key"],
                    signature_hash=c["signature_hash"],
                    eku=list(c["eku"]),
                    include_chain=c["include_chain"],
                    exportable=c["exportable"],
                )
            )
        by_id = {c.id: c for c in certs}
        itc = s.get("internal_transport_certificate")
        esc = s.get("edge_subscription_certificate")
        server = Server(
            name=s["name"],
            fqdn=s["fqdn"],
            role=s["role"],
            version=s["version"],
            certificates=certs,
            internal_transport_certificate=by_id[itc].thumbprint if itc else None,
            edge_subscription_certificate=by_id[esc].thumbprint if esc else None,
            transport_change_needs_restart=s["transport_change_needs_restart"],
            certificate_properties=s["certificate_properties"],
            enum_form=s.get("enum_form", "name"),
            faults=[dict(f) for f in s.get("faults", [])],
            launches=s.get("launches", 0),
            writes=s.get("writes", 0),
            restarts=s.get("restarts", 0),
            events=[Event(**e) for e in s.get("events", [])],
            edgesync=s.get("edgesync"),
        )
        if server.is_edge and server.edgesync is None:
            server.edgesync = "intact" if server.edge_subscription_certificate else None
        return server

    def resolve_name(self, value, server: Server | None) -> str | None:
        """A scenario TlsCertificateName: null, a literal string, or {certificate: [SERVER/]id}."""
        if value is None or isinstance(value, str):
            return value
        # The loader validated the reference, so it resolves.
        host, cert = scenario_mod.resolve_certificate(self._scenario, value["certificate"], server and server.name)
        return self.server(host["name"]).certificate_by_id(cert["id"]).tls_certificate_name

    def auth_certificates(self) -> dict[str, str]:
        """Get-AuthConfig's thumbprints: {'current': ..., 'next': ...}, each only when the scenario names it."""
        out = {}
        for key, field_name in (("current", "certificate"), ("next", "next_certificate")):
            ref = (self.auth_certificate or {}).get(field_name)
            if ref:
                host, cert = scenario_mod.resolve_certificate(self._scenario, ref)
                out[key] = self.server(host["name"]).certificate_by_id(cert["id"]).thumbprint
        return out

    # -- lookups ------------------------------------------------------------

    def server(self, name: str) -> Server | None:
        s = self.servers.get(name.lower())
        if s is None:
            s = next((x for x in self.servers.values() if x.fqdn.lower() == name.lower()), None)
        return s

    def send_connector(self, name: str) -> SendConnector | None:
        return next((c for c in self.send_connectors if c.name.lower() == name.lower()), None)

    # -- transport rules ----------------------------------------------------

    def select(self, connector: ReceiveConnector) -> Selection:
        """Inbound STARTTLS certificate selection (docs/exchange-behaviour.md#starttls-selection)."""
        server = connector.server
        if "Tls" not in connector.auth_mechanism:
            return Selection(False, None, False, "Tls is not in AuthMechanism")
        name = connector.effective_tls_certificate_name
        if name:
            candidates = server.matching(name)
            key = name
        else:
            key = connector.fqdn or server.fqdn
            candidates = [c for c in server.store() if c.covers(key)]
        candidates = [c for c in candidates if c.has_private_key]
        if not candidates:
            return Selection(False, None, False, f"no certificate in the store with a private key matches {key}")
        chosen = sorted(candidates, key=_selection_order)[0]
        if "SMTP" not in chosen.services:
            return Selection(True, chosen, False, "the certificate is not enabled for SMTP; the handshake fails")
        return Selection(True, chosen, True, "ok")

    def reload_transport(self, server: Server, service: str | None) -> None:
        """A transport service (re)loads its connectors' certificates and logs what fails."""
        now = self.clock.now()
        for rc in server.receive_connectors:
            if service is not None and rc.service != service:
                continue
            rc.effective_tls_certificate_name = rc.tls_certificate_name
            self._log_selection(rc, now)

    def connector_changed(self, connector: ReceiveConnector) -> None:
        """AD change notification: transport picks up the new value unless the scenario says it needs a restart."""
        if not connector.server.transport_change_needs_restart:
            connector.effective_tls_certificate_name = connector.tls_certificate_name
            self._log_selection(connector, self.clock.now())

    def _log_selection(self, rc: ReceiveConnector, now: dt.datetime) -> None:
        if "Tls" not in rc.auth_mechanism:
            return
        sel = self.select(rc)
        key = rc.effective_tls_certificate_name or rc.fqdn or rc.server.fqdn
        if sel.certificate is None:
            self.log_event(
                rc.server,
                EVENT_NO_CERTIFICATE,
                rc.service,
                "Error",
                f"Microsoft Exchange could not find a certificate that contains the domain name {key} in the "
                f"personal store on the local computer. Therefore, it is unable to support the STARTTLS SMTP verb "
                f"for the connector {rc.name} with a FQDN parameter of {key}. If the connector's FQDN is not "
                f"specified, the computer's FQDN is used. Verify the connector configuration and the installed "
                f"certificates to make sure that there is a certificate with a domain name for that FQDN. If this "
                f"certificate exists, run Enable-ExchangeCertificate -Services SMTP to make sure that the Microsoft "
                f"Exchange Transport service has access to the certificate key.",
            )
        elif sel.certificate.expired(now):
            self.log_event(
                rc.server,
                EVENT_CERTIFICATE_EXPIRED,
                rc.service,
                "Warning",
                f"There is no valid SMTP Transport Layer Security (TLS) certificate for the FQDN of {key}. The "
                f"existing certificate for that FQDN has expired. The certificate with thumbprint "
                f"{sel.certificate.thumbprint} will be used for STARTTLS on the connector {rc.name}.",
            )

    def log_event(self, server: Server, event_id: int, source: str, level: str, message: str) -> None:
        server.events.append(Event(event_id, source, level, self.clock.now(), message))

    def starttls(self, connector: ReceiveConnector) -> Selection:
        """Called per SMTP session: the selection, logging 12016 when the choice has expired."""
        with self.lock:
            sel = self.select(connector)
            if sel.certificate is not None and sel.certificate.expired(self.clock.now()):
                self._log_selection(connector, self.clock.now())
            return sel

    def smtp_connector(self, server: Server) -> ReceiveConnector | None:
        """A connector of the service that listens on port 25, or None when nothing does (no SMTP listener)."""
        return next(iter(self._port25(server)), None)

    @staticmethod
    def _port25(server: Server) -> list[ReceiveConnector]:
        # On a Mailbox server port 25 is Front End Transport's (the Hub service listens on 2525); on an
        # Edge server every connector is the Transport service's. A Mailbox scenario with port-25 connectors
        # of the Hub service only keeps those (as report.probe_target does).
        port25 = [rc for rc in server.receive_connectors if 25 in rc.ports]
        if server.is_edge:
            return port25
        return [rc for rc in port25 if rc.transport_role == "FrontendTransport"] or port25

    def answering_connector(self, server: Server, local_address: str, remote_address: str) -> ReceiveConnector | None:
        """The connector that answers a connection to port 25 at ``local_address`` from ``remote_address``.

        Exchange's selection (receive_selection): the most specific binding, then the narrowest RemoteIPRanges
        entry holding the sender. None: no connector accepts that sender.
        """
        with self.lock:
            by_name = {rc.name: rc for rc in self._port25(server)}
            name = receive_selection.select_connector(
                [(n, rc.bindings, rc.remote_ip_ranges) for n, rc in by_name.items()], local_address, 25, remote_address)
            return by_name.get(name)

    def edge_sync(self, connector: SendConnector) -> None:
        """EdgeSync copies the connector to each Edge source server, except a name the Edge's schema cannot hold.

        The Edge's AD LDS caps ms-Exch-Smtp-TLS-Certificate at 256 characters (KB 4052493): the entry fails to
        synchronise and the Edge keeps its previous copy. The lab syncs at once (EdgeSync runs every few minutes).
        """
        for name in connector.edge_copies:
            value = connector.tls_certificate_name
            if value is None or len(value) <= tls_name.EDGE_NAME_LIMIT:
                connector.edge_copies[name] = value

    def name_on(self, connector: SendConnector, server: Server) -> str | None:
        """The TlsCertificateName ``server`` reads and sends with: an Edge its own copy."""
        if server.is_edge and server.name in connector.edge_copies:
            return connector.edge_copies[server.name]
        return connector.tls_certificate_name

    def outbound_status(self, connector: SendConnector) -> dict[str, str]:
        """Per source server: can it send through this connector with TLS?"""
        result = {}
        for name in connector.source_transport_servers:
            server = self.server(name)
            named = self.name_on(connector, server)
            if named and not [c for c in server.matching(named) if c.has_private_key]:
                result[server.name] = (
                    "454 4.7.5 The certificate specified in TlsCertificateName of the SendConnector could not be found."
                )
            else:
                result[server.name] = "ok"
        return result

    def end_of_launch(self, server: Server) -> None:
        # EdgeSync pinned the Edge's default certificate when it subscribed; once
        # a run ends with another default, the subscription must be re-created.
        if server.is_edge and server.edge_subscription_certificate:
            if server.internal_transport_certificate != server.edge_subscription_certificate:
                server.edgesync = "broken"

