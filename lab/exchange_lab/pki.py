"""Real X.509 certificates for the lab, minted from scenario subject/issuer strings.

Every certificate is deterministic: keys are derived from a hash of the
certificate's content (RSA primes from a generator seeded with it), ECDSA
signatures are deterministic (RFC 6979) and RSA PKCS#1 v1.5 ones are by nature, so the
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
import functools
import hashlib
import random
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from ansible_collections.exchange.transport_tls.plugins.module_utils import x500

_CURVE = ec.SECP256R1()
# P-256 group order: a derived private value must lie in [1, n-1].
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_P384_ORDER = int(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973", 16)
# The key a scenario names (lab/docs/scenario-format.md, certificates[].key) -> (algorithm, size or curve).
KEY_TYPES = ("RSA 1024", "RSA 2048", "RSA 3072", "RSA 4096", "ECDSA P-256", "ECDSA P-384")
DEFAULT_KEY = "ECDSA P-256"
_HASHES = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
_EKU_OIDS = {"serverAuth": ExtendedKeyUsageOID.SERVER_AUTH, "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH}
DEFAULT_EKU = ("serverAuth", "clientAuth")
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
    presented_pem: bytes = b""  # what STARTTLS sends: chain_pem, or the leaf alone (include_chain false)


def _derive_key(label: str) -> ec.EllipticCurvePrivateKey:
    digest = hashlib.sha512(b"exchange-lab key\0" + label.encode("utf-8")).digest()
    value = int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(value, _CURVE)


def _is_probable_prime(n: int, rng: random.Random) -> bool:
    if n < 2:
        return False
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    # A few rounds suffice for random candidates (not adversarial ones); these keys only serve a lab.
    for _ in range(7):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


_SMALL_PRIMES = [p for p in range(3, 2000, 2) if all(p % q for q in range(3, int(p ** 0.5) + 1, 2))]


def _prime(bits: int, rng: random.Random, exponent: int) -> int:
    while True:
        # Top two bits set: the product of two such primes has exactly 2 * bits bits.
        candidate = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if (candidate - 1) % exponent and _is_probable_prime(candidate, rng):
            return candidate


@functools.lru_cache(maxsize=None)
def _derive_rsa(label: str, bits: int) -> rsa.RSAPrivateKey:
    """A deterministic RSA key: primes drawn from a generator seeded with the label (RSA keys cannot be derived
    from a hash the way an EC private value can). Cached: a 4096-bit key takes a second of pure Python."""
    rng = random.Random(hashlib.sha512(b"exchange-lab rsa\0" + label.encode("utf-8")).digest())
    e = 65537
    while True:
        p, q = _prime(bits // 2, rng, e), _prime(bits // 2, rng, e)
        if p != q:
            break
    p, q = max(p, q), min(p, q)
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(e, p * q))
    return numbers.private_key()


def _derive_any(label: str, key_type: str):
    algorithm, _, size = key_type.partition(" ")
    if algorithm == "RSA":
        return _derive_rsa(label, int(size))
    if size == "P-384":
        digest = hashlib.sha512(b"exchange-lab key\0" + label.encode("utf-8")).digest()
        return ec.derive_private_key(int.from_bytes(digest, "big") % (_P384_ORDER - 1) + 1, ec.SECP384R1())
    return _derive_key(label)


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def _der_items(data: bytes) -> list[bytes]:
    """The encoded elements inside one DER SEQUENCE's content."""
    items, i = [], 0
    while i < len(data):
        start, size, i = i, data[i + 1], i + 2
        if size & 0x80:
            count = size & 0x7F
            size, i = int.from_bytes(data[i:i + count], "big"), i + count
        items.append(data[start:i + size])
        i += size
    return items


def _header_size(element: bytes) -> int:
    return 2 + (element[1] & 0x7F if element[1] & 0x80 else 0)


