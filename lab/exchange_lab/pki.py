"""Real X.509 certificates for the lab, minted from scenario subject/issuer strings.

Every certificate is deterministic: keys are derived from a hash of the
certificate's content and ECDSA signatures are deterministic (RFC 6979), so the
same scenario mints the same DER and therefore the same SHA-1 thumbprint on
every run. That keeps a saved state loadable as a scenario (its thumbprints
still hold) and lets tests name thumbprints. Two entries with the same content
on two servers are the same certificate, as if one PFX were imported on both.

Subject and issuer strings are the .NET display form. They are parsed with the
collection's own X.500 code and the minted DER is rendered back with it; a
string that does not render back exactly is refused, because Exchange compares
these strings and the lab must not show a different one than the scenario says.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from ansible_collections.exchange.transport_tls.plugins.module_utils import x500

_CURVE = ec.SECP256R1()
# P-256 group order: a derived private value must lie in [1, n-1].
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
# Lab CAs are valid across any date a scenario is likely to use.
_CA_NOT_BEFORE = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
_CA_NOT_AFTER = dt.datetime(2099, 12, 31, tzinfo=dt.timezone.utc)


class MintError(ValueError):
    """A certificate the scenario asks for cannot be minted as written."""


@dataclass(frozen=True)
class MintedCertificate:
    der: bytes
    thumbprint: str           # SHA-1 of the DER, upper-case hex, as Exchange shows it
    serial_number: str        # upper-case hex, as X509Certificate2.SerialNumber shows it
    subject: str              # rendered back from the DER in the .NET form
    issuer: str
    cert_pem: bytes
    key_pem: bytes
    chain_pem: bytes          # leaf, then its issuing CA (empty chain for self-signed)
    public_key_size: int


def _derive_key(label: str) -> ec.EllipticCurvePrivateKey:
    digest = hashlib.sha512(b"exchange-lab key\0" + label.encode("utf-8")).digest()
    value = int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(value, _CURVE)


def _serial(label: str) -> int:
    # 19 bytes keeps the DER INTEGER positive and within RFC 5280's 20 octets.
    return int.from_bytes(hashlib.sha256(b"exchange-lab serial\0" + label.encode("utf-8")).digest()[:19], "big") | 1


def _name(text: str, what: str) -> x509.Name:
    try:
        rdns = x500.parse_name(text)
        return _without_surrogate_bmp(x500.cryptography_name(rdns))
    except (x500.X500Error, ValueError) as exc:
        raise MintError(f"{what} {text!r} is not an X.500 name Windows would print: {exc}") from exc


def _without_surrogate_bmp(name: x509.Name) -> x509.Name:
    """The name with UTF8String for values beyond U+FFFF that Windows would write as BMPString.

    CertStrToName writes such a value as a BMPString of UTF-16 code units
    (surrogate pairs), which Windows prints back unchanged; OpenSSL, which
    serves the lab's STARTTLS, refuses to load a certificate with surrogates
    in a BMPString. A UTF8String prints the same, so the name Exchange sees
    is the one the scenario wrote (the round-trip check below still holds).
    """
    from cryptography.x509.name import _ASN1Type

    def fixed(attribute: x509.NameAttribute) -> x509.NameAttribute:
        if attribute._type == _ASN1Type.BMPString and any(ord(c) > 0xFFFF for c in attribute.value):
            return x509.NameAttribute(attribute.oid, attribute.value, _ASN1Type.UTF8String, _validate=False)
        return attribute

    return x509.Name([x509.RelativeDistinguishedName([fixed(a) for a in rdn]) for rdn in name.rdns])


def _check_round_trip(der: bytes, subject: str, issuer: str) -> tuple[str, str]:
    issuer_der, subject_der = x500.certificate_names(der)
    got_subject, got_issuer = x500.render_name(subject_der), x500.render_name(issuer_der)
    if got_subject != subject:
        raise MintError(f"subject {subject!r} would be shown by Windows as {got_subject!r}; write it that way")
    if got_issuer != issuer:
        raise MintError(f"issuer {issuer!r} would be shown by Windows as {got_issuer!r}; write it that way")
    return got_subject, got_issuer


class Minter:
    """Mints lab certificates; one CA per distinct issuer string, shared by all servers."""

    def __init__(self) -> None:
        self._cas: dict[str, tuple[x509.Certificate, ec.EllipticCurvePrivateKey]] = {}

    def _ca(self, issuer: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        if issuer not in self._cas:
            key = _derive_key("ca\0" + issuer)
            name = _name(issuer, "issuer")
            cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(_serial("ca\0" + issuer))
                .not_valid_before(_CA_NOT_BEFORE)
                .not_valid_after(_CA_NOT_AFTER)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256(), ecdsa_deterministic=True)
            )
            self._cas[issuer] = (cert, key)
        return self._cas[issuer]

    def mint(
        self,
        *,
        subject: str,
        issuer: str | None,
        self_signed: bool,
        domains: list[str],
        not_before: dt.datetime,
        not_after: dt.datetime,
    ) -> MintedCertificate:
        issuer_text = subject if self_signed else issuer
        if issuer_text is None:
            raise MintError("a certificate that is not self-signed needs an issuer")
        label = "\0".join(
            ["leaf", subject, issuer_text, str(self_signed), ",".join(domains), not_before.isoformat(), not_after.isoformat()]
        )
        key = _derive_key(label)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(subject, "subject"))
            .public_key(key.public_key())
            .serial_number(_serial(label))
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        )
        if domains:
            try:
                san = x509.SubjectAlternativeName([x509.DNSName(d) for d in domains])
            except ValueError as exc:
                raise MintError(f"domains {domains!r}: {exc}") from exc
            builder = builder.add_extension(san, critical=False)
        chain_tail = b""
        if self_signed:
            cert = builder.issuer_name(_name(subject, "subject")).sign(key, hashes.SHA256(), ecdsa_deterministic=True)
        else:
            ca_cert, ca_key = self._ca(issuer_text)
            cert = builder.issuer_name(ca_cert.subject).sign(ca_key, hashes.SHA256(), ecdsa_deterministic=True)
            chain_tail = ca_cert.public_bytes(serialization.Encoding.PEM)
        der = cert.public_bytes(serialization.Encoding.DER)
        got_subject, got_issuer = _check_round_trip(der, subject, issuer_text)
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        return MintedCertificate(
            der=der,
            thumbprint=hashlib.sha1(der).hexdigest().upper(),
            serial_number=f"{cert.serial_number:X}",
            subject=got_subject,
            issuer=got_issuer,
            cert_pem=cert_pem,
            key_pem=key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            chain_pem=cert_pem + chain_tail,
            public_key_size=key.curve.key_size,
        )
