# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The read side of ``exchange_certificate_facts``: one batch in, one facts dict out.

Why this exists:

* **One launch per host is the cost model.** Every ``exchange_command`` call
  starts Windows PowerShell and opens an Exchange session, which costs seconds
  to tens of seconds, while the cmdlets themselves are cheap. So the whole
  transport TLS picture of a server (the server, its certificates, its receive
  connectors, the organisation's send connectors, the internal transport
  certificate, the hybrid configuration and recent transport TLS events) is
  read in ONE batch (:func:`read_steps`) and interpreted on the controller
  (:func:`parse_read`), where it can be unit-tested without Windows.
* **Windows PowerShell 5.1 flattening rules.** ``ConvertTo-Json`` in 5.1 turns
  dates into ``/Date(ms)/``, enums into integers and unrolls one-element
  arrays, so the payload flattens each requested property itself: dates as UTC
  ISO 8601 strings, flags as their names (``"IIS, SMTP"``, ``"None"``),
  collections as lists, byte arrays as base64, other Exchange types
  (``ADObjectId``, ``SmtpX509Identifier``, ``Fqdn``) as their ``ToString()``.
  This module turns those primitives into typed, snake_case facts.
* **Enums by name or by number.** A session that cannot rehydrate Exchange's
  types may hand the payload an enum as its integer; ``exchange_enums``
  decodes both forms to the same names, so findings and decisions do not
  depend on the session.
* **Remote-session caveat.** ``Get-ExchangeCertificate`` does not fully support
  remote PowerShell: depending on how the session was opened, Services,
  Status and the other Exchange-specific fields can be missing, and when
  serialisation-data signing fails only ``RawData`` survives. Missing values
  are reported as the distinct string ``"unknown"`` (never as "no SMTP"), and
  the names of the missing properties are listed in ``unknown_properties``.
  Whatever the DER holds (thumbprint, subject and issuer as Windows renders
  them, dates, DNS names, key, signature algorithm) is read from ``RawData``
  on the controller whenever it arrived, as Microsoft's own scripts rebuild
  the certificate from it (``ConvertTo-ExchangeCertificate.ps1``).
* **A certificate without Exchange's properties is the client's copy.**
  PowerShell serializes an X509Certificate2 as its RawData alone and rebuilds
  it on the client (PowerShell's ``types.ps1xml``: ``PropertySerializationSet``
  RawData, ``DeserializingTypeConverter``), so over a session that did not
  rehydrate the ExchangeCertificate, ``HasPrivateKey`` describes the copy
  (False), not the server's store: it is unknown then.

Pure Python: no Ansible imports. ``cryptography`` is imported only when a
certificate has to be read from ``RawData``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.exchange.transport_tls.plugins.module_utils import x500
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import exchange_enums, tls_name

__all__ = ["FactsError", "MISSING_PROPERTIES_REMEDY", "missing_property_reason", "parse_read", "read_steps", "same_server"]

UNKNOWN = "unknown"
# What to do when Exchange's certificate properties did not arrive (docs/exchange-behaviour.md#sessions: Exchange's own
# _NewExchangeRunspace asks for serializationLevel=Full; CSS-Exchange PR #1448 on serialization-data signing).
MISSING_PROPERTIES_REMEDY = (
    "the payload opens the session with serializationLevel=Full; if properties are still missing, "
    "serialization-data signing failed, usually because the Auth certificate is expired or missing "
    "(CSS-Exchange PR #1448)"
)
# The ExchangeCertificate properties that live only in Exchange's serialization data, never in RawData.
EXCHANGE_ONLY_PROPERTIES = (("Services", "services"), ("Status", "status"), ("RootCAType", "root_ca_type"),
                            ("HasPrivateKey", "has_private_key"))
TRANSPORT_TLS_EVENT_IDS = (12014, 12016, 12018)
TRANSPORT_PROVIDERS = ("MSExchangeTransport", "MSExchangeFrontEndTransport")

_REQUIRED = (
    ("server", "Get-ExchangeServer"),
    ("certificates", "Get-ExchangeCertificate"),
    ("receive_connectors", "Get-ReceiveConnector"),
    ("send_connectors", "Get-SendConnector"),
    ("transport_service", "Get-TransportService"),
)