# ecdsa-with-SHA1 (RFC 3279) and sha1WithRSAEncryption (RFC 8017), DER AlgorithmIdentifiers.
_SHA1_ALGORITHMS = {"ec": bytes.fromhex("300906072a8648ce3d0401"), "rsa": bytes.fromhex("300d06092a864886f70d0101050500")}


def _sign_sha1(builder: x509.CertificateBuilder, key) -> x509.Certificate:
    """A SHA-1 signed certificate, which cryptography's builder refuses to make (it still reads them).

    The builder signs with SHA-256; its TBSCertificate gets SHA-1's AlgorithmIdentifier and is signed again.
    """
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    draft = builder.sign(key, hashes.SHA256(), **({"rsa_padding": padding.PKCS1v15()} if is_rsa else {"ecdsa_deterministic": True}))
    tbs = draft.tbs_certificate_bytes
    fields = _der_items(tbs[_header_size(tbs):])
    algorithm = _SHA1_ALGORITHMS["rsa" if is_rsa else "ec"]
    fields[2] = algorithm  # version [0], serialNumber, signature AlgorithmIdentifier, ...
    tbs = _der(0x30, b"".join(fields))
    if is_rsa:
        signature = key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    else:
        signature = key.sign(tbs, ec.ECDSA(hashes.SHA1(), deterministic_signing=True))
    der = _der(0x30, tbs + algorithm + _der(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der)


def _sign(builder: x509.CertificateBuilder, key, hash_name: str) -> x509.Certificate:
    if hash_name == "sha1":
        return _sign_sha1(builder, key)
    algorithm = _HASHES[hash_name]()
    if isinstance(key, rsa.RSAPrivateKey):
        return builder.sign(key, algorithm, rsa_padding=padding.PKCS1v15())
    return builder.sign(key, algorithm, ecdsa_deterministic=True)


def _public_key_size(key) -> int:
    return key.key_size if isinstance(key, rsa.RSAPrivateKey) else key.curve.key_size


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
        key_type: str = DEFAULT_KEY,
        signature_hash: str = "sha256",
        eku: tuple[str, ...] | list[str] = DEFAULT_EKU,
        include_chain: bool = True,
    ) -> MintedCertificate:
        issuer_text = subject if self_signed else issuer
        if issuer_text is None:
            raise MintError("a certificate that is not self-signed needs an issuer")
        if key_type not in KEY_TYPES:
            raise MintError(f"key {key_type!r} is not one the lab mints; valid: {', '.join(KEY_TYPES)}")
        if signature_hash not in _HASHES:
            raise MintError(f"signature_hash {signature_hash!r} is not one the lab signs with; valid: {', '.join(_HASHES)}")
        unknown = [e for e in eku if e not in _EKU_OIDS]
        if unknown or not eku:
            raise MintError(f"eku {list(eku)!r}: name at least one of {', '.join(_EKU_OIDS)}")
        parts = ["leaf", subject, issuer_text, str(self_signed), ",".join(domains), not_before.isoformat(), not_after.isoformat()]
        # The default key keeps the label it always had, so its key does not change; another key type gets its own.
        label = "\0".join(parts if key_type == DEFAULT_KEY else parts + [key_type])
        key = _derive_any(label, key_type)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(subject, "subject"))
            .public_key(key.public_key())
            .serial_number(_serial(label))
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.ExtendedKeyUsage([_EKU_OIDS[e] for e in eku]), critical=False)
        )
        if domains:
            try:
                san = x509.SubjectAlternativeName([x509.DNSName(d) for d in domains])
            except ValueError as exc:
                raise MintError(f"domains {domains!r}: {exc}") from exc
            builder = builder.add_extension(san, critical=False)
        chain_tail = b""
        if self_signed:
            cert = _sign(builder.issuer_name(_name(subject, "subject")), key, signature_hash)
        else:
            ca_cert, ca_key = self._ca(issuer_text)
            cert = _sign(builder.issuer_name(ca_cert.subject), ca_key, signature_hash)
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
            public_key_size=_public_key_size(key),
            presented_pem=cert_pem + (chain_tail if include_chain else b""),
        )
