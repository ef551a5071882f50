"""Every example in the documentation runs.

Each fenced block of README.md, roles/*/README.md and docs/*.md is registered in EXERCISED with the
test that runs it; a block that nobody runs fails `test_every_example_is_exercised`. Exempt: blocks
fenced as `text` (diagrams and layouts, not something to run) and docs/deployment.md, whose blocks
are all example files that test_deployment_docs.py checks byte for byte and runs or parses.

The blocks run as written, from a scratch directory that looks like the user's: the collection
found through ANSIBLE_COLLECTIONS_PATH (as after `ansible-galaxy collection install`), an
`inventory` file that is the lab's. Where a block cannot run as written here, the test says what it
changes and why (a container engine, a person's pause between two commands).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import junitparser
import pytest
import yaml

from tests.conftest import ROOT, SCENARIOS, env_without_ansible
from .test_deployment_docs import fenced_blocks as page_blocks

BIN = pathlib.Path(sys.executable).parent
VENV = BIN.parent
pytestmark = pytest.mark.ansible
DOCS = [ROOT / "README.md", *sorted(ROOT.glob("roles/*/README.md")), *sorted((ROOT / "docs").glob("*.md"))]
# docs/deployment.md: every block there is an example file (test_deployment_docs.py).
OWN_TEST = {ROOT / "docs" / "deployment.md"}


def fenced_blocks(path: pathlib.Path) -> list[dict]:
    """The page's fenced blocks (language, content, line), parsed as test_deployment_docs parses its page."""
    return [dict(item, file=str(path.relative_to(ROOT))) for item in page_blocks(path.read_text(encoding="utf-8"))]


def block(file: str, first_line: str) -> str:
    """The block of `file` whose first line starts with `first_line`, as the page shows it."""
    found = [b["content"] for b in fenced_blocks(ROOT / file) if b["content"].startswith(first_line)]
    assert len(found) == 1, f"{file}: {len(found)} blocks start with {first_line!r}"
    return found[0]


# (page, how the block starts) -> the test that runs it.
EXERCISED = {
    ("README.md", "make demo"): "test_the_readme_contract_is_what_make_and_ci_run",
    ("README.md", "make venv"): "test_the_readme_tour_runs_against_the_lab",
    ("README.md", "ansible-playbook exchange.transport_tls.audit"): "test_the_readme_fleet_commands_audit_remediate_and_roll_back",
    ("README.md", "---\n# A minimal execution environment"): "gates/test_execution_environment.py::test_the_readme_shows_the_tested_example_verbatim",
    ("README.md", "mkdir -p /tmp/ee"): "test_the_readme_execution_environment_commands_build_a_context",
    ("roles/connector_tls/README.md", "ansible-playbook exchange.transport_tls.audit"):
        "test_the_role_readme_commands_are_readme_commands_that_run",
    ("docs/performance.md", "make bench"): "test_the_bench_commands_are_what_make_runs",
    ("docs/performance.md", "# issue 20's targets"): "test_the_chosen_run_bench_commands_are_valid",
    ("docs/reports.md", "# GitLab CI"): "test_the_reports_page_pipeline_examples_run_on_an_audit",
    ("docs/reports.md", "jq -r '.status'"): "test_the_reports_page_pipeline_examples_run_on_an_audit",
    ("docs/reports.md", "python3 -m pip install jsonschema"): "test_the_reports_page_pipeline_examples_run_on_an_audit",
    ("docs/verify-environment.md", "ansible-playbook exchange.transport_tls.verify_environment"):
        "lab/playbooks/test_verify_environment.py::test_the_verify_environment_page_commands_run",
    ("README.md", "ansible-playbook exchange.transport_tls.impact"): "lab/playbooks/test_impact_playbook.py::test_the_readme_and_impact_page_commands_run",
    ("docs/impact.md", "# a PKCS#12 file"): "lab/playbooks/test_impact_playbook.py::test_the_readme_and_impact_page_commands_run",
    ("docs/rollout.md", "ansible-playbook exchange.transport_tls.rollout"):
        "lab/playbooks/test_rollout_playbook.py::test_the_rollout_page_commands_run",
    ("docs/verify-environment.md", "ansible-test windows-integration"):
        "lab/integration/test_integration_targets.py::test_ansible_test_windows_integration_runs_the_targets_against_the_lab",
}