_SERVER_PROPERTIES = ["Name", "Fqdn", "ServerRole", "IsEdgeServer", "AdminDisplayVersion", "Edition", "Site"]
# SignatureAlgorithm is an Oid the payload would flatten to its type name: it is read from RawData instead.
_CERTIFICATE_PROPERTIES = [
    "Thumbprint", "Subject", "Issuer", "NotBefore", "NotAfter", "Services", "Status", "HasPrivateKey",
    "IsSelfSigned", "RootCAType", "CertificateDomains", "FriendlyName", "PublicKeySize", "RawData",
]
_RECEIVE_PROPERTIES = [
    "Identity", "Name", "Server", "TransportRole", "Bindings", "Fqdn", "AuthMechanism", "PermissionGroups",
    "TlsCertificateName", "TlsDomainCapabilities", "RequireTLS", "Enabled", "RemoteIPRanges",
]
_SEND_PROPERTIES = [
    "Identity", "Name", "AddressSpaces", "SourceTransportServers", "SmartHosts", "Fqdn", "TlsCertificateName",
    "TlsAuthLevel", "TlsDomain", "RequireTLS", "CloudServicesMailEnabled", "Enabled",
]
# OriginatingServer: the domain controller that served the read; the converging modules write through it.
_TRANSPORT_PROPERTIES = ["Name", "InternalTransportCertificateThumbprint", "OriginatingServer"]
_HYBRID_PROPERTIES = [
    "TlsCertificateName", "ReceivingTransportServers", "SendingTransportServers", "EdgeTransportServers", "Features",
]
_EVENT_PROPERTIES = ["Id", "ProviderName", "LevelDisplayName", "TimeCreated", "Message"]

# HealthChecker's EXO send-connector test (Invoke-AnalyzerFrequentConfigurationIssues.ps1);
# PowerShell -match is case-insensitive.
_EXO_SMART_HOST = re.compile(r"^[^.]+\.mail\.protection\.(outlook\.com|partner\.outlook\.cn|office365\.us)$", re.I)
_EXO_ADDRESS_SPACE = re.compile(r"^[^.]+\.mail\.(onmicrosoft\.com|partner\.onmschina\.cn|onmicrosoft\.us)$", re.I)
# "smtp:contoso.mail.onmicrosoft.com;1" -> type, address, cost.
_ADDRESS_SPACE = re.compile(r"^(?:[A-Za-z0-9]+:)?(?P<address>.*?)(?:;\d+)?$")
_HYBRID_CAPABILITY_DOMAINS = frozenset(
    ("mail.protection.outlook.com", "mail.protection.partner.outlook.cn", "mail.protection.office365.us")
)
_VERSION = re.compile(r"^Version (\d+)\.(\d+) \(Build (\d+)\.(\d+)\)$")
_ISO_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$", re.I
)
_DN_FIRST_CN = re.compile(r"^\s*CN\s*=\s*(?P<name>[^,]*?)\s*(?:,|$)", re.I)


class FactsError(ValueError):
    """The batch result cannot describe the requested server; the message says what to do."""


# --------------------------------------------------------------------------
# The batch
# --------------------------------------------------------------------------


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")


def _events_xpath(event_hours: int) -> str:
    ids = " or ".join(f"EventID={event_id}" for event_id in TRANSPORT_TLS_EVENT_IDS)
    return f"*[System[({ids}) and TimeCreated[timediff(@SystemTime) <= {event_hours * 3600000}]]]"


def _step(step_id: str, cmdlet: str, parameters: dict, properties: list, tolerant: bool = False) -> dict:
    step = {"id": step_id, "cmdlet": cmdlet, "parameters": parameters, "properties": list(properties)}
    if tolerant:
        step["continue_on_error"] = True
    return step


