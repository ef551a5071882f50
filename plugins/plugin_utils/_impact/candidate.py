# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A renewal candidate, read on the controller from its file: what Exchange would see once it is imported.

The impact analysis and the rollout start from the certificate file a CA
delivered, before it is on any server. This module reads it (PEM: the leaf,
optionally its chain and its key; DER; PKCS#12 with a password) with
``cryptography`` and describes it the way Exchange will: the thumbprint as
``Get-ExchangeCertificate`` shows it (SHA-1 of the DER, upper-case hex), the
issuer and subject as ``X509Certificate2.Issuer``/``.Subject`` render them
(module_utils/x500.py), hence the ``TlsCertificateName`` a connector must name
(Microsoft's recipe ``"<I>$($cert.Issuer)<S>$($cert.Subject)"``,
learn.microsoft.com/exchange/architecture/client-access/certificates), and the
domains as ``CertificateDomains`` lists them (subject CN, then SAN DNS names).

``third_party`` answers "does it chain to a public root?" the way an
administrator would check it on the controller: the chain is built from the
certificates given with the leaf, the roots in ``certifi``, the system's trust
store and any extra roots (``trust_pem``), each link verified by signature.
Microsoft 365 needs a certificate from a third-party CA for hybrid mail
(learn.microsoft.com/exchange/hybrid-deployment/hybrid-deployment-prerequisites).

Every problem with the input is a CandidateError whose message names the input
and says what would be valid; nothing else escapes.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import re
import ssl
import warnings
from dataclasses import dataclass
from typing import List, Optional, Tuple, Union

from ansible_collections.exchange.transport_tls.plugins.module_utils import x500
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import tls_name
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.certificate_facts import key_fields

__all__ = ["Candidate", "CandidateError", "load_candidate", "candidate_from_facts", "VALID_FORMATS"]

VALID_FORMATS = (
    "a PEM file (the certificate first, optionally followed by its chain and its private key), "
    "a DER certificate (.cer/.crt), or a PKCS#12 file (.pfx/.p12) with its password"
)
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)-----END \1-----", re.S)
_TIME = "%Y-%m-%dT%H:%M:%SZ"
_EKU_NAMES = {"1.3.6.1.5.5.7.3.1": "serverAuth", "1.3.6.1.5.5.7.3.2": "clientAuth", "2.5.29.37.0": "anyExtendedKeyUsage"}
# PFX: SEQUENCE { INTEGER 3, ContentInfo { OID pkcs7-data ... } } (RFC 7292 section 4).
_PFX_VERSION = b"\x02\x01\x03"
_PKCS7_DATA = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01"


class CandidateError(ValueError):
    """The candidate cannot be used; the message names the input and what would be valid."""


@dataclass(frozen=True)
class Candidate:
    """A certificate as Exchange will show it once imported (issue 22 fields; see docs/impact.md).

    ``chain``: the certificates given with the leaf, in the order given, each
    ``{"thumbprint", "subject", "issuer"}``. ``eku``: None when the certificate
    has no EKU extension (valid for every purpose). ``has_private_key``: None
    when the input cannot tell (a PEM or DER file without a key, or a
    certificate known only from facts that did not say). ``third_party``: None
    when no chain to a root could be built either way. ``source``: pkcs12, pem,
    der or facts.
    """

    thumbprint: str
    subject: str
    issuer: str
    tls_certificate_name: str
    domains: Tuple[str, ...]
    not_before: str
    not_after: str
    key: Optional[str]
    key_size: Optional[int]
    signature_hash: Optional[str]
    eku: Optional[Tuple[str, ...]]
    chain: Tuple[dict, ...]
    has_private_key: Optional[bool]
    pfx_bytes: Optional[bytes]
    third_party: Optional[bool]
    chain_complete: Optional[bool] = None
    trust_detail: str = ""
    self_signed: bool = False
    source: str = "pem"
    der: Optional[bytes] = None  # the leaf's DER (None when known only from facts); never in as_dict

    def as_dict(self) -> dict:
        """The impact.json ``candidate`` object (no key material, no PFX bytes)."""
        return {
            "thumbprint": self.thumbprint,
            "subject": self.subject,
            "issuer": self.issuer,
            "tls_certificate_name": self.tls_certificate_name,
            "domains": list(self.domains),
            "not_before": self.not_before,
            "not_after": self.not_after,
            "key": self.key,
            "signature_hash": self.signature_hash,
            "eku": None if self.eku is None else list(self.eku),
            "chain": [dict(c) for c in self.chain],
            "has_private_key": self.has_private_key,
            "third_party": self.third_party,
            "chain_complete": self.chain_complete,
            "source": self.source,
        }


