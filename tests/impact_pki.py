# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A private PKI for the impact tests: a root, intermediates, and candidate leaves written as PEM, DER or PKCS#12.

Real certificates made with ``cryptography``, so the candidate loader reads
what a CA would deliver. Tests pass the root as connector_tls_candidate_trust;
SHA-1 leaves are signed with the lab's own SHA-1 signer (cryptography refuses
to sign SHA-1 itself).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from exchange_lab import pki as lab_pki

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
_EKU = {"serverAuth": ExtendedKeyUsageOID.SERVER_AUTH, "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH}
_EC_KEYS: dict = {}
_RSA_KEYS: dict = {}


def _key(kind: str):
    if kind.startswith("RSA"):
        bits = int(kind.split()[1])
        if bits not in _RSA_KEYS:
            _RSA_KEYS[bits] = rsa.generate_private_key(65537, bits)
        return _RSA_KEYS[bits]
    return ec.generate_private_key(ec.SECP256R1())


def name(text_cn: str, org: str | None = None, country: str | None = None) -> x509.Name:
    attrs = []
    if country:
        attrs.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, text_cn))
    return x509.Name(attrs)


@dataclass
class Issued:
    cert: x509.Certificate
    key: object
    chain: list = field(default_factory=list)  # issuing CAs, nearest first (root included)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def pem_with_chain(self, include_root: bool = False) -> bytes:
        cas = self.chain if include_root else [c for c in self.chain if c.cert.issuer != c.cert.subject]
        return self.pem + b"".join(c.pem for c in cas)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    def pfx(self, password: bytes | None = b"secret", with_key: bool = True, include_chain: bool = True) -> bytes:
        cas = [c.cert for c in self.chain if c.cert.issuer != c.cert.subject] if include_chain else []
        enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        if with_key:
            return pkcs12.serialize_key_and_certificates(b"candidate", self.key, self.cert, cas or None, enc)
        return pkcs12.serialize_key_and_certificates(b"candidate", None, None, [self.cert] + cas, enc)


def root(cn: str = "Impact Test Root", org: str = "Impact Test PKI", country: str = "US") -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = name(cn, org, country)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=3650)).not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key, [])


def intermediate(parent: Issued, cn: str, org: str = "Impact Test PKI", country: str = "US") -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(name(cn, org, country)).issuer_name(parent.cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=365)).not_valid_after(NOW + dt.timedelta(days=1825))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(parent.key, hashes.SHA256())
    )
    return Issued(cert, key, [parent] + parent.chain)


def leaf(parent: Issued | None, cn: str = "mail.contoso.com", *, domains=("mail.contoso.com", "autodiscover.contoso.com"),
         key: str = "ECDSA P-256", signature_hash: str = "sha256", eku=("serverAuth", "clientAuth"),
         not_before: dt.datetime | None = None, days: int = 90, subject: x509.Name | None = None) -> Issued:
    """A leaf issued by ``parent`` (self-signed when None)."""
    private = _key(key)
    subject = subject or name(cn)
    start = not_before or NOW - dt.timedelta(days=1)
    builder = (
        x509.CertificateBuilder().subject_name(subject)
        .issuer_name(parent.cert.subject if parent else subject)
        .public_key(private.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage([_EKU[e] for e in eku]), critical=False)
    if domains:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in domains]), critical=False)
    signer = parent.key if parent else private
    if signature_hash == "sha1":
        # pylint: disable-next=protected-access
        cert = lab_pki._sign_sha1(builder, signer)
    else:
        cert = builder.sign(signer, getattr(hashes, signature_hash.upper())())
    return Issued(cert, private, ([parent] + parent.chain) if parent else [])
