"""Credentials never leak: not at -vvvv, not in the Ansible log, the reports, changes.json, or the lab's files and logs.

The secrets in play: the WinRM password, which `exchange-lab serve --password`
takes and writes into the inventory (that file legitimately holds it, mode 0600);
the modules' session option `password` (with `username`), as a string, as a
number, and as a whole vault credential dictionary given by mistake; and the
vault password that decrypts them. As users keep them, the module credentials
come from an ansible-vault file (`-e @file --vault-password-file`), never
literally from the playbook. They are given directly to every module of the
collection and through `module_defaults` for `group/exchange.transport_tls.exchange`
to the role `connector_tls` in an audit and a remediation. Failing tasks carry
them too: an Exchange session that cannot be opened (whose message names the
account, in the task output and in the audit's reports), option validation
failures in the action plugins and in the payload, a cmdlet the allow-list refuses.

Every output is searched for each secret in plain text and in every encoding it
could travel in: JSON-, YAML- and repr-escaped, URL-encoded, HTML-escaped, and
base64 of UTF-8 and of UTF-16LE (WinRM carries PowerShell as UTF-16LE base64) at
every byte alignment, so a secret inside a longer base64 blob is found too; and
for its random core alone, which survives any escaping of the characters around
it. Controls show the search looks at the right text: it finds the username
(visible by design) in the output, the log, the journal and the audit's reports,
the WinRM password in the inventory, and each secret planted in every encoding it
searches for.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import os
import pathlib
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse

import pytest
import yaml

from tests.conftest import ROOT, SCENARIOS, scenario_variant

BIN = pathlib.Path(sys.executable).parent
pytestmark = pytest.mark.ansible

GROUP = "group/exchange.transport_tls.exchange"
# A realistic explicit-credential account: DOMAIN\user (the backslash is escaped in JSON and YAML).
USERNAME = "CONTOSO\\svc-tls-audit"


@dataclasses.dataclass(frozen=True)
class Secret:
    label: str
    value: str
    core: str  # the random part: found whatever escaping the characters around it got


def _b64_fragments(data: bytes) -> list[str]:
    """What base64 of `data` looks like inside any longer base64 stream, for each of the 3 byte alignments."""
    fragments = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data).decode().rstrip("=")
        start = -(-8 * shift // 6)            # first character made of `data` bits only
        end = (8 * (shift + len(data))) // 6  # last character made of `data` bits only
        fragments.append(encoded[start:end])
    return fragments


def encodings(value: str, core: str | None = None) -> dict[str, str]:
    """`value` (and its random `core`) as they could appear in a text: plain and in every encoding a transport,
    a serialiser or a report might apply."""
    forms = {
        "plain": value,
        "json": json.dumps(value, ensure_ascii=False)[1:-1],
        "json-ascii": json.dumps(value)[1:-1],
        "python-repr": repr(value)[1:-1],
        "yaml": yaml.safe_dump(value, default_style='"', allow_unicode=True, width=10**6).strip()[1:-1],
        "yaml-ascii": yaml.safe_dump(value, default_style='"', width=10**6).strip()[1:-1],
        "url": urllib.parse.quote(value, safe=""),
        "url-plus": urllib.parse.quote_plus(value),
        "html": html.escape(value),
        "html-noquote": html.escape(value, quote=False),
    }
    pieces = {"": value, **({"core-": core} if core else {})}
    if core:
        forms["core"] = core
    for prefix, piece in pieces.items():
        for codec in ("utf-8", "utf-16-le"):
            for shift, fragment in enumerate(_b64_fragments(piece.encode(codec))):
                forms[f"{prefix}base64-{codec}+{shift}"] = fragment
    assert all(len(f) >= 16 for f in forms.values()), forms  # long enough never to match by chance
    return forms


def found(text: str, value: str, core: str | None = None) -> list[str]:
    """The encodings of `value` (and of its core) that occur in `text`."""
    return sorted({name for name, form in encodings(value, core).items() if form in text})


def planted(name: str, secret: Secret) -> str:
    """A text that carries `secret` in the encoding `name`, inside other text, as a leak would."""
    form = encodings(secret.value, secret.core)[name]
    if "base64" not in name:
        return f"<{name}>{form}</{name}>"
    piece = secret.core if name.startswith("core-") else secret.value
    codec = "utf-16-le" if "utf-16" in name else "utf-8"
    # The piece starts `shift` bytes past a 3-byte boundary of a longer stream.
    raw = b"pre" * 2 + b"x" * int(name[-1]) + piece.encode(codec) + " suffix".encode(codec)
    return base64.b64encode(raw).decode()


def _serve(tmp_path: pathlib.Path, scenario: pathlib.Path, password: str) -> tuple[subprocess.Popen, dict]:
    """`exchange-lab serve` as users start it; its stdout and stderr (the lab's logs) go to files."""
    files = {name: tmp_path / f"lab-{name}" for name in ("inventory.ini", "state.yml", "journal.jsonl", "stdout", "stderr")}
    out, err = files["stdout"].open("w"), files["stderr"].open("w")
    proc = subprocess.Popen(
        [str(BIN / "exchange-lab"), "serve", str(scenario), "--inventory", str(files["inventory.ini"]),
         "--state", str(files["state.yml"]), "--journal", str(files["journal.jsonl"]), "--password", password],
        stdout=out, stderr=err, text=True, cwd=tmp_path,
    )
    out.close()
    err.close()
    deadline = time.monotonic() + 60
    while not files["inventory.ini"].exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail(f"exchange-lab serve did not start: {files['stderr'].read_text()}")
        time.sleep(0.05)
    return proc, files


@dataclasses.dataclass
class Credentials:
    """The module credentials in an ansible-vault file, and the vault password that opens it."""

    password: Secret
    numeric: Secret
    vault: Secret
    vars_file: pathlib.Path
    vault_file: pathlib.Path

    @classmethod
    def make(cls, tmp_path: pathlib.Path) -> "Credentials":
        from ansible.constants import DEFAULT_VAULT_ID_MATCH
        from ansible.parsing.vault import VaultLib, VaultSecret

        core = secrets.token_hex(8)
        # Characters that JSON, YAML, repr, URL, HTML and UTF-16 all encode differently.
        password = Secret("module password", f"Mod\"pw\\<{core}>&é'", core)
        digits = str(secrets.randbelow(9 * 10**17) + 10**17)
        numeric = Secret("numeric module password", digits, digits)
        core = secrets.token_hex(8)
        vault = Secret("vault password", f"vault-{core}", core)
        variables = {
            "exchange_username": USERNAME,
            "exchange_password": password.value,
            "exchange_pin": int(numeric.value),  # a numeric password: YAML makes it an int
            # A whole credential record, as a vault often holds one, passed by mistake where the password goes.
            "exchange_credential": {"username": USERNAME, "password": password.value},
        }
        vars_file, vault_file = tmp_path / "credentials.vault.yml", tmp_path / "vault-password"
        vault_file.write_text(vault.value + "\n")
        vault_file.chmod(0o600)
        lib = VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(vault.value.encode()))])
        vars_file.write_bytes(lib.encrypt(yaml.safe_dump(variables, allow_unicode=True)))
        return cls(password, numeric, vault, vars_file, vault_file)

    def args(self) -> list[str]:
        return ["-e", f"@{self.vars_file}", "--vault-password-file", str(self.vault_file)]


