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

from ..conftest import ROOT

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


def test_same_analysis_by_thumbprint(running_lab, tmp_path):
    lab = running_lab(FIXTURE)
    server = lab.org.server("EX01")
    thumbprint = server.certificate_by_id("le-r11").thumbprint
    rc, output, doc = run(lab, tmp_path, "-e", f"connector_tls_candidate_thumbprint={thumbprint.lower()}")
    assert rc == 0, output
    assert doc["candidate"]["thumbprint"] == thumbprint and doc["candidate"]["source"] == "facts"
    # The certificate every object already names: nothing to rename, import or enable.
    assert renamed(doc) == [] and {o["action"] for o in doc["objects"]} == {"unchanged"}
    assert codes(doc) == set()


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
