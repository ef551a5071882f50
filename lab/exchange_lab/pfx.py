"""PKCS#12 (PFX) files for the lab: what Import-ExchangeCertificate reads and Export-ExchangeCertificate writes.

A certificate imported from a PFX becomes a lab certificate like a minted one:
its subject and issuer are rendered from the DER with the collection's X.500
code (the .NET form Exchange shows), and the quality fields (key, signature
hash, EKUs, chain) are read from the certificate itself, so a saved state
records what was imported. A PFX the lab's Minter made re-mints to the same
thumbprint when the state is loaded again; any other PFX is refused by that
load (its thumbprint cannot be re-minted), which the lab README notes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID

from ansible_collections.exchange.transport_tls.plugins.module_utils import x500

from .pki import MintedCertificate

_EKU_NAMES = {ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth", ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth"}


class PfxError(ValueError):
    """The bytes are not a PKCS#12 file this password opens."""

    def __init__(self, message: str, wrong_password: bool = False):
        super().__init__(message)
        self.wrong_password = wrong_password


@dataclass(frozen=True)
class PfxContent:
    minted: MintedCertificate
    has_private_key: bool
    self_signed: bool
    domains: list[str]
    not_before: dt.datetime
    not_after: dt.datetime
    key: str
    signature_hash: str
    eku: list[str]
    include_chain: bool
    friendly_name: str | None


def build_pfx(minted: MintedCertificate, password: str | None, *, with_key: bool = True,
              friendly_name: str | None = None) -> bytes:
    """A PFX of a lab certificate (leaf, its issuing CA, and the key unless ``with_key`` is false)."""
    certs = x509.load_pem_x509_certificates(minted.chain_pem)
    key = serialization.load_pem_private_key(minted.key_pem, None) if with_key else None
    encryption = (serialization.BestAvailableEncryption(password.encode("utf-8")) if password
                  else serialization.NoEncryption())
    name = friendly_name.encode("utf-8") if friendly_name else None
    return pkcs12.serialize_key_and_certificates(name, key, certs[0], certs[1:] or None, encryption)


def _key_name(public_key) -> str:
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"RSA {public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "ECDSA P-256", "secp384r1": "ECDSA P-384"}.get(public_key.curve.name, public_key.curve.name)
    return type(public_key).__name__


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def read_pfx(data: bytes, password: str | None) -> PfxContent:
    """The certificate, key and chain of a PFX; PfxError when the password does not open it."""
    try:
        loaded = pkcs12.load_pkcs12(data, password.encode("utf-8") if password else None)
    except ValueError as exc:
        # cryptography does not tell a wrong password from damaged data; a PFX that opens without a
        # password but was given one opens anyway (Windows behaves alike for an unprotected PFX).
        raise PfxError(str(exc), wrong_password=True) from None
    bag = loaded.cert
    extra = [c.certificate for c in loaded.additional_certs]
    if bag is None:
        # Without a key nothing marks the leaf: it is the certificate that is no CA.
        leaves = [c for c in loaded.additional_certs if not _is_ca(c.certificate)]
        if not leaves:
            raise PfxError("the PKCS#12 data holds no certificate")
        bag = leaves[0]
        extra = [c.certificate for c in loaded.additional_certs if c is not bag]
    cert = bag.certificate
    der = cert.public_bytes(serialization.Encoding.DER)
    issuer_der, subject_der = x500.certificate_names(der)
    subject, issuer = x500.render_name(subject_der), x500.render_name(issuer_der)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    chain_tail = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in extra)
    key_pem = b""
    if loaded.key is not None:
        key_pem = loaded.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        domains = san.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        domains = []
    try:
        eku = [_EKU_NAMES[o] for o in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value if o in _EKU_NAMES]
    except x509.ExtensionNotFound:
        eku = ["serverAuth", "clientAuth"]
    public_key = cert.public_key()
    size = public_key.key_size if isinstance(public_key, rsa.RSAPublicKey) else public_key.curve.key_size
    minted = MintedCertificate(
        der=der,
        thumbprint=hashlib.sha1(der).hexdigest().upper(),
        serial_number=f"{cert.serial_number:X}",
        subject=subject,
        issuer=issuer,
        cert_pem=cert_pem,
        key_pem=key_pem,
        chain_pem=cert_pem + chain_tail,
        public_key_size=size,
        presented_pem=cert_pem + chain_tail,
    )
    name = bag.friendly_name
    return PfxContent(
        minted=minted,
        has_private_key=loaded.key is not None,
        self_signed=subject == issuer,
        domains=list(domains),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key=_key_name(public_key),
        signature_hash=cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else "sha256",
        eku=eku or ["serverAuth", "clientAuth"],
        include_chain=bool(extra),
        friendly_name=name.decode("utf-8") if name else None,
    )