def test_every_example_is_exercised():
    found = set()
    for path in DOCS:
        if path in OWN_TEST:
            continue
        for item in fenced_blocks(path):
            if item["language"] == "text":
                continue
            keys = [key for key in EXERCISED if key[0] == item["file"] and item["content"].startswith(key[1])]
            assert len(keys) == 1, f"{item['file']} line {item['line']}: no test runs this block (or more than one key matches)"
            found.add(keys[0])
    assert found == set(EXERCISED), f"registered blocks that are not in the docs: {set(EXERCISED) - found}"
    for name in set(EXERCISED.values()):
        module, _sep, function = name.rpartition("::")
        # A test elsewhere is named by its path under tests/.
        source = (ROOT / "tests" / module if module else pathlib.Path(__file__)).read_text()
        assert f"\ndef {function}(" in source, f"{name} does not exist"


def test_the_diagrams_are_fenced_as_text():
    """Blocks without a language would escape the check above only by being marked as not runnable."""
    for path in DOCS:
        for item in fenced_blocks(path):
            assert item["language"], f"{item['file']} line {item['line']}: a fenced block needs a language (text if it is not run)"


def user_env(**extra: str) -> dict:
    """A user's shell: no ansible.cfg of the checkout, the collection installed where Ansible looks for it."""
    env = env_without_ansible()
    env.update(ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"), ANSIBLE_NOCOLOR="1", PAGER="cat",
               PATH=f"{BIN}{os.pathsep}{env['PATH']}", **extra)
    return env


