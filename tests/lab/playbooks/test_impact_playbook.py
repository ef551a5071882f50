# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Playbook exchange.transport_tls.impact against the lab, with candidate files the tests make (issue 22, Must show).

Each test makes a real candidate (tests/impact_pki.py: a private root passed as connector_tls_candidate_trust, an
intermediate, a leaf written as PEM, DER or PKCS#12), runs the playbook as a user would, and reads impact.json
(checked against schemas/impact-v1.schema.json), junit.xml and the exit status.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import jsonschema
import junitparser
import pytest
import yaml

from tests import impact_pki as pki

from tests.conftest import ROOT

BIN = pathlib.Path(sys.executable).parent
FIXTURE = ROOT / "tests/lab/fixtures/impact.yml"
SCHEMA = json.loads((ROOT / "schemas/impact-v1.schema.json").read_text())
OUTBOUND = "Outbound to Office 365 - 6e2b4c3a-0d7e-4c55-9a1e-2f4a3b9c1d00"
pytestmark = pytest.mark.ansible


@pytest.fixture(scope="module")
def ca():
    root = pki.root("Impact Test Root")
    return root, pki.intermediate(root, "R12", org="Let's Encrypt")


def run(lab, tmp: pathlib.Path, *extra: str) -> tuple:
    """ansible-playbook exchange.transport_tls.impact; (rc, output, impact.json or None)."""
    out = tmp / "reports"
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), "exchange.transport_tls.impact",
         "-e", f"connector_tls_report_dir={out}", *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    output = proc.stdout + proc.stderr
    path = out / "latest" / "impact.json"
    if not path.exists():
        return proc.returncode, output, None
    doc = json.loads(path.read_text())
    jsonschema.validate(doc, SCHEMA)
    suites = junitparser.JUnitXml.fromfile(str(out / "latest" / "junit.xml"))
    assert {s.name for s in suites} == {"findings", "objects"}
    assert "<script" not in (out / "latest" / "report.html").read_text().lower()
    return proc.returncode, output, doc


def launches(lab) -> int:
    doc = yaml.safe_load(lab.state_path.read_text())
    return sum(s.get("launches", 0) for s in doc["servers"])


def variant(tmp: pathlib.Path, change) -> pathlib.Path:
    doc = yaml.safe_load(FIXTURE.read_text())
    change(doc)
    path = tmp / "scenario.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def write(tmp: pathlib.Path, name: str, data: bytes) -> str:
    path = tmp / name
    path.write_bytes(data)
    return str(path)


def trust(tmp: pathlib.Path, ca) -> str:
    return write(tmp, "roots.pem", ca[0].pem)


def renamed(doc) -> list:
    return sorted((o["host"], o["object"]) for o in doc["objects"] if o["action"] == "rename")


def codes(doc) -> set:
    return {f["code"] for f in doc["findings"]}


def test_clean_renewal_from_a_new_intermediate_lists_exactly_the_renames(running_lab, tmp_path, ca):
    lab = running_lab(FIXTURE)
    issued = pki.leaf(ca[1], days=90)
    candidate = write(tmp_path, "mail.pem", issued.pem_with_chain() + issued.key_pem())
    rc, output, doc = run(lab, tmp_path, "-e", f"connector_tls_candidate={candidate}", "-e", f"connector_tls_candidate_trust={trust(tmp_path, ca)}")
    assert rc == 0, output
    assert doc["candidate"]["tls_certificate_name"] == "<I>CN=R12, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
    assert renamed(doc) == sorted([
        ("EX01", "EX01\\Default Frontend EX01"), ("EX01", "EX01\\Partners"), ("EX02", "EX02\\Default Frontend EX02"),
        ("organization", OUTBOUND), ("organization", "hybrid configuration"),
    ])
    assert all(o["after"] == doc["candidate"]["tls_certificate_name"] for o in doc["objects"] if o["action"] == "rename")
    assert {o["action"] for o in doc["objects"]} == {"rename", "import", "enable_smtp", "unchanged"}
    assert [o["object_type"] for o in doc["objects"] if o["action"] == "unchanged"] == ["exo_inbound_connector"]
    assert sorted(o["host"] for o in doc["objects"] if o["action"] == "import") == ["EX01", "EX02"]
    assert codes(doc) == {"candidate_name_change"}
    assert "would break mail: no" in output
    assert launches(lab) == 2  # one read per server


