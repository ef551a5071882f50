# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The candidate loader reads what a CA delivers and describes it as Exchange will show it."""

from __future__ import annotations

import hashlib

import pytest
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._impact.candidate import (
    CandidateError,
    candidate_from_facts,
    load_candidate,
)
from tests import impact_pki as pki
from tests.unit.facts_factories import cert as fact_cert


@pytest.fixture(scope="module")
def ca():
    root = pki.root()
    return root, pki.intermediate(root, "Impact R11")


def test_pem_leaf_with_chain_is_described_as_windows_shows_it(ca, tmp_path):
    root, r11 = ca
    issued = pki.leaf(r11)
    path = tmp_path / "mail.pem"
    path.write_bytes(issued.pem_with_chain() + issued.key_pem())
    got = load_candidate(path=str(path), trust_pem=root.pem)
    assert got.thumbprint == hashlib.sha1(issued.der).hexdigest().upper()
    # Windows renders the issuer last-RDN-first: CN, O, C.
    assert got.issuer == "CN=Impact R11, O=Impact Test PKI, C=US"
    assert got.subject == "CN=mail.contoso.com"
    assert got.tls_certificate_name == "<I>CN=Impact R11, O=Impact Test PKI, C=US<S>CN=mail.contoso.com"
    assert got.domains == ("mail.contoso.com", "autodiscover.contoso.com")
    assert got.key == "ECDSA P-256" and got.signature_hash == "sha256"
    assert got.eku == ("serverAuth", "clientAuth")
    assert [c["subject"] for c in got.chain] == ["CN=Impact R11, O=Impact Test PKI, C=US"]
    assert got.has_private_key is True and got.pfx_bytes is None
    assert got.third_party is True and got.chain_complete is True
    assert got.source == "pem"


def test_der_file_and_untrusted_root(ca, tmp_path):
    _root, r11 = ca
    issued = pki.leaf(r11)
    path = tmp_path / "mail.cer"
    path.write_bytes(issued.der)
    got = load_candidate(path=str(path))
    assert got.source == "der" and got.has_private_key is None and got.der == issued.der
    # The intermediate is not in the file and not a root anywhere: neither chain nor trust can be shown.
    assert got.chain_complete is False and got.third_party is None
    assert "Impact R11" in got.trust_detail


def test_private_root_is_not_third_party(ca, tmp_path):
    root, r11 = ca
    issued = pki.leaf(r11)
    path = tmp_path / "mail.pem"
    path.write_bytes(issued.pem_with_chain(include_root=True))
    got = load_candidate(path=str(path))
    assert got.third_party is False and got.chain_complete is True
    assert "does not trust" in got.trust_detail
    assert load_candidate(path=str(path), trust_pem=root.pem.decode()).third_party is True


def test_self_signed_is_not_third_party(tmp_path):
    issued = pki.leaf(None, "ex01.contoso.com", domains=["ex01.contoso.com"])
    got = load_candidate(data=issued.pem)
    assert got.self_signed and got.third_party is False


def test_pkcs12_keeps_its_bytes_and_key(ca, tmp_path):
    root, r11 = ca
    issued = pki.leaf(r11, key="RSA 2048", eku=["serverAuth"])
    blob = issued.pfx(b"s3cret")
    path = tmp_path / "mail.pfx"
    path.write_bytes(blob)
    got = load_candidate(path=str(path), password="s3cret", trust_pem=root.pem)
    assert got.source == "pkcs12" and got.pfx_bytes == blob
    assert got.has_private_key is True and got.key == "RSA 2048"
    assert got.thumbprint == hashlib.sha1(issued.der).hexdigest().upper()
    assert got.eku == ("serverAuth",)
    assert got.third_party is True


def test_pkcs12_without_key(ca):
    _root, r11 = ca
    issued = pki.leaf(r11)
    got = load_candidate(data=issued.pfx(b"pw", with_key=False), password=b"pw")
    assert got.has_private_key is False
    assert got.subject == "CN=mail.contoso.com"


def test_sha1_and_small_rsa_are_reported(ca):
    _root, r11 = ca
    got = load_candidate(data=pki.leaf(r11, key="RSA 1024", signature_hash="sha1").der)
    assert got.signature_hash == "sha1" and got.key == "RSA 1024" and got.key_size == 1024


def test_no_eku_extension_means_every_purpose(ca):
    _root, r11 = ca
    assert load_candidate(data=pki.leaf(r11, eku=()).der).eku is None