def read_steps(server: str, event_hours: int = 24, max_events: int = 200) -> List[dict]:
    """Return the exchange_command steps that read ``server``'s whole transport TLS picture.

    ``event_hours`` is how far back to look for transport TLS events 12014,
    12016 and 12018 (0 leaves the events step out); ``max_events`` caps how
    many are returned. Raises ValueError naming the argument and its range.
    """
    if not isinstance(server, str) or not server.strip():
        raise ValueError(f"server must be a non-empty string (an Exchange server name or FQDN), got {server!r}")
    _check_int("event_hours", event_hours, 0, 8760)
    _check_int("max_events", max_events, 1, 10000)
    steps = [
        _step("server", "Get-ExchangeServer", {"Identity": server}, _SERVER_PROPERTIES),
        _step("certificates", "Get-ExchangeCertificate", {"Server": server}, _CERTIFICATE_PROPERTIES),
        _step("receive_connectors", "Get-ReceiveConnector", {"Server": server}, _RECEIVE_PROPERTIES),
        _step("send_connectors", "Get-SendConnector", {}, _SEND_PROPERTIES),
        _step("transport_service", "Get-TransportService", {"Identity": server}, _TRANSPORT_PROPERTIES),
        # Not on Edge (CommandNotFoundException), and the role is unknown until the batch runs.
        _step("hybrid_configuration", "Get-HybridConfiguration", {}, _HYBRID_PROPERTIES, tolerant=True),
    ]
    if event_hours:
        parameters = {"LogName": "Application", "FilterXPath": _events_xpath(event_hours), "MaxEvents": max_events}
        steps.append(_step("events", "Get-WinEvent", parameters, _EVENT_PROPERTIES, tolerant=True))
    return steps


# --------------------------------------------------------------------------
# Value helpers
# --------------------------------------------------------------------------


def _text(value: object) -> Optional[str]:
    """A string, or None for null and empty."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text if text.strip() else None


def _as_list(value: object) -> List[Any]:
    """A flattened collection: a list, a lone scalar as one element, null as []."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [item for item in value if item is not None]
    return [value]


def _flags(enum: exchange_enums.ExchangeEnum, obj: dict, prop: str, where: str) -> List[str]:
    """A [Flags] property as names ("Tls, Integrated", 3 or "3" -> ["Tls", "Integrated"]); "None", 0, null -> []."""
    try:
        return enum.names(obj.get(prop), prop, where)
    except exchange_enums.EnumValueError as exc:
        raise FactsError(str(exc)) from None


def _enum_name(enum: exchange_enums.ExchangeEnum, obj: dict, prop: str, where: str) -> Optional[str]:
    """A single-valued enum property as its name ("Valid", 1 or "1" -> "Valid"); None when null."""
    try:
        return enum.name(obj.get(prop), prop, where)
    except exchange_enums.EnumValueError as exc:
        raise FactsError(str(exc)) from None


