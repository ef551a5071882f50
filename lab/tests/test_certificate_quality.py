"""Certificate quality in the lab is real (lab/docs/scenario-format.md, Additions): key, signature hash, EKUs, chain, exportable.

What a scenario says is what a TLS client is shown on the lab's SMTP listener (checked here with the standard
library's ssl and cryptography, not with the lab's own code), what Get-ExchangeCertificate reports as
PublicKeySize, and what the saved state keeps.
"""

from __future__ import annotations

import smtplib
import ssl

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from exchange_lab.cmdlets import certificate_object
from exchange_lab.scenario import load_scenario
from tests.conftest import SCENARIOS

LOOPBACK = "127.0.0.1"


def _scenario(tmp_path, **quality) -> object:
    """demo.yml with EX02's renewed certificate (the one its Default Frontend presents) given ``quality``."""
    doc = yaml.safe_load((SCENARIOS / "demo.yml").read_text())
    ex02 = next(s for s in doc["servers"] if s["name"] == "EX02")
    presented = next(c for c in ex02["certificates"] if c["id"] == "le-r11")
    presented.update(quality)
    path = tmp_path / "quality.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _presented(lab) -> list[x509.Certificate]:
    """The certificates EX02's port 25 sends after STARTTLS, leaf first, as an unverifying TLS client receives them."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # see RSA 1024 and SHA-1 too: the point is to look at them
    with smtplib.SMTP(LOOPBACK, lab.smtp["EX02"].port, local_hostname="probe.example.net", timeout=10) as client:
        client.starttls(context=context)
        chain = client.sock._sslobj.get_unverified_chain()  # Python 3.10+: what the server sent, in order
        return [x509.load_der_x509_certificate(c.public_bytes(ssl._ssl.ENCODING_DER)) for c in chain]


def _lab_certificate(lab):
    return lab.org.server("EX02").certificate_by_id("le-r11")


@pytest.mark.parametrize("key, kind, size", [
    ("RSA 1024", rsa.RSAPublicKey, 1024), ("RSA 2048", rsa.RSAPublicKey, 2048), ("RSA 3072", rsa.RSAPublicKey, 3072),
    ("ECDSA P-256", ec.EllipticCurvePublicKey, 256), ("ECDSA P-384", ec.EllipticCurvePublicKey, 384),
])
def test_the_key_a_client_sees_is_the_key_the_scenario_names(tmp_path, running_lab, key, kind, size):
    lab = running_lab(_scenario(tmp_path, key=key))
    leaf = _presented(lab)[0]
    assert isinstance(leaf.public_key(), kind) and leaf.public_key().key_size == size
    cert = _lab_certificate(lab)
    # Get-ExchangeCertificate's PublicKeySize is the key's size in bits, and the thumbprint is the presented DER's.
    assert certificate_object(cert, lab.org.server("EX02"))["PublicKeySize"] == size
    assert cert.thumbprint == _thumbprint(leaf)


@pytest.mark.parametrize("name", ["sha1", "sha256", "sha384", "sha512"])
def test_the_signature_hash_is_the_one_named(tmp_path, running_lab, name):
    lab = running_lab(_scenario(tmp_path, key="RSA 2048", signature_hash=name))
    leaf = _presented(lab)[0]
    assert leaf.signature_hash_algorithm.name == name
    # The signature is real: the issuing CA's key (sent as the chain's second certificate) verifies it.
    # (By hand: cryptography's verify_directly_issued_by refuses SHA-1, which real servers still present.)
    ca = _presented(lab)[1]
    assert ca.subject == leaf.issuer
    ca.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(leaf.signature_hash_algorithm))


@pytest.mark.parametrize("eku, oids", [
    (None, [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
    (["serverAuth"], [ExtendedKeyUsageOID.SERVER_AUTH]),
    (["clientAuth", "serverAuth"], [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
])
def test_the_ekus_are_the_ones_named(tmp_path, running_lab, eku, oids):
    lab = running_lab(_scenario(tmp_path, **({"eku": eku} if eku else {})))
    leaf = _presented(lab)[0]
    assert list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == oids


@pytest.mark.parametrize("include_chain, count", [(True, 2), (False, 1)])
def test_include_chain_decides_whether_the_intermediate_is_sent(tmp_path, running_lab, include_chain, count):
    lab = running_lab(_scenario(tmp_path, include_chain=include_chain))
    presented = _presented(lab)
    assert len(presented) == count
    assert presented[0].subject.rfc4514_string() == "CN=mail.contoso.com"
    if count == 2:
        assert presented[1].subject == presented[0].issuer


def test_quality_round_trips_through_the_saved_state(tmp_path, running_lab):
    quality = {"key": "RSA 3072", "signature_hash": "sha384", "eku": ["serverAuth"], "include_chain": False,
               "exportable": True}
    lab = running_lab(_scenario(tmp_path, **quality))
    lab.write_state()
    state = load_scenario(tmp_path / "state.yml")
    saved = next(c for s in state["servers"] if s["name"] == "EX02" for c in s["certificates"] if c["id"] == "le-r11")
    assert {k: saved[k] for k in quality} == quality
    assert saved["thumbprint"] == _lab_certificate(lab).thumbprint  # the saved state re-mints the same certificate
    assert _lab_certificate(lab).exportable is True


def test_a_bad_quality_value_is_refused_naming_the_key_and_the_valid_values(tmp_path):
    from exchange_lab.scenario import ScenarioError

    with pytest.raises(ScenarioError) as raised:
        load_scenario(_scenario(tmp_path, key="DSA 1024"))
    assert "servers[1].certificates[1].key: 'DSA 1024' is not a certificate key; valid: RSA 1024, RSA 2048" in str(raised.value)
    assert str(raised.value).startswith(str(tmp_path / "quality.yml") + ":")


def _thumbprint(cert: x509.Certificate) -> str:
    from cryptography.hazmat.primitives import hashes

    return cert.fingerprint(hashes.SHA1()).hex().upper()