@pytest.mark.parametrize(
    "content, password, expected",
    [
        (b"", None, "is empty"),
        (b"hello, not a certificate", None, "is not a certificate"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", None, "cannot be read"),
        (b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", None, "holds no PEM CERTIFICATE block"),
    ],
)
def test_bad_files_name_the_input(tmp_path, content, password, expected):
    path = tmp_path / "bad.pem"
    path.write_bytes(content)
    with pytest.raises(CandidateError) as err:
        load_candidate(path=str(path), password=password)
    assert str(path) in str(err.value) and expected in str(err.value)
    assert "connector_tls_candidate" in str(err.value)


def test_pkcs12_wrong_or_missing_password(ca, tmp_path):
    _root, r11 = ca
    path = tmp_path / "mail.pfx"
    path.write_bytes(pki.leaf(r11).pfx(b"right"))
    with pytest.raises(CandidateError, match="does not open.*connector_tls_candidate_password"):
        load_candidate(path=str(path), password="wrong")
    with pytest.raises(CandidateError, match="protected by a password.*connector_tls_candidate_password"):
        load_candidate(path=str(path))


def test_missing_file_and_no_input(tmp_path):
    with pytest.raises(CandidateError, match="no such file on the controller"):
        load_candidate(path=str(tmp_path / "absent.pem"))
    with pytest.raises(CandidateError, match="connector_tls_candidate_thumbprint"):
        load_candidate()


def test_key_of_another_certificate_is_refused(ca):
    _root, r11 = ca
    one, other = pki.leaf(r11), pki.leaf(r11, "other.contoso.com")
    with pytest.raises(CandidateError, match="does not belong to the first certificate"):
        load_candidate(data=one.pem + other.key_pem())


def test_trust_bundle_without_certificates_is_refused(ca):
    _root, r11 = ca
    with pytest.raises(CandidateError, match="connector_tls_candidate_trust"):
        load_candidate(data=pki.leaf(r11).pem, trust_pem=b"not pem")


def test_candidate_from_facts():
    facts = fact_cert(signature_algorithm="sha1RSA", root_ca_type="ThirdParty")
    got = candidate_from_facts(facts)
    assert got.thumbprint == facts["thumbprint"] and got.tls_certificate_name == facts["tls_certificate_name"]
    assert got.signature_hash == "sha1" and got.third_party is True and got.source == "facts"
    assert got.eku is None and got.pfx_bytes is None
    assert candidate_from_facts(fact_cert(root_ca_type="Registry")).third_party is False


def test_as_dict_holds_no_key_material(ca):
    _root, r11 = ca
    issued = pki.leaf(r11)
    got = load_candidate(data=issued.pfx(b"pw"), password="pw").as_dict()
    assert "pfx_bytes" not in got
    assert set(got) >= {"thumbprint", "subject", "issuer", "tls_certificate_name", "domains", "not_before", "not_after",
                        "key", "signature_hash", "eku", "chain"}


def test_names_are_rendered_as_windows_renders_them():
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Washington"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Contoso, Ltd"),
        x509.NameAttribute(NameOID.COMMON_NAME, "mail.contoso.com"),
    ])
    got = load_candidate(data=pki.leaf(None, subject=subject).der)
    # Last RDN first, ", " between RDNs, S= for the state, and a value holding a comma quoted (CertNameToStr).
    assert got.subject == 'CN=mail.contoso.com, O="Contoso, Ltd", S=Washington, C=US'
    assert got.tls_certificate_name == f"<I>{got.subject}<S>{got.subject}"
    assert got.domains[0] == "mail.contoso.com"


def test_pem_key_passwords(ca):
    from cryptography.hazmat.primitives import serialization

    _root, r11 = ca
    issued = pki.leaf(r11)
    encrypted = issued.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.BestAvailableEncryption(b"keypass"))
    assert load_candidate(data=issued.pem + encrypted, password="keypass").has_private_key is True
    with pytest.raises(CandidateError, match="^the candidate certificate: the private key is encrypted"):
        load_candidate(data=issued.pem + encrypted)
    with pytest.raises(CandidateError, match="^the candidate certificate: connector_tls_candidate_password does not open the private key"):
        load_candidate(data=issued.pem + encrypted, password="wrong")
    # A password given for a key that needs none is no error.
    assert load_candidate(data=issued.pem + issued.key_pem(), password="unused").has_private_key is True