def _renewal_on_ex01(doc):
    """EX01 already holds the R12 renewal (imported, SMTP not enabled); nothing names it yet."""
    ex01 = next(s for s in doc["servers"] if s["name"] == "EX01")
    ex01["certificates"].append({"id": "le-r12", "subject": "CN=mail.contoso.com", "issuer": "CN=R12, O=Let's Encrypt, C=US",
                                 "domains": ["mail.contoso.com", "autodiscover.contoso.com"], "not_before": "2026-11-20",
                                 "not_after": "2027-02-18", "services": ["IIS"]})


def test_same_analysis_by_thumbprint(running_lab, tmp_path):
    lab = running_lab(variant(tmp_path, _renewal_on_ex01))
    thumbprint = lab.org.server("EX01").certificate_by_id("le-r12").thumbprint
    rc, output, doc = run(lab, tmp_path, "-e", f"connector_tls_candidate_thumbprint={thumbprint.lower()}")
    assert rc == 0, output
    assert doc["candidate"]["thumbprint"] == thumbprint and doc["candidate"]["source"] == "facts"
    assert doc["candidate"]["tls_certificate_name"] == "<I>CN=R12, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
    # The same renames as for the file; EX01 holds it already (only SMTP to enable), EX02 must import it.
    assert renamed(doc) == sorted([
        ("EX01", "EX01\\Default Frontend EX01"), ("EX01", "EX01\\Partners"), ("EX02", "EX02\\Default Frontend EX02"),
        ("organization", OUTBOUND), ("organization", "hybrid configuration"),
    ])
    assert [o["host"] for o in doc["objects"] if o["action"] == "import"] == ["EX02"]
    assert sorted(o["host"] for o in doc["objects"] if o["action"] == "enable_smtp") == ["EX01", "EX02"]
    assert codes(doc) == {"candidate_name_change"}


def test_the_certificate_every_object_names_changes_nothing(running_lab, tmp_path):
    lab = running_lab(FIXTURE)
    thumbprint = lab.org.server("EX01").certificate_by_id("le-r11").thumbprint
    rc, output, doc = run(lab, tmp_path, "-e", f"connector_tls_candidate_thumbprint={thumbprint}")
    assert rc == 0, output
    assert renamed(doc) == [] and {o["action"] for o in doc["objects"]} == {"unchanged"}
    assert codes(doc) == set()


def test_pkcs12_password_stays_secret(running_lab, tmp_path, ca):
    lab = running_lab(FIXTURE)
    secret = "Pfx-Secret-8642"
    candidate = write(tmp_path, "mail.pfx", pki.leaf(ca[1]).pfx(secret.encode()))
    rc, output, doc = run(lab, tmp_path, "-e", f"connector_tls_candidate={candidate}", "-e", f"connector_tls_candidate_password={secret}",
                          "-e", f"connector_tls_candidate_trust={trust(tmp_path, ca)}", "-vvv")
    assert rc == 0, output
    assert doc["candidate"]["source"] == "pkcs12" and doc["candidate"]["has_private_key"] is True
    assert secret not in output
    for path in (tmp_path / "reports").rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path


def test_thumbprint_on_no_server_is_refused(running_lab, tmp_path):
    lab = running_lab(FIXTURE)
    rc, output, doc = run(lab, tmp_path, "-e", "connector_tls_candidate_thumbprint=" + "AB" * 20)
    assert rc != 0 and doc is None
    assert "is in the certificate store of no gathered server" in output


