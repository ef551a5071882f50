"""Build and install like a user: `ansible-galaxy collection build`, install the tarball into an empty
collections path, and run `ansible-playbook exchange.transport_tls.audit` from that installed copy against the lab.

The checkout is hidden from Ansible while doing so: no ansible.cfg of the checkout (the commands run
elsewhere, without ANSIBLE_* variables), and ANSIBLE_COLLECTIONS_SCAN_SYS_PATH off so the venv's link
to the checkout (tools/link_collection.py) is not found either.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tarfile

import pytest

from ..conftest import ROOT, SCENARIOS

BIN = pathlib.Path(sys.executable).parent
pytestmark = pytest.mark.ansible
# Development-only content that must never ship (galaxy.yml build_ignore).
NOT_SHIPPED = (".venv", ".venv-2.19", ".git", ".ci", "lab", "lab-state", "tests", "tools", "collections",
               "bench-results", "demo-output", "connector_tls_report", "test-artifacts", "requirements",
               ".pytest_cache", ".hypothesis", "Makefile", "ansible.cfg", "pytest.ini")


def user_env(collections: pathlib.Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               ANSIBLE_NOCOLOR="1", ANSIBLE_HOST_KEY_CHECKING="false")
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("galaxy")
    build = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(work), str(ROOT)],
                           cwd=work, env=user_env(work / "none"), capture_output=True, text=True, timeout=180)
    assert build.returncode == 0, build.stdout + build.stderr
    (tarball,) = work.glob("exchange-transport_tls-*.tar.gz")
    collections = work / "collections"
    install = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", str(tarball), "-p", str(collections)],
                             cwd=work, env=user_env(collections), capture_output=True, text=True, timeout=180)
    assert install.returncode == 0, install.stdout + install.stderr
    return {"work": work, "tarball": tarball, "collections": collections}


def test_the_tarball_ships_the_collection_and_nothing_of_the_workshop(installed):
    with tarfile.open(installed["tarball"]) as tar:
        names = tar.getnames()
    tops = {name.split("/", 1)[0] for name in names}
    assert not tops & set(NOT_SHIPPED), sorted(tops & set(NOT_SHIPPED))
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", "state.yml", "journal.jsonl"))]
    for needed in ("MANIFEST.json", "FILES.json", "README.md", "meta/runtime.yml", "plugins/modules/exchange_command.ps1",
                   "roles/connector_tls/meta/argument_specs.yml", "playbooks/audit.yml", "playbooks/remediate.yml",
                   "playbooks/rollback.yml", "schemas/report-v1.schema.json", "docs/reports.md"):
        assert needed in names, needed


def test_the_installed_collection_audits_the_lab(installed, running_lab):
    lab = running_lab(SCENARIOS / "demo.yml")
    out = installed["work"] / "report"
    env = user_env(installed["collections"])
    listing = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "list", "exchange.transport_tls"],
                             cwd=installed["work"], env=env, capture_output=True, text=True, timeout=60)
    assert str(installed["collections"]) in listing.stdout and str(ROOT) not in listing.stdout, listing.stdout
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), "exchange.transport_tls.audit",
         "-e", f"connector_tls_report_dir={out}"],
        cwd=installed["work"], env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, "the demo has drift: the audit must fail"
    report = json.loads((out / "report.json").read_text())
    assert {h: e["status"] for h, e in report["hosts"].items()} == {"EX01": "drift", "EX02": "compliant", "EDGE01": "drift"}, output
    assert str(ROOT) not in output
    doc = subprocess.run([str(BIN / "ansible-doc"), "-t", "role", "exchange.transport_tls.connector_tls"],
                         cwd=installed["work"], env=env, capture_output=True, text=True, timeout=60)
    assert doc.returncode == 0 and "connector_tls_scope" in doc.stdout