def _bool(value: object, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _parse_date(value: object) -> Optional[dt.datetime]:
    """An aware UTC datetime from the payload's ISO 8601 text (no zone means UTC), or None."""
    match = _ISO_DATE.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        stamp = dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro)
    except ValueError:
        return None
    offset = dt.timedelta(0)
    if zone and zone.upper() != "Z":
        digits = zone[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        offset = -offset if zone[0] == "-" else offset
    return (stamp - offset).replace(tzinfo=dt.timezone.utc)


def _as_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def _iso(value: Optional[dt.datetime]) -> Optional[str]:
    return None if value is None else _as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _thumbprint(value: object) -> Optional[str]:
    text = _text(value)
    return None if text is None else re.sub(r"\s+", "", text).upper()


def _first_label(name: Optional[str]) -> Optional[str]:
    return name.split(".", 1)[0] if name else None


def same_server(reference: object, name: Optional[str], fqdn: Optional[str]) -> bool:
    """Whether an ADObjectId's ToString() (``reference``) names the server ``name``/``fqdn``.

    Matches the name or the FQDN ignoring case, or a distinguished name whose
    first RDN is ``CN=<name>`` (``CN=EX01,CN=Servers,...``).
    """
    ref = _text(reference)
    if ref is None:
        return False
    ref = ref.strip().lower()
    candidates = {n.strip().lower() for n in (name, fqdn) if n}
    if ref in candidates:
        return True
    match = _DN_FIRST_CN.match(ref)
    return bool(match and name and match.group("name") == name.strip().lower())


# --------------------------------------------------------------------------
# The steps of the result
# --------------------------------------------------------------------------


def _index_steps(result: object) -> Dict[str, dict]:
    if not isinstance(result, dict) or not isinstance(result.get("steps"), list):
        raise FactsError("the exchange_command result has no 'steps' list; it is not the output of exchange_command")
    steps: Dict[str, dict] = {}
    for step in result["steps"]:
        if isinstance(step, dict) and step.get("id") is not None:
            steps.setdefault(str(step["id"]), step)
    return steps


def _failed(step: Optional[dict]) -> bool:
    return step is not None and step.get("status") != "ok"


def _objects(step: Optional[dict]) -> List[dict]:
    if step is None or _failed(step):
        return []
    return [obj for obj in step.get("objects") or [] if isinstance(obj, dict)]


def _check_required(steps: Dict[str, dict], server: str) -> None:
    for step_id, cmdlet in _REQUIRED:
        step = steps.get(step_id)
        if _failed(step):
            error_id = f" [{step.get('error_id')}]" if step.get("error_id") else ""
            raise FactsError(
                f"cannot read server '{server}': step '{step_id}' ({cmdlet}) failed "
                f"with status {step.get('status')}: {step.get('error') or 'no error message'}{error_id}"
            )
    for step_id, cmdlet in _REQUIRED:
        if step_id not in steps:
            raise FactsError(
                f"cannot read server '{server}': the exchange_command result has no step '{step_id}' ({cmdlet}); "
                "the batch stopped before it or was not built by read_steps()"
            )


def _collected_at(result: dict, now: Optional[dt.datetime]) -> dt.datetime:
    clock = _parse_date(result.get("utc_now"))
    if clock is not None:
        return clock
    return _as_utc(now) if now is not None else dt.datetime.now(dt.timezone.utc)


# --------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------


def _version(value: object) -> Optional[str]:
    text = _text(value)
    if text is None:
        return None
    match = _VERSION.match(text.strip())
    return ".".join(match.groups()) if match else text


def _role(obj: dict, where: str) -> str:
    # Flags: "Mailbox" (2), "Mailbox, ClientAccess" (6) on Exchange 2013, "Edge" (64).
    roles = _flags(exchange_enums.SERVER_ROLE, obj, "ServerRole", where)
    return "Edge" if _bool(obj.get("IsEdgeServer")) or "Edge" in roles else "Mailbox"


def _site(value: object) -> Optional[str]:
    """The site name from Site's ToString(), the canonical path "contoso.com/Configuration/Sites/NAME" (Edge: null)."""
    text = _text(value)
    return None if text is None else text.strip().rstrip("/").rsplit("/", 1)[-1]


def _server_facts(steps: Dict[str, dict], server: str, computer_name: Optional[str]) -> dict:
    objects = _objects(steps["server"])
    if not objects:
        raise FactsError(
            f"Get-ExchangeServer -Identity '{server}' returned no server; check the module's server option"
        )
    obj = objects[0]
    return {
        "name": _text(obj.get("Name")) or server,
        "fqdn": _text(obj.get("Fqdn")),
        "role": _role(obj, f"server {server}"),
        "version": _version(obj.get("AdminDisplayVersion")),
        "edition": _text(obj.get("Edition")),
        "site": _site(obj.get("Site")),
        "computer_name": computer_name,
    }


def _check_computer(facts: dict, server: str) -> None:
    computer = facts["computer_name"]
    if computer is None:
        return
    known = {facts["name"], _first_label(facts["fqdn"]), _first_label(server.strip())}
    if computer.strip().lower() not in {n.lower() for n in known if n}:
        raise FactsError(
            f"the host is computer {computer} but server '{server}' was requested; "
            "set the module's server option to this host's Exchange server name"
        )


# --------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------


def _der(raw: object) -> Optional[bytes]:
    if isinstance(raw, (list, tuple)):
        try:
            return bytes(raw) or None
        except (TypeError, ValueError):
            return None
    text = _text(raw)
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True) or None
    except (binascii.Error, ValueError):
        return None


def _names_from_der(der: bytes) -> Optional[Tuple[bytes, bytes]]:
    try:
        return x500.certificate_names(der)
    except x500.X500Error:
        return None


