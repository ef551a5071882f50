"""docs/deployment.md and its examples (docs/examples/deployment/), held to what the page says.

- Every fenced block of the page is an example file, shown byte for byte, so the page and
  the files cannot drift apart.
- Every inventory parses with ansible-inventory and has the groups, and for each host the
  connection, authentication and port, of the page's table "Which inventory to start from".
- Every playbook passes ansible-playbook --syntax-check; those the page says ran against
  the lab run unchanged against exchange-lab (become and module_defaults reach the
  payload, and no password shows even at -vvvv).
- Every PowerShell example parses (tree-sitter-powershell, as tests/unit checks the payload).
- The AWX job templates example passes awx.awx's own argument validation (awx.awx from the
  Ansible community package on PyPI, tools/fetch_awx.py), says what section 7 says (Check job
  type, forks, no slicing, a schedule of the audit), and its project playbooks run against the lab.
- The page's table "What was tested, and what was not" names each file with exactly the
  checks above.

Runs with the ansible-core of the venv running pytest, so `make test` covers 2.21 and 2.19.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import importlib.util

import pytest
import yaml

from tests.conftest import ROOT, SCENARIOS
from tests.unit.plugins.modules.test_powershell import parse_problems

BIN = pathlib.Path(sys.executable).parent
DOC = ROOT / "docs" / "deployment.md"
EXAMPLES = ROOT / "docs" / "examples" / "deployment"
FILES = sorted(p.name for p in EXAMPLES.iterdir())
INVENTORIES = [name for name in FILES if name.startswith("inventory-")]
PLAYBOOKS = [name for name in FILES if name.endswith(".yml") and name not in INVENTORIES]
POWERSHELL = [name for name in FILES if name.endswith(".ps1")]
# The playbooks that can run against the lab (it speaks WinRM with Basic over HTTP): all of
# them. The page's last table must say "run against the lab" for exactly these.
BECOME_PLAYBOOK = "audit-become-runas.yml"
CREDENTIALS_PLAYBOOK = "audit-explicit-credentials.yml"
# AWX / Automation Platform (section 7): the job templates, created with awx.awx, and the
# project's playbooks they name.
AWX_TEMPLATES = "awx-job-templates.yml"
AWX_PROJECT = {"awx-project-audit.yml": "playbooks/exchange_tls_audit.yml",
               "awx-project-remediate.yml": "playbooks/exchange_tls_remediate.yml"}
LAB_RUNS = {BECOME_PLAYBOOK, CREDENTIALS_PLAYBOOK, *AWX_PROJECT}
LANGUAGE = {".yml": "yaml", ".ini": "ini", ".ps1": "powershell"}
# The variable that holds the authentication of each connection in the page's table.
AUTH_VARIABLE = {"winrm": "ansible_winrm_transport", "psrp": "ansible_psrp_auth"}
CERT_VALIDATION_VARIABLE = {"winrm": "ansible_winrm_server_cert_validation", "psrp": "ansible_psrp_cert_validation"}
GROUPS = {"exchange_mailbox": "Mailbox", "exchange_edge": "Edge"}
# The lab writes its servers into [mailbox] and [edge]; real inventories use the names above.
LAB_GROUPS = "[exchange_mailbox:children]\nmailbox\n\n[exchange_edge:children]\nedge\n"

pytestmark = pytest.mark.ansible


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def section(title: str) -> str:
    """The page's text from the heading `title` to the next heading of the same or a higher level."""
    text = doc_text()
    match = re.search(rf"^(#+) {re.escape(title)}\n", text, re.M)
    assert match, f"docs/deployment.md has no heading {title!r}"
    level = len(match.group(1))
    end = re.compile(rf"^#{{1,{level}}} ", re.M).search(text, match.end())
    return text[match.end():end.start() if end else len(text)]