@pytest.mark.parametrize("content, extra, expected", [
    (b"this is not a certificate", [], "is not a certificate"),
    (b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", [], "cannot be read"),
    (None, ["-e", "connector_tls_candidate_password=wrong"], "this password does not open"),
    (None, [], "protected by a password"),
])
def test_bad_candidates_are_refused_before_any_launch(running_lab, tmp_path, ca, content, extra, expected):
    lab = running_lab(FIXTURE)
    data = content if content is not None else pki.leaf(ca[1]).pfx(b"right")
    candidate = write(tmp_path, "candidate.pfx", data)
    rc, output, doc = run(lab, tmp_path, "-e", f"connector_tls_candidate={candidate}", *extra)
    assert rc != 0 and doc is None
    assert expected in output and candidate in output
    assert launches(lab) == 0


def test_missing_file_is_refused_before_any_launch(running_lab, tmp_path):
    lab = running_lab(FIXTURE)
    rc, output, _doc = run(lab, tmp_path, "-e", f"connector_tls_candidate={tmp_path / 'absent.pem'}")
    assert rc != 0 and "no such file on the controller" in output
    assert launches(lab) == 0


def _edge_fleet(doc):
    """An Edge-based hybrid: EDGE01 presents its own certificate (edge.contoso.com) while the hybrid names mail.contoso.com."""
    doc["hybrid_configuration"].update(receiving_transport_servers=[], sending_transport_servers=[], edge_transport_servers=["EDGE01"])
    doc["servers"].append({
        "name": "EDGE01", "fqdn": "edge01.contoso.com", "role": "Edge", "version": "15.2.1544.4",
        "certificates": [
            {"id": "selfsigned", "subject": "CN=EDGE01", "self_signed": True, "domains": ["EDGE01", "edge01.contoso.com"],
             "not_before": "2024-03-01", "not_after": "2029-03-01", "services": ["SMTP"]},
            {"id": "edge", "subject": "CN=edge.contoso.com", "issuer": "CN=R11, O=Let's Encrypt, C=US", "domains": ["edge.contoso.com"],
             "not_before": "2026-10-19", "not_after": "2027-01-17", "services": ["SMTP"]},
        ],
        "internal_transport_certificate": "selfsigned",
        "edge_subscription_certificate": "selfsigned",
        "receive_connectors": [{
            "name": "Default internal receive connector EDGE01", "bindings": ["0.0.0.0:25"], "fqdn": "edge01.contoso.com",
            "auth_mechanism": ["Tls", "ExchangeServer"], "permission_groups": ["AnonymousUsers", "ExchangeServers", "Partners"],
            "tls_domain_capabilities": ["mail.protection.outlook.com:AcceptCloudServicesMail"],
            "tls_certificate_name": {"certificate": "edge"}}],
    })


def _partners_relay(doc):
    ex01 = next(s for s in doc["servers"] if s["name"] == "EX01")
    next(c for c in ex01["receive_connectors"] if c["name"] == "Partners")["fqdn"] = "relay.contoso.com"


# code -> (how the test makes the candidate file, extra -e, scenario change, hosts the finding names, breaks mail)
FINDINGS = {
    "candidate_domain_not_covered": (lambda ca: pki.leaf(ca[1]).pem_with_chain(), [], _partners_relay, ["EX01"], True),
    "candidate_exo_domain_not_covered": (lambda ca: pki.leaf(ca[1]).pem_with_chain(),
                                         ["-e", "connector_tls_exo_inbound_domain=hybrid.contoso.com"], None, ["Microsoft 365"], True),
    "candidate_not_third_party": ("untrusted", [], None, ["EX01", "EX02"], True),
    "candidate_chain_incomplete": (lambda ca: pki.leaf(ca[1]).pem, [], None, ["EX01", "EX02"], False),
    "candidate_weak_key": (lambda ca: pki.leaf(ca[1], key="RSA 1024").pem_with_chain(), [], None, ["EX01", "EX02"], True),
    "candidate_weak_signature": (lambda ca: pki.leaf(ca[1], signature_hash="sha1").pem_with_chain(), [], None, ["EX01", "EX02"], True),
    "candidate_no_server_auth": (lambda ca: pki.leaf(ca[1], eku=["clientAuth"]).pem_with_chain(), [], None, ["EX01", "EX02"], True),
    "candidate_no_client_auth": (lambda ca: pki.leaf(ca[1], eku=["serverAuth"]).pem_with_chain(), [], None, ["EX01", "EX02"], False),
    "candidate_expiring": (lambda ca: pki.leaf(ca[1], days=10).pem_with_chain(), [], None, ["EX01", "EX02"], False),
    "candidate_not_yet_valid": (lambda ca: pki.leaf(ca[1], not_before=pki.NOW + pki.dt.timedelta(days=5)).pem_with_chain(), [], None,
                                ["EX01", "EX02"], True),
    "candidate_edge_subject_mismatch": (lambda ca: pki.leaf(ca[1]).pem_with_chain(), [], _edge_fleet, ["EDGE01"], True),
    "candidate_no_private_key": (lambda ca: pki.leaf(ca[1]).pfx(b"pw", with_key=False), ["-e", "connector_tls_candidate_password=pw"], None,
                                 ["EX01", "EX02"], True),
}


@pytest.mark.parametrize("code", sorted(FINDINGS))
def test_each_finding_from_a_scenario_and_a_candidate_file(running_lab, tmp_path, ca, code):
    make, extra, change, hosts, breaks = FINDINGS[code]
    lab = running_lab(variant(tmp_path, change) if change else FIXTURE)
    if make == "untrusted":
        # A private CA the controller does not trust, its root in the file: a chain, but not to a third-party root.
        data, roots = pki.leaf(ca[1]).pem_with_chain(include_root=True), []
    else:
        data, roots = make(ca), ["-e", f"connector_tls_candidate_trust={trust(tmp_path, ca)}"]
    candidate = write(tmp_path, "candidate.bin", data)
    rc, output, doc = run(lab, tmp_path, "-e", f"connector_tls_candidate={candidate}", *roots, *extra)
    assert doc is not None, output
    finding = next((f for f in doc["findings"] if f["code"] == code), None)
    assert finding is not None, (codes(doc), output)
    assert set(hosts) <= set(finding["hosts"]), finding
    if code == "candidate_edge_subject_mismatch":
        assert finding["objects"] == ["EDGE01\\Default internal receive connector EDGE01"], finding
    elif code == "candidate_domain_not_covered":
        assert finding["objects"] == ["EX01\\Partners"], finding
    assert (rc != 0) is breaks, output
    assert doc["summary"]["breaks_mail"] is breaks
    if breaks:
        assert "the candidate would break mail" in output


def test_a_server_that_cannot_be_read_is_an_error_and_the_others_are_analysed(running_lab, tmp_path, ca):
    from tests.conftest import scenario_variant

    lab = running_lab(scenario_variant(tmp_path, FIXTURE, faults={"EX02": [{"kind": "http_500"}]}))
    issued = pki.leaf(ca[1])
    candidate = write(tmp_path, "mail.pem", issued.pem_with_chain())
    rc, output, doc = run(lab, tmp_path, "-e", f"connector_tls_candidate={candidate}", "-e", f"connector_tls_candidate_trust={trust(tmp_path, ca)}")
    assert rc != 0 and doc is not None, output
    unread = next(f for f in doc["findings"] if f["code"] == "candidate_host_unread")
    assert unread["hosts"] == ["EX02"] and unread["severity"] == "error"
    # EX01 is analysed as usual.
    assert ("EX01", "EX01\\Partners") in renamed(doc)
    assert doc["hosts"] == ["EX01"]


def test_the_readme_and_impact_page_commands_run(running_lab, tmp_path, ca):
    """README's impact command and docs/impact.md's three, as written, in a project whose `inventory` is the lab's.

    The candidates come from the test's private PKI: its root is the system store here (SSL_CERT_FILE, which
    Python's ssl reads as the default store), so the PKCS#12 and thumbprint runs see a third-party chain, and the
    page's second command names it as private-roots.pem.
    """
    import shutil

    from tests.gates.test_doc_examples import bash, block, commands, user_env

    lab = running_lab(variant(tmp_path, _renewal_on_ex01))
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(lab.inventory_path, project / "inventory")
    issued = pki.leaf(ca[1])
    (project / "mail.contoso.com.pfx").write_bytes(issued.pfx(b"Readme-Pfx-1"))
    (project / "mail.pem").write_bytes(issued.pem_with_chain())
    (project / "private-roots.pem").write_bytes(ca[0].pem)
    env = user_env(PFX_PASSWORD="Readme-Pfx-1", THUMBPRINT=lab.org.server("EX01").certificate_by_id("le-r12").thumbprint,
                   SSL_CERT_FILE=str(project / "private-roots.pem"))
    readme = block("README.md", "ansible-playbook exchange.transport_tls.impact")
    page = [line for line in commands(block("docs/impact.md", "# a PKCS#12 file").replace("\\\n", " "))]
    assert len(page) == 3 and " ".join(readme.replace("\\\n", " ").split()) == " ".join(page[0].split())
    before = launches(lab)
    for number, line in enumerate(page, 1):
        proc = bash(line, project, env, timeout=300)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, (line, output)
        doc = json.loads((project / "connector_tls_report" / "latest" / "impact.json").read_text())
        jsonschema.validate(doc, SCHEMA)
        assert ("EX01", "EX01\\Partners") in renamed(doc), line
        assert codes(doc) == {"candidate_name_change"}, (line, doc["findings"])
        assert launches(lab) == before + 2 * number  # one read per server and run