# Windows' FriendlyName of the signature algorithm OIDs (what X509Certificate2.SignatureAlgorithm shows).
_SIGNATURE_ALGORITHMS = {
    "1.2.840.113549.1.1.4": "md5RSA",
    "1.2.840.113549.1.1.5": "sha1RSA",
    "1.2.840.113549.1.1.11": "sha256RSA",
    "1.2.840.113549.1.1.12": "sha384RSA",
    "1.2.840.113549.1.1.13": "sha512RSA",
    "1.2.840.113549.1.1.10": "RSASSA-PSS",
    "1.2.840.10045.4.1": "sha1ECDSA",
    "1.2.840.10045.4.3.2": "sha256ECDSA",
    "1.2.840.10045.4.3.3": "sha384ECDSA",
    "1.2.840.10045.4.3.4": "sha512ECDSA",
    "1.2.840.10040.4.3": "sha1DSA",
}
_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def _key_fields(cert: Any) -> dict:
    """The public key as "RSA 2048" / "ECDSA P-256" and its size in bits."""
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

    try:
        key = cert.public_key()
    except (ValueError, TypeError):  # an algorithm cryptography does not load
        return {}
    if isinstance(key, rsa.RSAPublicKey):
        return {"key": f"RSA {key.key_size}", "key_size": key.key_size}
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"key": f"ECDSA {_CURVES.get(key.curve.name, key.curve.name)}", "key_size": key.curve.key_size}
    if isinstance(key, dsa.DSAPublicKey):
        return {"key": f"DSA {key.key_size}", "key_size": key.key_size}
    return {"key": type(key).__name__.replace("PublicKey", ""), "key_size": None}


# The public name for callers outside this module (the candidate loader describes a key the same way).
key_fields = _key_fields


def _cryptography_fields(der: bytes) -> dict:
    """Validity, DNS names, key and signature algorithm via cryptography; {} when it is missing or refuses the DER."""
    try:
        from cryptography import x509
    except ImportError:
        return {}
    try:
        cert = x509.load_der_x509_certificate(der)
        not_before = getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before
        not_after = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after
        oid = cert.signature_algorithm_oid.dotted_string
    except ValueError:
        return {}
    fields = {
        "not_before": _as_utc(not_before),
        "not_after": _as_utc(not_after),
        "domains": _dns_names(cert, x509),
        "signature_algorithm": _SIGNATURE_ALGORITHMS.get(oid, oid),
    }
    fields.update(_key_fields(cert))
    return fields