def table_rows(text: str) -> list[list[str]]:
    """The body rows of the markdown tables in `text` (no header, no separator), as lists of cells."""
    lines = text.splitlines()
    separator = re.compile(r"\|[-:| ]+\|")
    rows = []
    for i, line in enumerate(lines):
        if not line.startswith("|") or separator.fullmatch(line):
            continue
        if i + 1 < len(lines) and separator.fullmatch(lines[i + 1]):
            continue  # the header row
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def fenced_blocks(text: str) -> list[dict]:
    """Each fenced block: its language, its content (with the final newline) and the line before it."""
    blocks, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        opening = re.fullmatch(r"```(\S*)", lines[i])
        if not opening:
            i += 1
            continue
        before = next((line for line in reversed(lines[:i]) if line.strip()), "")
        end = lines.index("```", i + 1)
        blocks.append({"language": opening.group(1), "content": "\n".join(lines[i + 1:end]) + "\n",
                       "before": before, "line": i + 1})
        i = end + 1
    return blocks


def ansible_env() -> dict:
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    # cwd and ANSIBLE_CONFIG as in test_ansible_e2e: the checkout resolves as the collection.
    return subprocess.run(args, cwd=ROOT, env=env or ansible_env(), capture_output=True, text=True, timeout=120)


def awx_collections() -> str:
    """The checkout's collections plus awx.awx (tools/fetch_awx.py), for the AWX example."""
    spec = importlib.util.spec_from_file_location("fetch_awx", ROOT / "tools" / "fetch_awx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return os.pathsep.join([str(ROOT / "collections"), str(module.ensure())])


# --------------------------------------------------------------------------- the page shows the files

def test_every_block_of_the_page_is_an_example_file_shown_byte_for_byte():
    blocks = fenced_blocks(doc_text())
    shown = []
    for block in blocks:
        marker = re.fullmatch(r"\[`examples/deployment/([^`]+)`\]\(examples/deployment/\1\):", block["before"])
        assert marker, f"docs/deployment.md line {block['line']}: a fenced block that is not an example file"
        name = marker.group(1)
        path = EXAMPLES / name
        assert path.is_file(), f"docs/deployment.md line {block['line']}: {name} does not exist"
        assert block["language"] == LANGUAGE[path.suffix], f"{name}: fenced as {block['language']!r}"
        assert block["content"].encode("utf-8") == path.read_bytes(), f"docs/deployment.md shows {name} differently from the file"
        shown.append(name)
    assert sorted(shown) == FILES, "every example file is shown exactly once"


def test_the_pages_relative_links_and_anchors_resolve():
    text = doc_text()
    for target in re.findall(r"\]\((?!https?:|#)([^)#\s]+)", text):
        assert (DOC.parent / target).exists(), f"docs/deployment.md links to {target}, which does not exist"
    # GitHub's heading anchors: lower case, punctuation other than - and _ dropped, spaces to -.
    prose = re.sub(r"^```.*?^```$", "", text, flags=re.M | re.S)  # comments in examples are no headings
    anchors = {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
               for heading in re.findall(r"^#+ (.+)$", prose, re.M)}
    for anchor in re.findall(r"\]\(#([^)]+)\)", text):
        assert anchor in anchors, f"docs/deployment.md links to #{anchor}, which is no heading"


def test_the_example_files_are_plain_ascii_with_unix_line_ends():
    # ansible-test sanity checks every file of the built collection, docs/ included.
    for name in FILES:
        data = (EXAMPLES / name).read_bytes()
        assert data.isascii() and b"\r" not in data and b"\t" not in data, name
        assert all(line == line.rstrip() for line in data.decode().splitlines()), f"{name}: trailing whitespace"


# --------------------------------------------------------------------------- inventories

def inventory_table() -> dict[str, dict]:
    rows = {}
    for cells in table_rows(section("Which inventory to start from")):
        (name,) = re.findall(r"`(inventory-[^`]+)`", cells[0])
        mailbox, edge = (re.findall(r"`([^`]+)`", cell) for cell in cells[1:3])
        rows[name] = {"exchange_mailbox": mailbox, "exchange_edge": edge, "session": cells[3]}
    return rows


@pytest.fixture(scope="module")
def ansible_checks() -> dict[str, subprocess.CompletedProcess]:
    """ansible-inventory --list of every inventory and --syntax-check of every playbook, run side by side."""
    commands = {name: (str(BIN / "ansible-inventory"), "-i", str(EXAMPLES / name), "--list") for name in INVENTORIES}
    commands.update({name: (str(BIN / "ansible-playbook"), "--syntax-check", "-i", str(EXAMPLES / INVENTORIES[0]),
                            str(EXAMPLES / name)) for name in PLAYBOOKS})
    env = dict(ansible_env(), ANSIBLE_COLLECTIONS_PATH=awx_collections())
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(zip(commands, pool.map(lambda args: run(*args, env=env), commands.values())))


@pytest.fixture(scope="module")
def parsed_inventories(ansible_checks) -> dict[str, dict]:
    parsed = {}
    for name in INVENTORIES:
        proc = ansible_checks[name]
        assert proc.returncode == 0, f"{name}\n{proc.stdout}\n{proc.stderr}"
        parsed[name] = json.loads(proc.stdout)
    return parsed


def test_the_inventory_table_lists_every_inventory():
    assert sorted(inventory_table()) == INVENTORIES


@pytest.mark.parametrize("name", INVENTORIES)
def test_the_inventory_has_the_groups_and_connections_the_page_gives(name, parsed_inventories):
    inventory, row = parsed_inventories[name], inventory_table()[name]
    assert "exchange" in inventory["all"]["children"]
    assert sorted(inventory["exchange"]["children"]) == sorted(GROUPS)
    hostvars = inventory["_meta"]["hostvars"]
    for group, role in GROUPS.items():
        hosts = inventory[group]["hosts"]
        assert hosts, f"{name}: no {role} server"
        connection, auth, port = row[group]
        for host in hosts:
            where, variables = f"{name}: {host}", hostvars[host]
            assert "." in host and not re.fullmatch(r"[\d.]+", host), f"{where}: host names are FQDNs"
            assert variables["ansible_connection"] == connection, where
            assert int(variables["ansible_port"]) == int(port), where
            if connection == "ssh":
                assert auth == "key" and variables["ansible_ssh_private_key_file"], where
                assert variables["ansible_shell_type"] == "powershell", f"{where}: ssh needs ansible_shell_type=powershell"
            else:
                assert variables[AUTH_VARIABLE[connection]] == auth, where
                assert "ansible_shell_type" not in variables, f"{where}: leave ansible_shell_type unset with {connection}"
                assert variables[CERT_VALIDATION_VARIABLE[connection]] == "validate", where
            if group == "exchange_mailbox":
                delegation = "delegation" in row["session"].lower()
                assert bool(variables.get("ansible_winrm_kerberos_delegation")) is delegation, where
                # audit-become-runas.yml takes the become password from one of these.
                assert "ansible_password" in variables or "exchange_become_password" in variables, where


def test_the_smtp_variables_are_set_where_the_page_says(parsed_inventories):
    ex02 = parsed_inventories["inventory-winrm-kerberos.yml"]["_meta"]["hostvars"]["ex02.contoso.com"]
    assert (ex02["exchange_smtp_host"], ex02["exchange_smtp_port"]) == ("192.0.2.52", 25)


# --------------------------------------------------------------------------- playbooks

@pytest.mark.parametrize("name", PLAYBOOKS)
def test_the_playbook_passes_syntax_check(name, ansible_checks):
    proc = ansible_checks[name]
    assert proc.returncode == 0, proc.stdout + proc.stderr


def run_against_lab(lab, tmp_path: pathlib.Path, name: str, variables: dict, *args: str) -> tuple[str, list[dict]]:
    """Run the example playbook unchanged on the lab; return the output and the journal entries it added."""
    groups = tmp_path / "exchange-groups.ini"
    groups.write_text(LAB_GROUPS)
    extra = tmp_path / f"vars-{len(list(tmp_path.glob('vars-*')))}.yml"
    extra.write_text(yaml.safe_dump(variables))
    journal = lab.journal_path
    seen = len(journal.read_text().splitlines()) if journal.exists() else 0
    proc = run(str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), "-i", str(groups),
               str(EXAMPLES / name), "-e", f"@{extra}", *args)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    entries = [json.loads(line) for line in journal.read_text().splitlines()[seen:]]
    return output, entries


