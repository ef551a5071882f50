"""Build and install like a user: `ansible-galaxy collection build`, install the tarball into an empty
collections path, and run `ansible-playbook exchange.transport_tls.audit` from that installed copy against the lab.

The tarball is built from a copy of the checkout strewn with what a working checkout accumulates
(virtual environments, lab state, every tool's cache, test output, bench results, editor files):
galaxy.yml's manifest is an allow-list, and the test holds it to shipping files of the checkout only.

The checkout is hidden from Ansible while doing so: no ansible.cfg of the checkout (the commands run
elsewhere, without ANSIBLE_* variables), and ANSIBLE_COLLECTIONS_SCAN_SYS_PATH off so the venv's link
to the checkout (tools/link_collection.py) is not found either.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import shutil
import subprocess
import sys
import tarfile

import pytest

from tests.conftest import ROOT, SCENARIOS, env_without_ansible

BIN = pathlib.Path(sys.executable).parent
pytestmark = pytest.mark.ansible
# What a working checkout accumulates besides the collection: none of it may ship.
WORKSHOP_LITTER = (
    ".venv/bin/python", ".venv-2.19/pyvenv.cfg", ".venv-lint/pyvenv.cfg", "lab-state/state.yml", "lab-state/journal.jsonl",
    "lab-state/inventory.ini", "bench-results/20261128T070000Z.json", "test-artifacts/reliability-current.json",
    "connector_tls_report/report.json", "connector_tls_report/changes.json", "demo-output/report.html",
    ".pytest_cache/v/cache/lastfailed", ".hypothesis/examples/0/1", ".ruff_cache/0.9.0/123", ".mypy_cache/3.12/x.json",
    ".ansible/collections/x", ".tox/py/x", ".coverage", "htmlcov/index.html", ".idea/workspace.xml", ".vscode/settings.json",
    "plugins/module_utils/__pycache__/x500.cpython-312.pyc", "plugins/action/__pycache__/x.pyc", "plugins/modules/x.pyc",
    "roles/connector_tls/tasks/main.yml.swp", "roles/connector_tls/tasks/main.yml~", "roles/connector_tls/tasks/.main.yml.un~",
    "docs/.DS_Store", "tests/output/junit/x.xml", ".cache/awx/ansible_collections/awx/awx/MANIFEST.json", "lab/exchange_lab.egg-info/PKG-INFO", "exchange-transport_tls-0.0.9.tar.gz",
)
# Development tooling that is tracked in git but is not the collection.
DEVELOPMENT = ("lab", "tools", "bench", "tests/lab", "tests/unit", "tests/gates", "tests/tools", "tests/scenarios", ".ci", "requirements", "collections",
               "Makefile", "pytest.ini", "ansible.cfg", ".gitignore", ".ansible-lint", "galaxy.yml")


def user_env(collections: pathlib.Path) -> dict:
    env = env_without_ansible()
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               ANSIBLE_NOCOLOR="1", ANSIBLE_HOST_KEY_CHECKING="false")
    return env


def galaxy(*args: str, cwd: pathlib.Path, collections: pathlib.Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(BIN / "ansible-galaxy"), "collection", *args], cwd=cwd, env=user_env(collections),
                          capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def checkout_files() -> list[str]:
    """The checkout as git has it, as tools/run_ansible_test.py copies it for ansible-test."""
    spec = importlib.util.spec_from_file_location("run_ansible_test", ROOT / "tools" / "run_ansible_test.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.git_files()


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """Built from a copy of the checkout strewn with a working checkout's litter, installed like a user installs it."""
    work = tmp_path_factory.mktemp("galaxy")
    source = work / "checkout"
    files = checkout_files()
    for name in files:
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target, follow_symlinks=False)
    for name in WORKSHOP_LITTER:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text("litter\n")
    galaxy("build", "--output-path", str(work), str(source), cwd=work, collections=work / "none")
    (tarball,) = work.glob("exchange-transport_tls-*.tar.gz")
    collections = work / "collections"
    galaxy("install", str(tarball), "-p", str(collections), cwd=work, collections=collections)
    return {"work": work, "tarball": tarball, "collections": collections, "files": files}