def bash(script: str, cwd: pathlib.Path, env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def commands(text: str) -> list[str]:
    """The command lines of a shell block, comments after two spaces dropped."""
    return [re.sub(r"\s{2,}#.*$", "", line).strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_the_readme_contract_is_what_make_and_ci_run():
    text = block("README.md", "make demo")
    assert commands(text) == ["make demo", "make test"]
    demo = subprocess.run(["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True).stdout
    assert "tools/demo.py" in demo  # tests/lab/playbooks/test_demo.py runs tools/demo.py against the lab
    assert "\nmake test\n" in (ROOT / ".ci" / "run").read_text()  # CI runs the README's test command


def state_names(path: pathlib.Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    return {(server["name"], connector["name"]): connector.get("tls_certificate_name")
            for server in doc["servers"] for connector in server.get("receive_connectors", [])}


def test_the_readme_tour_runs_against_the_lab(tmp_path, running_lab):
    """README's first steps, from a directory laid out like the checkout, with this leg's venv as .venv.

    Two changes: `make venv` becomes a question, whether the venv it makes is up to date (`make -q
    .venv/.stamp`: nothing is rebuilt inside a test), and after starting the lab in the background the script waits for its inventory, as a
    person would before typing the next line.
    """
    text = block("README.md", "make venv")
    untouched = state_names(running_lab(SCENARIOS / "demo.yml").state_path)  # the scenario as the lab resolves it
    tmp_path = tmp_path / "checkout"
    tmp_path.mkdir()
    for name in ("ansible.cfg", "Makefile"):
        shutil.copy(ROOT / name, tmp_path / name)
    for name in ("collections", "playbooks", "tests"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / ".venv").symlink_to(VENV)
    serve = next(line for line in text.splitlines() if line.startswith("exchange-lab serve"))
    script = text.replace("make venv\n", f"make -C {ROOT} -q .venv/.stamp\n", 1)
    script = script.replace(serve + "\n", serve + "\nuntil [ -s lab-state/inventory.ini ]; do sleep 0.2; done\n", 1)
    proc = bash(script, tmp_path, user_env(), timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "EXCHANGE.TRANSPORT_TLS.EXCHANGE_COMMAND" in output.upper()  # ansible-doc
    assert re.search(r"EX01 *\| *SUCCESS", output) and re.search(r"EDGE01 *\| *SUCCESS", output), output
    assert "ServerRole" in output
    assert re.search(r"EX01 *\| *CHANGED", output), "receive_connector_tls --check --diff shows the drift on EX01"
    # Everything in the tour reads or runs in check mode: Exchange is as the scenario left it.
    assert state_names(tmp_path / "lab-state" / "state.yml") == untouched


def report_dir(cwd: pathlib.Path) -> pathlib.Path:
    """The newest run's directory (each run writes its own under connector_tls_report)."""
    return cwd / "connector_tls_report" / "latest"


def test_the_readme_fleet_commands_audit_remediate_and_roll_back(tmp_path, running_lab):
    """The four commands in order, in a project directory whose `inventory` is the lab's."""
    lab = running_lab(SCENARIOS / "demo.yml")
    tmp_path = tmp_path / "project"
    tmp_path.mkdir()
    shutil.copy(lab.inventory_path, tmp_path / "inventory")
    lines = commands(block("README.md", "ansible-playbook exchange.transport_tls.audit"))
    assert len(lines) == 4
    before = state_names(lab.state_path)
    runs = []
    for line in lines:
        proc = bash(line, tmp_path, user_env(), timeout=600)
        runs.append((proc, json.loads((report_dir(tmp_path) / "report.json").read_text()), state_names(lab.state_path)))
    (audit, audit_report, _), (preview, _, previewed), (remediate, _, fixed), (rollback, _, rolled_back) = runs
    assert audit.returncode == 2, audit.stdout + audit.stderr  # drift fails the audit (connector_tls_fail_on_drift)
    assert audit_report["status"] == "drift"
    # The preview shows the change and, like the audit, fails on the drift it leaves in place.
    assert preview.returncode == 2 and "TlsCertificateName" in preview.stdout, preview.stdout + preview.stderr
    assert previewed == before, "--check --diff wrote nothing"
    assert remediate.returncode == 0, remediate.stdout + remediate.stderr
    planned = {tuple(p["object"].split("\\", 1)): p["expected"] for e in audit_report["hosts"].values() for p in e["plans"]
               if p["status"] == "change"}
    assert planned and fixed == {**before, **planned}, "the remediation wrote what the audit planned, and nothing else"
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert rolled_back == before, "the rollback put back the names the remediation changed"


def test_the_role_readme_commands_are_readme_commands_that_run():
    """The role README repeats two of README's fleet commands, which the test above runs."""
    role = commands(block("roles/connector_tls/README.md", "ansible-playbook exchange.transport_tls.audit"))
    readme = commands(block("README.md", "ansible-playbook exchange.transport_tls.audit"))
    assert role and set(role) <= set(readme), (role, readme)


def test_the_readme_execution_environment_commands_build_a_context(tmp_path):
    """Run as written with /tmp/ee moved into the test's directory, and `ansible-builder build` as
    `create`, which writes the same build context without a container engine (podman or docker)."""
    text = block("README.md", "mkdir -p /tmp/ee")
    assert "ansible-builder build -t exchange-ee -f execution-environment.yml" in text
    script = text.replace("/tmp/ee", str(tmp_path / "ee")).replace("ansible-builder build -t exchange-ee", "ansible-builder create")
    proc = bash(script, ROOT, user_env(), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ee = tmp_path / "ee"
    (tarball,) = ee.glob("exchange-transport_tls-*.tar.gz")
    assert (ee / "context" / "_build" / "collections" / tarball.name).is_file()
    # Containerfile, or Dockerfile when ansible-builder guesses docker as the engine.
    assert {p.name for p in (ee / "context").iterdir()} & {"Containerfile", "Dockerfile"}


def test_the_bench_commands_are_what_make_runs():
    lines = commands(block("docs/performance.md", "make bench"))
    assert lines[0] == "make bench"
    full = subprocess.run(["make", "-n", "bench"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True).stdout
    assert "-m bench.run --doc docs/performance.md" in full
    quick = re.fullmatch(r'make bench BENCH_ARGS="([^"]+)"', lines[1])
    assert quick, lines[1]
    dry = subprocess.run(["make", "-n", "bench", f"BENCH_ARGS={quick.group(1)}"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert f"-m bench.run --doc docs/performance.md {quick.group(1)}" in dry
    helped = bash(lines[2], ROOT, user_env(), timeout=120)
    assert helped.returncode == 0 and "--sizes" in helped.stdout and "--latencies" in helped.stdout, helped.stderr


def test_the_chosen_run_bench_commands_are_valid():
    """Each line of the block that measures chosen runs: make passes its BENCH_ARGS on, and the bench accepts them."""
    import shlex

    from bench import run as bench_run

    lines = commands(block("docs/performance.md", "# issue 20's targets"))
    assert len(lines) == 3, lines
    for line in lines:
        made = re.fullmatch(r'make bench BENCH_ARGS="([^"]+)"', line)
        if made:
            dry = subprocess.run(["make", "-n", "bench", f"BENCH_ARGS={made.group(1)}"], cwd=ROOT, capture_output=True,
                                 text=True, timeout=60, check=True).stdout
            assert f"-m bench.run --doc docs/performance.md {made.group(1)}" in dry
            argv = shlex.split(made.group(1))
        else:
            assert line.startswith(".venv/bin/python -m bench.run "), line
            argv = shlex.split(line)[3:]
        args = bench_run.parse_args(argv)
        assert args.runs and args.sizes, (line, args)


def test_the_reports_page_pipeline_examples_run_on_an_audit(tmp_path, running_lab):
    """The GitLab job's script, then its artifacts, then the jq lines and the schema check, on its reports."""
    if not shutil.which("jq"):
        if os.environ.get("CI"):
            pytest.fail("jq is missing: make test installs it (tools/ensure_debian_packages.sh)")
        pytest.skip("jq is not installed (make test installs it)")
    lab = running_lab(SCENARIOS / "demo.yml")
    tmp_path = tmp_path / "project"
    tmp_path.mkdir()
    shutil.copy(lab.inventory_path, tmp_path / "inventory.ini")
    job = yaml.safe_load(block("docs/reports.md", "# GitLab CI"))["audit"]
    for line in job["script"]:
        proc = bash(line, tmp_path, user_env(), timeout=600)
        assert proc.returncode == 2, proc.stdout + proc.stderr  # drift: the job fails, the artifacts are kept ("when: always")
    assert job["artifacts"]["when"] == "always"
    for path in job["artifacts"]["paths"]:
        assert (tmp_path / path).is_dir() and any((tmp_path / path).iterdir()), path
    junit = junitparser.JUnitXml.fromfile(str(tmp_path / job["artifacts"]["reports"]["junit"]))
    assert sum(suite.failures for suite in junit) > 0

    report = json.loads((report_dir(tmp_path) / "report.json").read_text())
    proc = bash(block("docs/reports.md", "jq -r '.status'"), tmp_path, user_env())
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    needs_person = [f"{h}: {e['status']}: {e['message']}" for h, e in report["hosts"].items()
                    if e["status"] in ("blocked", "error", "unreachable")]
    changes = [f"{p['object']}: {p['current']} -> {p['expected']}" for e in report["hosts"].values() for p in e["plans"]
               if p["status"] == "change"]
    assert changes, "the demo's audit plans changes"
    assert lines == [report["status"], *needs_person, *changes]

    (tmp_path / "schemas").symlink_to(ROOT / "schemas")  # the page: schemas/ of the installed collection
    proc = bash(block("docs/reports.md", "python3 -m pip install jsonschema"), tmp_path, user_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "connector_tls_report/latest/report.json is valid" in proc.stdout
    assert "connector_tls_report/latest/changes.json is valid" in proc.stdout
