# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One server's certificates as facts (see transport_facts.py): Get-ExchangeCertificate's objects, and what their
RawData holds read on the controller (names as Windows renders them, thumbprint, dates, DNS names, key, signature
algorithm); what a remote session lost is ``unknown``. Pure Python: no Ansible imports; ``cryptography`` is imported
only when a certificate has to be read from RawData.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from typing import Any, List, Optional, Tuple

from ansible_collections.exchange.transport_tls.plugins.module_utils import x500
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import exchange_enums, tls_name
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.fact_values import (
    UNKNOWN,
    _as_list,
    _as_utc,
    _bool,
    _enum_name,
    _flags,
    _iso,
    _parse_date,
    _text,
    _thumbprint,
)

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