def test_the_tarball_holds_the_collection_and_nothing_of_the_workshop(installed):
    with tarfile.open(installed["tarball"]) as tar:
        shipped = sorted(m.name for m in tar.getmembers() if not m.isdir())
    generated = {"MANIFEST.json", "FILES.json"}
    litter = sorted(set(shipped) & set(WORKSHOP_LITTER))
    assert not litter, litter
    untracked = sorted(set(shipped) - generated - set(installed["files"]))
    assert not untracked, f"files in the tarball that are not in the checkout: {untracked}"
    development = sorted(n for n in shipped if n in DEVELOPMENT or n.startswith(tuple(d + "/" for d in DEVELOPMENT)))
    assert not development, development
    # Everything a user runs or reads is there: each file of these paths, as the checkout has it.
    needed = [n for n in installed["files"] if n.split("/", 1)[0] in ("plugins", "roles", "playbooks", "meta", "schemas", "docs",
                                                                      "changelogs")
              or n in ("README.md", "CHANGELOG.md", "COPYING", "requirements.txt", "bindep.txt")
              or n.startswith("tests/sanity/")]
    missing = sorted(set(needed) - set(shipped))
    assert not missing, f"files of the collection missing from the tarball: {missing}"
    assert {"plugins/modules/exchange_command.ps1", "roles/connector_tls/meta/argument_specs.yml", "playbooks/audit.yml",
            "meta/execution-environment.yml", "schemas/report-v1.schema.json", "docs/reports.md"} <= set(shipped)


def test_the_installed_copy_matches_its_manifest(installed):
    proc = galaxy("verify", "--offline", "exchange.transport_tls", "-p", str(installed["collections"]),
                  cwd=installed["work"], collections=installed["collections"])
    assert "internally consistent with its manifest" in proc.stdout, proc.stdout


def test_the_installed_collection_audits_the_lab(installed, running_lab):
    lab = running_lab(SCENARIOS / "demo.yml")
    out = installed["work"] / "report"
    env = user_env(installed["collections"])
    listing = galaxy("list", "exchange.transport_tls", cwd=installed["work"], collections=installed["collections"])
    assert str(installed["collections"]) in listing.stdout and str(ROOT) not in listing.stdout, listing.stdout
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), "exchange.transport_tls.audit",
         "-e", f"connector_tls_report_dir={out}"],
        cwd=installed["work"], env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, "the demo has drift: the audit must fail"
    report = json.loads((out / "latest" / "report.json").read_text())
    assert {h: e["status"] for h, e in report["hosts"].items()} == {"EX01": "drift", "EX02": "compliant", "EDGE01": "drift"}, output
    assert str(ROOT) not in output
    doc = subprocess.run([str(BIN / "ansible-doc"), "-t", "role", "exchange.transport_tls.connector_tls"],
                         cwd=installed["work"], env=env, capture_output=True, text=True, timeout=60)
    assert doc.returncode == 0 and "connector_tls_scope" in doc.stdout


def test_the_installed_collection_documents_every_module_from_its_sidecar(installed):
    """The tarball carries each module's documentation sidecar, and ansible-doc renders it from there."""
    names = sorted({p.stem for p in (ROOT / "plugins" / "modules").iterdir() if p.suffix in (".py", ".ps1")})
    doc = subprocess.run([str(BIN / "ansible-doc"), "-t", "module", *(f"exchange.transport_tls.{n}" for n in names)],
                         cwd=installed["work"], env=user_env(installed["collections"]), capture_output=True, text=True, timeout=120)
    assert doc.returncode == 0, doc.stderr
    for name in names:
        sidecar = installed["collections"] / "ansible_collections" / "exchange" / "transport_tls" / "plugins" / "modules" / f"{name}.yml"
        assert f"exchange.transport_tls.{name}" in doc.stdout and f"({sidecar})" in doc.stdout, name
    assert doc.stdout.count("RETURN VALUES:") == len(names), doc.stdout[:2000]