CREDS = {"username": "{{ exchange_username }}", "password": "{{ exchange_password }}"}
READ = {"steps": [{"cmdlet": "Get-ExchangeCertificate", "properties": ["Thumbprint", "Subject"]}]}


def playbook(tmp_path: pathlib.Path, inventory: pathlib.Path, plays: list[dict], creds: Credentials) -> tuple[int, str, str]:
    """ansible-playbook -vvvv --diff with ANSIBLE_LOG_PATH; returns rc, stdout + stderr, and the log."""
    path, log = tmp_path / "secrets.yml", tmp_path / "ansible.log"
    path.write_text(yaml.safe_dump(plays, sort_keys=False))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_LOG_PATH=str(log))
    run = subprocess.run(
        [str(BIN / "ansible-playbook"), "-vvvv", "--diff", "-i", str(inventory), *creds.args(), str(path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    output = run.stdout + run.stderr
    (tmp_path / "ansible-output.txt").write_text(output)  # kept in pytest's tmp dir, for a failure's post-mortem
    assert "PLAY RECAP" in run.stdout, output
    return run.returncode, output, log.read_text()


def section(output: str, task: str) -> str:
    """What ansible-playbook printed for one task."""
    assert f"TASK [{task}]" in output, f"task {task!r} did not run"
    return output.split(f"TASK [{task}]", 1)[1].split("\nTASK [", 1)[0].split("\nPLAY ", 1)[0]


def leaks(texts: dict[str, str], candidates: list[Secret], exempt: set[tuple[str, str]] = frozenset()) -> tuple[list[str], int]:
    """Each secret in each text, in any encoding; returns the findings and how many (text, secret) pairs were searched."""
    findings, checked = [], 0
    for where, text in texts.items():
        for secret in candidates:
            if (where, secret.label) in exempt:
                continue
            checked += 1
            hits = found(text, secret.value, secret.core)
            if hits:
                findings.append(f"{secret.label} in {where} as {', '.join(hits)}")
    return findings, checked


def _direct_tasks() -> list[dict]:
    creds = CREDS
    return [
        # On EX01 this launch meets a snapin_missing fault: the failure message names the account.
        {"name": "exchange_command with credentials", "exchange.transport_tls.exchange_command": {**READ, **creds}},
        # event_hours 0: no Get-WinEvent, so EX01's second fault waits for the role's audit.
        {"name": "exchange_certificate_facts with credentials", "exchange.transport_tls.exchange_certificate_facts":
         {**creds, "event_hours": 0}},
        {"name": "receive_connector_tls with credentials", "exchange.transport_tls.receive_connector_tls": creds,
         "check_mode": True},
        {"name": "send_connector_tls with credentials", "exchange.transport_tls.send_connector_tls":
         {**creds, "update_hybrid_configuration": True}, "run_once": True, "delegate_to": "EX02"},
        {"name": "exchange_certificate_facts with a numeric password", "exchange.transport_tls.exchange_certificate_facts":
         {**creds, "password": "{{ exchange_pin }}", "event_hours": 0}},
        {"name": "exchange_command with a numeric password", "exchange.transport_tls.exchange_command":
         {**READ, **creds, "password": "{{ exchange_pin }}"}},
        # Error paths, each with the password set: the action plugins' option validation, required_together,
        # a password of the wrong type, the payload's own validation and its allow-list.
        {"name": "receive_connector_tls with a bad choice", "exchange.transport_tls.receive_connector_tls":
         {**creds, "state": "sideways"}},
        {"name": "exchange_certificate_facts with a password but no username",
         "exchange.transport_tls.exchange_certificate_facts": {"password": "{{ exchange_password }}"}},
        {"name": "exchange_certificate_facts with an unknown option",
         "exchange.transport_tls.exchange_certificate_facts": {**creds, "event_hourz": 1}},
        {"name": "exchange_certificate_facts with a vault dictionary as password",
         "exchange.transport_tls.exchange_certificate_facts": {**creds, "password": "{{ exchange_credential }}"}},
        {"name": "receive_connector_tls with a list as password", "exchange.transport_tls.receive_connector_tls":
         {**creds, "password": ["{{ exchange_password }}"]}},
        {"name": "send_connector_tls with a vault dictionary as password", "exchange.transport_tls.send_connector_tls":
         {**creds, "password": "{{ exchange_credential }}"}, "run_once": True, "delegate_to": "EX02"},
        {"name": "exchange_command with an unknown option", "exchange.transport_tls.exchange_command":
         {**READ, **creds, "bogus_option": 1}},
        {"name": "exchange_command with a cmdlet outside the allow-list", "exchange.transport_tls.exchange_command":
         {**creds, "steps": [{"cmdlet": "Get-Mailbox"}]}},
        {"name": "exchange_command with a session choice that does not exist", "exchange.transport_tls.exchange_command":
         {**READ, **creds, "session": "kerberos"}},
    ]


# What each error path above must have said (proving it ran, with the password set).
ERROR_PATHS = {
    "receive_connector_tls with a bad choice": "value of state must be one of: present, absent",
    "exchange_certificate_facts with a password but no username": "parameters are required together: username, password",
    "exchange_certificate_facts with an unknown option": "Unsupported parameters",
    "exchange_certificate_facts with a vault dictionary as password": "password must be a string, got a dictionary",
    "receive_connector_tls with a list as password": "password must be a string, got a list",
    "send_connector_tls with a vault dictionary as password": "password must be a string, got a dictionary",
    "exchange_command with an unknown option": "Unsupported parameters for (exchange.transport_tls.exchange_command) module: bogus_option",
    "exchange_command with a cmdlet outside the allow-list": "cmdlet 'Get-Mailbox' is not allowed",
    "exchange_command with a session choice that does not exist": "value of session must be one of",
}


def _plays(audit_dir: pathlib.Path, remediate_dir: pathlib.Path) -> list[dict]:
    role_vars = {"connector_tls_probe_wait": 2, "connector_tls_fail_on_drift": False}
    return [
        {"name": "modules called directly with credentials", "hosts": "exchange", "gather_facts": False,
         "tasks": [{**t, "ignore_errors": True} for t in _direct_tasks()]},
        {"name": "audit through the role, credentials from module_defaults", "hosts": "exchange",
         "gather_facts": False, "module_defaults": {GROUP: CREDS},
         # EX01's gather meets the second snapin_missing fault: an error the reports carry, naming the account.
         # ignore_errors keeps EX01 (failed by the role's verdict) in the remediation play.
         "roles": [{"role": "exchange.transport_tls.connector_tls", "ignore_errors": True, "vars": {
             **role_vars, "connector_tls_mode": "audit", "connector_tls_report_dir": str(audit_dir)}}]},
        {"name": "remediation through the role, credentials from module_defaults", "hosts": "exchange",
         "gather_facts": False, "module_defaults": {GROUP: CREDS},
         "roles": [{"role": "exchange.transport_tls.connector_tls", "vars": {
             **role_vars, "connector_tls_mode": "remediate", "connector_tls_report_dir": str(remediate_dir)}}]},
    ]


@pytest.mark.reliability("Secrets", "WinRM, module and vault passwords through the CLI lab, every module, failing "
                                    "tasks, role audit and remediation at -vvvv: searched in every output and encoding")
def test_no_credential_in_any_output(tmp_path, reliability):
    core = secrets.token_hex(8)
    winrm = Secret("WinRM password", f"WinRM+pw/{core}&x", core)  # INI-safe: the lab writes it in the inventory
    creds = Credentials.make(tmp_path)
    all_secrets = [winrm, creds.password, creds.numeric, creds.vault]
    scenario = scenario_variant(tmp_path, "demo.yml", faults={"EX01": [
        {"kind": "snapin_missing", "cmdlet": "Get-ExchangeCertificate"},  # the first direct exchange_command
        {"kind": "snapin_missing", "cmdlet": "Get-WinEvent"},             # the role's audit gather
    ]})
    audit_dir, remediate_dir = tmp_path / "audit", tmp_path / "remediate"

    proc, lab = _serve(tmp_path, scenario, winrm.value)
    try:
        _rc, output, log = playbook(tmp_path, lab["inventory.ini"], _plays(audit_dir, remediate_dir), creds)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0, lab["stderr"].read_text()

    # The runs really happened and really carried the credentials where they were meant to go.
    for name in ("modules called directly", "audit through the role", "remediation through the role"):
        assert name in output, output
    journal = [json.loads(line) for line in lab["journal.jsonl"].read_text().splitlines()]
    session_failures = [e for e in journal if e["server"] == "EX01" and e["failed"] and "session=remote as" in (e["msg"] or "")]
    assert len(session_failures) == 2, "both snapin_missing faults must have hit an explicit-credential session"
    assert any(not e["failed"] and any(s["cmdlet"] == "Set-ReceiveConnector" for s in e["steps"]) for e in journal), \
        "the remediation must have written through a session given username and password"
    assert any(any(s["cmdlet"] == "Set-SendConnector" for s in e["steps"]) for e in journal), \
        "send_connector_tls with credentials must have written the send connector"
    for task in ("exchange_certificate_facts with a numeric password", "exchange_command with a numeric password"):
        text = section(output, task)
        assert "FAILED!" not in text and text.count("ok: [") == 3, f"a numeric password must open sessions:\n{text}"
    for task, expected in ERROR_PATHS.items():
        text = section(output, task)
        assert "FAILED!" in text and expected in text, f"{task}: expected a failure saying {expected!r}\n{text}"
    report_files = sorted(p for d in (audit_dir, remediate_dir) for p in d.rglob("*") if p.is_file())
    for directory in (audit_dir, remediate_dir):
        assert {p.name for p in report_files if p.parent.name == (directory / "latest").resolve().name} >= {
            "report.json", "junit.xml", "report.html", "changes.json"}, report_files
    assert json.loads((remediate_dir / "latest" / "changes.json").read_text())["changes"], "the remediation changed nothing"

    # The inventory holds the WinRM password by design, readable by its owner only.
    inventory = lab["inventory.ini"].read_text()
    assert oct(lab["inventory.ini"].stat().st_mode & 0o777) == "0o600"

    texts = {
        "ansible-playbook -vvvv output": output,
        "ANSIBLE_LOG_PATH file": log,
        "lab journal": lab["journal.jsonl"].read_text(),
        "lab state": lab["state.yml"].read_text(),
        "lab stdout": lab["stdout"].read_text(),
        "lab stderr": lab["stderr"].read_text(),
        "inventory": inventory,
        # Keyed without the run id: audit/report.json is the audit's report.
        **{f"{p.parent.parent.name}/{p.name}": p.read_text(errors="replace") for p in report_files},
    }
    assert "exchange-lab: serving 3 servers" in texts["lab stdout"] and "exchange-lab: stopped" in texts["lab stdout"]

    # Controls: the search finds what is there, in the very texts it judges, and every encoding it claims to.
    assert "plain" in found(inventory, winrm.value, winrm.core), "the WinRM password must be in the inventory"
    for where in ("ansible-playbook -vvvv output", "ANSIBLE_LOG_PATH file", "lab journal",
                  "audit/report.json", "audit/junit.xml", "audit/report.html"):
        # The account is named, by design, by the session failures (the audit's reports carry EX01's).
        assert found(texts[where], USERNAME), f"the username must be found in {where}"
    for secret in all_secrets:
        for name in encodings(secret.value, secret.core):
            assert name in found(planted(name, secret), secret.value, secret.core), f"the search misses {name}"

    # The search itself.
    findings, checked = leaks(texts, all_secrets, exempt={("inventory", winrm.label)})
    reliability(checked)
    assert not findings, "credentials leaked:\n" + "\n".join(findings)


@pytest.mark.reliability("Secrets", "a vault credential dictionary or a list given whole as exchange_command's "
                                    "password, at -vvvv: the value inside is not echoed")
def test_exchange_command_never_echoes_a_password_of_the_wrong_type(running_lab, tmp_path, reliability):
    lab = running_lab(SCENARIOS / "demo.yml")
    creds = Credentials.make(tmp_path)
    control = {"name": "exchange_command with credentials", "exchange.transport_tls.exchange_command": {**READ, **CREDS}}
    hostile = [
        {"name": "exchange_command with a vault dictionary as password", "exchange.transport_tls.exchange_command":
         {**READ, **CREDS, "password": "{{ exchange_credential }}"}},
        {"name": "exchange_command with a list as password", "exchange.transport_tls.exchange_command":
         {**READ, **CREDS, "password": ["{{ exchange_password }}"]}},
    ]
    plays = [{"hosts": "EX01", "gather_facts": False, "tasks": [{**t, "ignore_errors": True} for t in [control, *hostile]]}]
    _rc, output, log = playbook(tmp_path, lab.inventory_path, plays, creds)

    # Control: the valid call ran, and its result at -vvvv shows the username the search must find.
    assert "FAILED!" not in section(output, control["name"]), output
    assert found(section(output, control["name"]), USERNAME), "control: the username is in the valid call's output"
    # Both hostile calls ran and were refused, naming the option (whichever side refuses them).
    for task in hostile:
        text = section(output, task["name"])
        assert "FAILED!" in text and "password" in text, text
    findings, _checked = leaks({"ansible-playbook -vvvv output": output, "ANSIBLE_LOG_PATH file": log,
                                "lab journal": lab.journal_path.read_text()}, [creds.password, creds.vault])
    reliability(len(hostile))
    assert not findings, "credentials leaked:\n" + "\n".join(findings)