def _utc(cert, attr: str) -> dt.datetime:
    value = getattr(cert, attr + "_utc", None)
    return value if value is not None else getattr(cert, attr).replace(tzinfo=dt.timezone.utc)


def _thumbprint(der: bytes) -> str:
    return hashlib.sha1(der).hexdigest().upper()


def _names(der: bytes) -> Tuple[str, str]:
    issuer_der, subject_der = x500.certificate_names(der)
    return x500.render_name(issuer_der), x500.render_name(subject_der)


def _domains(cert, subject: str) -> Tuple[str, ...]:
    from cryptography import x509

    names: List[str] = []
    cn = tls_name.common_name(subject)
    if cn:
        names.append(cn)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names += list(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        pass
    seen, out = set(), []
    for name in names:
        if name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return tuple(out)


def _eku(cert) -> Optional[Tuple[str, ...]]:
    from cryptography import x509

    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None
    return tuple(_EKU_NAMES.get(u.dotted_string, u.dotted_string) for u in usages)


def _summary(cert) -> dict:
    from cryptography.hazmat.primitives import serialization

    der = cert.public_bytes(serialization.Encoding.DER)
    issuer, subject = _names(der)
    return {"thumbprint": _thumbprint(der), "subject": subject, "issuer": issuer}


@functools.lru_cache(maxsize=1)
def _system_roots() -> tuple:
    """PEM roots of certifi and of the system store (OpenSSL's default paths); unreadable files are skipped."""
    paths = []
    try:
        import certifi  # pylint: disable=import-outside-toplevel

        paths.append(certifi.where())
    except ImportError:
        pass
    verify = ssl.get_default_verify_paths()
    if verify.cafile:
        paths.append(verify.cafile)
    if verify.capath and os.path.isdir(verify.capath):
        paths += [os.path.join(verify.capath, f) for f in sorted(os.listdir(verify.capath))]
    roots = []
    with warnings.catch_warnings():
        # Some system roots predate RFC 5280's positive serials; cryptography warns about each on every load.
        warnings.simplefilter("ignore")
        for path in paths:
            try:
                with open(path, "rb") as handle:
                    roots += _pem_certificates(handle.read())
            except (OSError, ValueError):
                continue
    return tuple(roots)


def _pem_certificates(data: bytes) -> list:
    from cryptography import x509

    out = []
    for match in _PEM_BLOCK.finditer(data):
        if match.group(1) == b"CERTIFICATE":
            try:
                out.append(x509.load_pem_x509_certificate(match.group(0)))
            except ValueError:
                continue
    return out


def _issued_by(cert, issuer) -> bool:
    """Whether ``issuer``'s key signed ``cert``. By hand for RSA and ECDSA: verify_directly_issued_by refuses SHA-1,
    and a SHA-1 chain is still a chain (its weakness is its own finding)."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if cert.issuer != issuer.subject:
        return False
    try:
        key, algorithm = issuer.public_key(), cert.signature_hash_algorithm
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None and cert.signature_algorithm_parameters is not None:
            key.verify(cert.signature, cert.tbs_certificate_bytes, cert.signature_algorithm_parameters, algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
        else:
            cert.verify_directly_issued_by(issuer)
    except Exception:  # pylint: disable=broad-except  # any failure (signature, algorithm) means "not this issuer"
        return False
    return True


def _trust(leaf, given: list, extra_roots: list) -> Tuple[Optional[bool], Optional[bool], str]:
    """(third_party, chain_complete, detail): walk issuer links through the given chain, then the roots."""
    roots = list(extra_roots) + list(_system_roots())
    root_der = {_thumbprint(r.public_bytes(_der_encoding())) for r in roots}
    current, seen = leaf, set()
    for _depth in range(10):
        der = current.public_bytes(_der_encoding())
        if _thumbprint(der) in root_der:
            return True, True, f"chains to the trusted root {_summary(current)['subject']}"
        if current.issuer == current.subject and _issued_by(current, current):
            return False, True, f"chains to the root {_summary(current)['subject']}, which the controller does not trust"
        seen.add(_thumbprint(der))
        nxt = next((c for c in given if _thumbprint(c.public_bytes(_der_encoding())) not in seen and _issued_by(current, c)), None)
        if nxt is None:
            root = next((r for r in roots if _issued_by(current, r)), None)
            if root is not None:
                # Issued directly by a trusted root: the chain a server sends may end before the root.
                return True, True, f"chains to the trusted root {_summary(root)['subject']}"
            return None, False, f"the issuer of {_summary(current)['subject']} ({_summary(current)['issuer']}) is neither in the file nor a trusted root"
        current = nxt
    return None, False, "the chain is longer than 10 certificates"


def _der_encoding():
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.DER


def _pick_leaf(certs: list, key) -> Tuple[object, list]:
    """The leaf: the one matching the key, else the first that issued none of the others."""
    from cryptography.hazmat.primitives import serialization

    if key is not None:
        spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        for cert in certs:
            if cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == spki:
                return cert, [c for c in certs if c is not cert]
    for cert in certs:
        if not any(o is not cert and o.issuer == cert.subject for o in certs):
            return cert, [c for c in certs if c is not cert]
    return certs[0], certs[1:]


def _looks_like_pfx(data: bytes) -> bool:
    return data[:1] == b"\x30" and _PFX_VERSION in data[:8] and _PKCS7_DATA in data[:32]


def _load_pkcs12(data: bytes, password: Optional[bytes], what: str):
    from cryptography.hazmat.primitives.serialization import pkcs12

    try:
        bundle = pkcs12.load_pkcs12(data, password)
    except ValueError:
        if password is None:
            raise CandidateError(f"{what} is a PKCS#12 file protected by a password: give it with connector_tls_candidate_password") from None
        raise CandidateError(
            f"{what} is a PKCS#12 file that this password does not open (or it is damaged): "
            "give the password it was exported with in connector_tls_candidate_password") from None
    certs = ([bundle.cert.certificate] if bundle.cert else []) + [c.certificate for c in bundle.additional_certs]
    if not certs:
        raise CandidateError(f"{what} is a PKCS#12 file without a certificate; export the certificate with its key and chain")
    leaf, chain = _pick_leaf(certs, bundle.key)
    return leaf, chain, bundle.key is not None and bundle.cert is not None


def _load_key(block: bytes, password: Optional[bytes], what: str):
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_private_key(block, password)
    except TypeError:
        if password is not None:  # a password given for a key that is not encrypted: not an error
            return serialization.load_pem_private_key(block, None)
        raise CandidateError(f"{what}: the private key is encrypted; give its password in connector_tls_candidate_password") from None
    except ValueError:
        if password is not None and b"ENCRYPTED" in block[:40]:
            raise CandidateError(f"{what}: connector_tls_candidate_password does not open the private key; give the key's password") from None
        raise


def _load_pem(data: bytes, password: Optional[bytes], what: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    certs, key = [], None
    for match in _PEM_BLOCK.finditer(data):
        label = match.group(1)
        try:
            if label == b"CERTIFICATE":
                certs.append(x509.load_pem_x509_certificate(match.group(0)))
            elif label.endswith(b"PRIVATE KEY"):
                key = _load_key(match.group(0), password, what)
        except CandidateError:
            raise
        except ValueError as exc:
            raise CandidateError(f"{what}: a PEM block {label.decode()} cannot be read ({exc}); expected {VALID_FORMATS}") from None
    if not certs:
        raise CandidateError(f"{what} holds no PEM CERTIFICATE block; expected {VALID_FORMATS}")
    leaf = certs[0]
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if key is not None and key.public_key().public_bytes(*spki) != leaf.public_key().public_bytes(*spki):
        raise CandidateError(f"{what}: the private key does not belong to the first certificate; put the certificate first, then its chain")
    return leaf, certs[1:], (True if key is not None else None)


def _read(path: Optional[str], data: Optional[bytes]) -> Tuple[bytes, str]:
    if data is not None:
        return (data.encode() if isinstance(data, str) else bytes(data)), "the candidate certificate"
    if not path:
        raise CandidateError("no candidate: give connector_tls_candidate (a certificate file on the controller) "
                             "or connector_tls_candidate_thumbprint")
    what = f"connector_tls_candidate {path!r}"
    try:
        with open(path, "rb") as handle:
            return handle.read(), what
    except FileNotFoundError:
        raise CandidateError(f"{what}: no such file on the controller; give the path of {VALID_FORMATS}") from None
    except IsADirectoryError:
        raise CandidateError(f"{what} is a directory; give the path of {VALID_FORMATS}") from None
    except OSError as exc:
        raise CandidateError(f"{what} cannot be read ({exc.strerror}); give a readable file: {VALID_FORMATS}") from None


def load_candidate(path: Optional[str] = None, data: Optional[Union[bytes, str]] = None, password: Optional[Union[str, bytes]] = None,
                   trust_pem: Optional[Union[bytes, str]] = None) -> Candidate:
    """Read a candidate certificate from ``path`` (or ``data``); raise CandidateError when it is not one.

    ``password`` opens a PKCS#12 file (or an encrypted PEM key). ``trust_pem``
    is a PEM bundle of extra roots trusted besides certifi's and the system's.
    """
    from cryptography import x509

    raw, what = _read(path, data)
    secret = password.encode() if isinstance(password, str) else password
    if not raw.strip():
        raise CandidateError(f"{what} is empty; expected {VALID_FORMATS}")
    pfx_bytes = None
    if b"-----BEGIN" in raw:
        leaf, chain, has_key = _load_pem(raw, secret, what)
        source = "pem"
    elif _looks_like_pfx(raw):
        leaf, chain, has_key = _load_pkcs12(raw, secret, what)
        source, pfx_bytes = "pkcs12", raw
    else:
        try:
            leaf = x509.load_der_x509_certificate(raw)
        except ValueError:
            raise CandidateError(f"{what} is not a certificate: expected {VALID_FORMATS}") from None
        chain, has_key, source = [], None, "der"
    extra = []
    if trust_pem:
        extra = _pem_certificates(trust_pem.encode() if isinstance(trust_pem, str) else bytes(trust_pem))
        if not extra:
            raise CandidateError("connector_tls_candidate_trust holds no PEM CERTIFICATE block; give a PEM bundle of root certificates")
    return _describe(leaf, chain, has_key, pfx_bytes, extra, source, what)


def _describe(leaf, chain: list, has_key, pfx_bytes, extra_roots: list, source: str, what: str) -> Candidate:
    der = leaf.public_bytes(_der_encoding())
    try:
        issuer, subject = _names(der)
    except x500.X500Error as exc:
        raise CandidateError(f"{what}: {exc}") from None
    try:
        hash_alg = leaf.signature_hash_algorithm
    except Exception:  # pylint: disable=broad-except  # an algorithm cryptography does not know
        hash_alg = None
    third_party, complete, detail = _trust(leaf, chain, extra_roots)
    fields = key_fields(leaf)
    return Candidate(
        thumbprint=_thumbprint(der),
        subject=subject,
        issuer=issuer,
        tls_certificate_name=tls_name.format_tls_certificate_name(issuer, subject),
        domains=_domains(leaf, subject),
        not_before=_utc(leaf, "not_valid_before").strftime(_TIME),
        not_after=_utc(leaf, "not_valid_after").strftime(_TIME),
        key=fields.get("key"),
        key_size=fields.get("key_size"),
        signature_hash=hash_alg.name if hash_alg is not None else None,
        eku=_eku(leaf),
        chain=tuple(_summary(c) for c in chain),
        has_private_key=has_key,
        pfx_bytes=pfx_bytes,
        third_party=third_party,
        chain_complete=complete,
        trust_detail=detail,
        self_signed=issuer == subject,
        source=source,
        der=der,
    )


_SIGNATURE_HASHES = {"md5": "md5", "sha1": "sha1", "sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}


def candidate_from_facts(certificate: dict) -> Candidate:
    """A candidate already in a server's store, from its exchange_certificate_facts entry.

    Facts carry no EKU and no chain: ``eku`` and ``chain_complete`` are None
    (unknown), and ``third_party`` is what Exchange's RootCAType says.
    """
    algorithm = (certificate.get("signature_algorithm") or "").lower()
    signature_hash = next((v for k, v in _SIGNATURE_HASHES.items() if algorithm.startswith(k)), None)
    root = certificate.get("root_ca_type")
    third_party = True if root == "ThirdParty" else (None if root in (None, "unknown", "Unknown") else False)
    has_key = certificate.get("has_private_key")
    return Candidate(
        thumbprint=str(certificate["thumbprint"]).upper(),
        subject=certificate["subject"],
        issuer=certificate["issuer"],
        tls_certificate_name=certificate.get("tls_certificate_name")
        or tls_name.format_tls_certificate_name(certificate["issuer"], certificate["subject"]),
        domains=tuple(certificate.get("domains") or ()),
        not_before=certificate["not_before"],
        not_after=certificate["not_after"],
        key=certificate.get("key"),
        key_size=certificate.get("key_size"),
        signature_hash=signature_hash,
        eku=None,
        chain=(),
        has_private_key=has_key if isinstance(has_key, bool) else None,
        pfx_bytes=None,
        third_party=third_party,
        chain_complete=None,
        trust_detail=f"RootCAType {root}" if root else "RootCAType not returned",
        self_signed=bool(certificate.get("self_signed")),
        source="facts",
    )