def _dns_names(cert: Any, x509: Any) -> List[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        # Like X509Certificate2's DNS name list: no SAN extension means the subject's CN.
        return [str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    except ValueError:
        return []
    return list(san.get_values_for_type(x509.DNSName))


def _from_raw_data(raw: object) -> Optional[dict]:
    """What Windows would show for a certificate rebuilt from RawData, or None if unusable."""
    der = _der(raw)
    names = _names_from_der(der) if der else None
    if names is None:
        return None
    issuer_der, subject_der = names
    fields = {
        "thumbprint": hashlib.sha1(der).hexdigest().upper(),  # nosec - a thumbprint, not a signature
        "issuer": x500.render_name(issuer_der),
        "subject": x500.render_name(subject_der),
        # HealthChecker's test when only an X509Certificate2 is there: SubjectName.RawData equals IssuerName.RawData.
        "self_signed": issuer_der == subject_der,
    }
    fields.update(_cryptography_fields(der))
    return fields


def _services(obj: dict, where: str):
    if _text(obj.get("Services")) is None:
        return UNKNOWN
    return _flags(exchange_enums.ALLOWED_SERVICES, obj, "Services", where)


def _known_enum(enum: exchange_enums.ExchangeEnum, obj: dict, prop: str, where: str) -> str:
    return _enum_name(enum, obj, prop, where) or UNKNOWN


def _self_signed(obj: dict, raw: dict, issuer: Optional[str], subject: Optional[str]) -> Optional[bool]:
    if obj.get("IsSelfSigned") is not None:
        return _bool(obj.get("IsSelfSigned"))
    if "self_signed" in raw:
        return raw["self_signed"]
    if issuer is None or subject is None:
        return None
    return issuer == subject


def _public_key_size(obj: dict, raw: dict) -> Optional[int]:
    if raw.get("key_size") is not None:
        return raw["key_size"]
    value = obj.get("PublicKeySize")
    try:
        return None if isinstance(value, bool) or value is None else int(value)
    except (TypeError, ValueError):
        return None


def _validity(not_before: Optional[dt.datetime], not_after: Optional[dt.datetime], clock: dt.datetime) -> dict:
    return {
        "not_before": _iso(not_before),
        "not_after": _iso(not_after),
        "days_remaining": None if not_after is None else (not_after - clock) // dt.timedelta(days=1),
        "expired": None if not_after is None else clock > not_after,
        "not_yet_valid": None if not_before is None else clock < not_before,
    }


def _exchange_typed(obj: dict) -> bool:
    """Whether the object is Exchange's certificate and not the client's rebuilt X509Certificate2."""
    return any(_text(obj.get(prop)) is not None for prop in ("Services", "Status", "RootCAType", "PublicKeySize"))


def _certificate(obj: dict, clock: dt.datetime, internal: Optional[str]) -> Optional[dict]:
    raw = _from_raw_data(obj.get("RawData")) or {}
    thumbprint = _thumbprint(obj.get("Thumbprint")) or raw.get("thumbprint")
    if thumbprint is None:
        return None
    where = f"certificate {thumbprint}"
    subject = _text(obj.get("Subject")) or raw.get("subject")
    issuer = _text(obj.get("Issuer")) or raw.get("issuer")
    domains = obj.get("CertificateDomains")
    has_key = obj.get("HasPrivateKey") if _exchange_typed(obj) else None
    facts = {
        "thumbprint": thumbprint,
        "subject": subject,
        "issuer": issuer,
        "tls_certificate_name": (
            tls_name.format_tls_certificate_name(issuer, subject) if issuer is not None and subject else None
        ),
        "friendly_name": _text(obj.get("FriendlyName")),
        "domains": [str(d) for d in _as_list(domains)] if domains is not None else raw.get("domains", []),
    }
    facts.update(
        _validity(
            _parse_date(obj.get("NotBefore")) or raw.get("not_before"),
            _parse_date(obj.get("NotAfter")) or raw.get("not_after"),
            clock,
        )
    )
    facts.update(
        services=_services(obj, where),
        # Exactly as the session returned it ("IIS, SMTP" or 24): a guard compares the live value with this.
        services_value=obj.get("Services"),
        status=_known_enum(exchange_enums.CERTIFICATE_STATUS, obj, "Status", where),
        self_signed=_self_signed(obj, raw, issuer, subject),
        has_private_key=UNKNOWN if has_key is None else _bool(has_key),
        root_ca_type=_known_enum(exchange_enums.CERTIFICATE_AUTHORITY_TYPE, obj, "RootCAType", where),
        is_internal_transport=internal is not None and thumbprint == internal,
        key=raw.get("key"),
        key_size=_public_key_size(obj, raw),
        signature_algorithm=raw.get("signature_algorithm"),
    )
    facts["unknown_properties"] = [prop for prop, key in EXCHANGE_ONLY_PROPERTIES if facts[key] == UNKNOWN]
    facts["properties_complete"] = not facts["unknown_properties"]
    return facts


def missing_property_reason(certificate: dict, prop: str) -> str:
    """Why a decision that needs ``prop`` (an Exchange-only property) of ``certificate`` cannot be made."""
    return f"Exchange did not return {prop} of certificate {certificate.get('thumbprint')}; {MISSING_PROPERTIES_REMEDY}"


def _skipped_certificate(obj: dict) -> dict:
    subject = _text(obj.get("Subject"))
    what = f"certificate {subject!r}" if subject else "a certificate"
    return {
        "step": "certificates",
        "cmdlet": "Get-ExchangeCertificate",
        "error": f"{what} came back without a Thumbprint and without usable RawData, so it is left out; "
        "read the certificates in the Exchange Management Shell on the server",
        "error_id": None,
    }


def _certificates(objects: List[dict], clock: dt.datetime, internal: Optional[str]) -> Tuple[List[dict], List[dict]]:
    certificates, skipped = [], []
    for obj in objects:
        facts = _certificate(obj, clock, internal)
        if facts is None:
            skipped.append(_skipped_certificate(obj))
        else:
            certificates.append(facts)
    return certificates, skipped


# --------------------------------------------------------------------------
# Connectors and the hybrid configuration
# --------------------------------------------------------------------------


def _ports(bindings: List[Any]) -> List[int]:
    ports = set()
    for binding in bindings:
        _host, sep, port = str(binding).strip().rpartition(":")
        if sep and port.isdigit():
            ports.add(int(port))
    return sorted(ports)


def _hybrid_capability(capabilities: List[Any]) -> bool:
    domains = (str(c).split(":", 1)[0].strip().lower() for c in capabilities)
    return any(domain in _HYBRID_CAPABILITY_DOMAINS for domain in domains)


def _receive_connector(obj: dict) -> dict:
    bindings = [str(b) for b in _as_list(obj.get("Bindings"))]
    capabilities = [str(c) for c in _as_list(obj.get("TlsDomainCapabilities"))]
    where = f"receive connector {_text(obj.get('Identity')) or _text(obj.get('Name'))!r}"
    # TransportRole is a ServerRole value: "HubTransport" (32) or "FrontendTransport" (16384).
    role = _flags(exchange_enums.SERVER_ROLE, obj, "TransportRole", where)
    return {
        "identity": _text(obj.get("Identity")),
        "name": _text(obj.get("Name")),
        "server": _text(obj.get("Server")),
        "transport_role": ", ".join(role) or None,
        "bindings": bindings,
        "ports": _ports(bindings),
        "fqdn": _text(obj.get("Fqdn")),
        "auth_mechanism": _flags(exchange_enums.AUTH_MECHANISMS, obj, "AuthMechanism", where),
        "permission_groups": _flags(exchange_enums.PERMISSION_GROUPS, obj, "PermissionGroups", where),
        "tls_certificate_name": _text(obj.get("TlsCertificateName")),
        "tls_domain_capabilities": capabilities,
        "require_tls": _bool(obj.get("RequireTLS")),
        "enabled": _bool(obj.get("Enabled"), default=True),
        "hybrid": _hybrid_capability(capabilities),
        # IPRange items flatten by ToString() ("0.0.0.0-255.255.255.255", "10.0.0.0/8", "192.0.2.1"); which
        # connector answers a sender depends on them (plugin_utils/_facts/receive_selection). Absent: every address.
        "remote_ip_ranges": [str(r) for r in _as_list(obj.get("RemoteIPRanges"))] or None,
    }


def _address_space_domain(address_space: object) -> str:
    match = _ADDRESS_SPACE.match(str(address_space).strip())
    return match.group("address").strip() if match else str(address_space)


def _cloud_send_connector(obj: dict) -> bool:
    if _bool(obj.get("CloudServicesMailEnabled")):
        return True
    smart_hosts = [str(h).strip() for h in _as_list(obj.get("SmartHosts"))]
    if any(_EXO_SMART_HOST.match(host) for host in smart_hosts):
        return True
    if smart_hosts:
        return False
    return any(_EXO_ADDRESS_SPACE.match(_address_space_domain(a)) for a in _as_list(obj.get("AddressSpaces")))


def _send_connector(obj: dict, name: str, fqdn: Optional[str]) -> dict:
    sources = [str(s) for s in _as_list(obj.get("SourceTransportServers"))]
    return {
        "identity": _text(obj.get("Identity")),
        "name": _text(obj.get("Name")),
        "address_spaces": [str(a) for a in _as_list(obj.get("AddressSpaces"))],
        "source_transport_servers": sources,
        "smart_hosts": [str(h) for h in _as_list(obj.get("SmartHosts"))],
        "fqdn": _text(obj.get("Fqdn")),
        "tls_certificate_name": _text(obj.get("TlsCertificateName")),
        "tls_auth_level": _enum_name(exchange_enums.TLS_AUTH_LEVEL, obj, "TlsAuthLevel",
                                     f"send connector {_text(obj.get('Name'))!r}"),
        "tls_domain": _text(obj.get("TlsDomain")),
        "require_tls": _bool(obj.get("RequireTLS")),
        "cloud_services_mail_enabled": _bool(obj.get("CloudServicesMailEnabled")),
        "enabled": _bool(obj.get("Enabled"), default=True),
        "cloud": _cloud_send_connector(obj),
        "this_server_is_source": any(same_server(s, name, fqdn) for s in sources),
    }


def _hybrid_configuration(step: Optional[dict], name: str, fqdn: Optional[str]) -> Optional[dict]:
    objects = _objects(step)
    if not objects:
        return None
    obj = objects[0]
    lists = {
        key: [str(s) for s in _as_list(obj.get(prop))]
        for key, prop in (
            ("receiving_transport_servers", "ReceivingTransportServers"),
            ("sending_transport_servers", "SendingTransportServers"),
            ("edge_transport_servers", "EdgeTransportServers"),
        )
    }
    listed = any(same_server(s, name, fqdn) for servers in lists.values() for s in servers)
    facts = {"tls_certificate_name": _text(obj.get("TlsCertificateName"))}
    facts.update(lists)
    facts.update(features=[str(f) for f in _as_list(obj.get("Features"))], this_server_listed=listed)
    return facts


# --------------------------------------------------------------------------
# Events and read errors
# --------------------------------------------------------------------------


def _event(obj: dict) -> dict:
    event_id = obj.get("Id")
    try:
        event_id = int(event_id)
    except (TypeError, ValueError):
        pass
    return {
        "id": event_id,
        "provider": _text(obj.get("ProviderName")),
        "level": _text(obj.get("LevelDisplayName")),
        "time_created": _iso(_parse_date(obj.get("TimeCreated"))),
        "message": obj.get("Message"),
    }


def _events(step: Optional[dict]) -> List[dict]:
    providers = {p.lower() for p in TRANSPORT_PROVIDERS}
    events = [_event(obj) for obj in _objects(step) if str(obj.get("ProviderName") or "").lower() in providers]
    # The ISO strings sort chronologically; undated events go last.
    events.sort(key=lambda e: e["time_created"] or "", reverse=True)
    return events


def _expected_failure(step: dict, role: str) -> bool:
    error_id = str(step.get("error_id") or "")
    if step.get("id") == "hybrid_configuration":
        return role == "Edge" and error_id.startswith("CommandNotFoundException")
    # The payload already turns "no events" into an empty step; this covers older payloads.
    return step.get("id") == "events" and error_id.startswith("NoMatchingEventsFound")


def _read_errors(steps: Dict[str, dict], role: str) -> List[dict]:
    errors = []
    required = {step_id for step_id, _cmdlet in _REQUIRED}
    for step_id, step in steps.items():
        if step_id in required or not _failed(step) or _expected_failure(step, role):
            continue
        errors.append(
            {
                "step": step_id,
                "cmdlet": step.get("cmdlet"),
                "error": step.get("error"),
                "error_id": step.get("error_id"),
            }
        )
    return errors


# --------------------------------------------------------------------------
# The facts
# --------------------------------------------------------------------------


def _internal_thumbprint(steps: Dict[str, dict]) -> Optional[str]:
    objects = _objects(steps["transport_service"])
    return _thumbprint(objects[0].get("InternalTransportCertificateThumbprint")) if objects else None


def _domain_controller(steps: Dict[str, dict], role: str) -> Optional[str]:
    # An Edge server's directory is its own AD LDS: no domain controller to name (nor -DomainController).
    objects = _objects(steps["transport_service"])
    return None if role == "Edge" or not objects else _text(objects[0].get("OriginatingServer"))


def parse_read(result: dict, server: str, now: Optional[dt.datetime] = None) -> dict:
    """Turn the exchange_command result of :func:`read_steps` into the facts of ``server``.

    ``now`` is the clock used when the result has no ``utc_now`` (default:
    the controller's UTC now). Raises FactsError when a required step is
    missing or failed, when the server was not found, or when the batch ran
    on another computer than ``server``.
    """
    steps = _index_steps(result)
    _check_required(steps, server)
    server_facts = _server_facts(steps, server, _text(result.get("computer_name")))
    _check_computer(server_facts, server)
    name, fqdn = server_facts["name"], server_facts["fqdn"]
    clock = _collected_at(result, now)
    internal = _internal_thumbprint(steps)
    certificates, skipped = _certificates(_objects(steps["certificates"]), clock, internal)
    receive = [obj for obj in _objects(steps["receive_connectors"]) if same_server(obj.get("Server"), name, fqdn)]
    return {
        "collected_at": _iso(clock),
        "server": server_facts,
        "certificates": certificates,
        "receive_connectors": [_receive_connector(obj) for obj in receive],
        "send_connectors": [_send_connector(obj, name, fqdn) for obj in _objects(steps["send_connectors"])],
        "hybrid_configuration": _hybrid_configuration(steps.get("hybrid_configuration"), name, fqdn),
        "internal_transport_certificate": internal,
        "domain_controller": _domain_controller(steps, server_facts["role"]),
        "events": _events(steps.get("events")),
        "read_errors": _read_errors(steps, server_facts["role"]) + skipped,
    }