def assert_secret_nowhere(secret: str, output: str, lab) -> None:
    for where, text in (("ansible output", output), ("journal", lab.journal_path.read_text()),
                        ("state", lab.state_path.read_text())):
        assert secret not in text, where


def test_the_become_playbook_runs_against_the_lab(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    secret = "Become-pa55-that-must-not-leak"
    output, entries = run_against_lab(lab, tmp_path, BECOME_PLAYBOOK,
                                      {"exchange_become_password": secret, "exchange_domain_controller": "dc01.contoso.com"},
                                      "-vvvv")
    by_server = {entry["server"]: entry for entry in entries}
    assert len(entries) == len(by_server) == 3, "one launch per server"
    assert {server: entry["become"] for server, entry in by_server.items()} == {"EX01": True, "EX02": True, "EDGE01": False}
    assert not any(entry["failed"] for entry in entries)
    for server, entry in by_server.items():
        for step in entry["steps"]:
            # module_defaults reached the payload: domain_controller on every Exchange cmdlet of the
            # Mailbox play; never on Get-WinEvent, and not on Edge, which has no domain controller.
            expected = "dc01.contoso.com" if server != "EDGE01" and step["cmdlet"] != "Get-WinEvent" else None
            assert step["parameters"].get("DomainController") == expected, (server, step)
    assert "error tls_certificate_name_not_found: EX01\\\\Default Frontend EX01" in output
    assert "error tls_certificate_name_not_found: EDGE01\\\\Default internal receive connector EDGE01" in output
    assert_secret_nowhere(secret, output, lab)

    # Without exchange_domain_controller, default(omit) leaves the option out.
    output, entries = run_against_lab(lab, tmp_path, BECOME_PLAYBOOK, {})
    assert len(entries) == 3
    assert not [step for entry in entries for step in entry["steps"] if "DomainController" in step["parameters"]]
    assert all(s["writes"] == 0 for s in yaml.safe_load(lab.state_path.read_text())["servers"])


def test_the_explicit_credentials_playbook_runs_against_the_lab(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    secret = "Session-pa55-that-must-not-leak"
    output, entries = run_against_lab(lab, tmp_path, CREDENTIALS_PLAYBOOK,
                                      {"exchange_session_user": "CONTOSO\\svc-exchange-tls", "exchange_session_password": secret},
                                      "-vvvv")
    assert sorted(entry["server"] for entry in entries) == ["EX01", "EX02"]
    assert not any(entry["become"] or entry["failed"] for entry in entries)
    assert "error tls_certificate_name_not_found: EX01\\\\Default Frontend EX01" in output
    assert_secret_nowhere(secret, output, lab)


# --------------------------------------------------------------------------- AWX / Automation Platform

# Each task of the example in a block whose rescue records why it failed. The controller address
# is a closed port: a task whose arguments pass awx.awx's validation fails on connecting, one whose
# arguments do not fails on them first. The last task is a control, an invalid job_type.
VALIDATION_PLAY = """
- name: awx.awx argument validation of the example's tasks
  hosts: localhost
  connection: local
  gather_facts: false
  vars: {variables}
  tasks:
    - name: No failures yet
      ansible.builtin.set_fact:
        failures: []
{blocks}
    - name: Write the failures
      ansible.builtin.copy:
        content: "{{{{ failures | to_json }}}}"
        dest: {out}
        mode: "0600"
"""
BLOCK = """
    - name: Block {number}
      block:
        - {task}
      rescue:
        - name: Record why task {number} failed
          ansible.builtin.set_fact:
            failures: "{{{{ failures + [ansible_failed_result.msg | default('') | string] }}}}"
"""


def test_the_awx_job_templates_pass_awx_awx_argument_validation(tmp_path):
    (play,) = yaml.safe_load((EXAMPLES / AWX_TEMPLATES).read_text())
    tasks = list(play["tasks"])
    control = {"name": "Control: an invalid job_type", "awx.awx.job_template": dict(tasks[0]["awx.awx.job_template"], job_type="audit")}
    blocks = "".join(BLOCK.format(number=n, task=json.dumps(task)) for n, task in enumerate([*tasks, control]))
    out = tmp_path / "failures.json"
    playbook = tmp_path / "validate.yml"
    playbook.write_text(VALIDATION_PLAY.format(variables=json.dumps(play["vars"]), blocks=blocks, out=out))
    env = dict(ansible_env(), ANSIBLE_COLLECTIONS_PATH=awx_collections(), CONTROLLER_HOST="https://127.0.0.1:9",
               CONTROLLER_OAUTH_TOKEN="not-a-token", CONTROLLER_VERIFY_SSL="false")
    proc = run(str(BIN / "ansible-playbook"), "-i", "localhost,", "-e", f"ansible_python_interpreter={sys.executable}",
               str(playbook), env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    *failures, control_failure = json.loads(out.read_text())
    assert len(failures) == len(tasks), proc.stdout
    for task, message in zip(tasks, failures):
        assert "127.0.0.1:9" in message and ("refused" in message.lower() or "connect" in message.lower()), (task["name"], message)
    assert "job_type" in control_failure and "audit" in control_failure, control_failure


def test_the_awx_job_templates_are_what_section_7_says():
    (play,) = yaml.safe_load((EXAMPLES / AWX_TEMPLATES).read_text())
    templates = [t["awx.awx.job_template"] for t in play["tasks"] if "awx.awx.job_template" in t]
    (schedule,) = [t["awx.awx.schedule"] for t in play["tasks"] if "awx.awx.schedule" in t]
    audit, remediation = templates
    assert (audit["job_type"], audit["playbook"]) == ("check", AWX_PROJECT["awx-project-audit.yml"])
    assert (remediation["job_type"], remediation["playbook"]) == ("run", AWX_PROJECT["awx-project-remediate.yml"])
    assert all(t["forks"] == 50 and t["job_slice_count"] == 1 for t in templates), "forks, and no slicing"
    assert schedule["unified_job_template"] == audit["name"]
    assert re.fullmatch(r"DTSTART:\d{8}T\d{6}Z RRULE:FREQ=DAILY;INTERVAL=1", schedule["rrule"])
    for name, path in AWX_PROJECT.items():
        comment = " ".join(line.lstrip("# ") for line in (EXAMPLES / name).read_text().splitlines() if line.startswith("#"))
        assert f"project as {path}." in comment, f"{name} does not say it is the project's {path}"
    assert "Check mode" in section("7. Running the audit from AWX / Automation Platform")


@pytest.mark.parametrize("name", sorted(AWX_PROJECT))
def test_the_awx_project_playbook_runs_against_the_lab(name, running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    out = tmp_path / "report"
    proc = run(str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), str(EXAMPLES / name),
               "-e", f"connector_tls_report_dir={out}", "-e", "connector_tls_probe_wait=2")
    report = json.loads((out / "latest" / "report.json").read_text())
    writes = sum(server["writes"] for server in yaml.safe_load(lab.state_path.read_text())["servers"])
    if name == "awx-project-audit.yml":
        assert proc.returncode == 2 and report["status"] == "drift", proc.stdout + proc.stderr
        assert writes == 0
    else:
        assert proc.returncode == 0 and report["status"] == "remediated", proc.stdout + proc.stderr
        assert writes > 0


# --------------------------------------------------------------------------- PowerShell

@pytest.mark.parametrize("name", POWERSHELL)
def test_the_powershell_example_parses(name):
    problems = parse_problems((EXAMPLES / name).read_bytes())
    assert not problems, f"{name}: {'; '.join(problems)}"


# --------------------------------------------------------------------------- what the page says was tested

def test_the_page_says_how_each_file_was_checked_as_this_file_checks_it():
    claimed = {}
    for cells in table_rows(section("8. What was tested, and what was not")):
        (name,) = re.findall(r"`([^`]+)`", cells[0])
        claimed[name] = set(cells[1].split(", "))
    expected = {}
    for name in FILES:
        if name in INVENTORIES:
            expected[name] = {"inventory parsed"}
        elif name == AWX_TEMPLATES:
            expected[name] = {"syntax-checked", "arguments validated by awx.awx"}
        elif name in PLAYBOOKS:
            expected[name] = {"syntax-checked"} | ({"run against the lab"} if name in LAB_RUNS else set())
        else:
            expected[name] = {"PowerShell parsed"}
    assert claimed == expected
