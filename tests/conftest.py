"""Shared fixtures: scenario paths, an in-process lab, and an SMTP STARTTLS client."""

from __future__ import annotations

import hashlib
import pathlib
import smtplib
import ssl
from dataclasses import dataclass

import os

import pytest
import yaml
from hypothesis import settings

pytest_plugins = ["tests.reliability", "pytester"]

# CI replays the same examples every run, so main never turns red on a change
# unrelated to a newly drawn example; local runs keep exploring new ones.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "tests" / "scenarios"


def env_without_ansible() -> dict:
    """This process's environment without ANSIBLE_* variables: a user's shell, where the checkout's
    ansible.cfg and the suite's own settings do not apply."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}


@pytest.fixture
def scenario_path():
    def get(name: str) -> pathlib.Path:
        path = SCENARIOS / name
        assert path.exists(), path
        return path

    return get


def scenario_variant(tmp_path: pathlib.Path, name: str | pathlib.Path, *, faults: dict[str, list[dict]] | None = None,
                     launch_seconds: float | None = None) -> pathlib.Path:
    """A copy of a scenario (a shipped one by name, or a path) with faults on some servers
    ({server: [fault, ...]}) or a launch latency."""
    source = name if isinstance(name, pathlib.Path) else SCENARIOS / name
    name = source.name
    doc = yaml.safe_load(source.read_text())
    for server_name, server_faults in (faults or {}).items():
        (server,) = [s for s in doc["servers"] if s["name"] == server_name]
        server["faults"] = server_faults
    if launch_seconds is not None:
        doc["latency"] = {"launch_seconds": launch_seconds}
    path = tmp_path / f"variant-{name}"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@dataclass
class StartTls:
    offered: bool
    thumbprint: str | None = None
    error: str | None = None


def starttls(host: str, port: int, timeout: float = 10) -> StartTls:
    """EHLO, and STARTTLS when offered: what a sending server would see. Never sends mail."""
    with smtplib.SMTP(host, port, local_hostname="probe.example.net", timeout=timeout) as client:
        client.ehlo()
        if not client.has_extn("starttls"):
            return StartTls(False)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            client.starttls(context=context)
        except (ssl.SSLError, smtplib.SMTPException, ConnectionError) as exc:
            return StartTls(True, error=f"{type(exc).__name__}: {exc}")
        der = client.sock.getpeercert(binary_form=True)
        return StartTls(True, hashlib.sha1(der).hexdigest().upper())


@pytest.fixture
def running_lab(tmp_path):
    """Start a lab in this process on a scenario; yields the Lab, stops it afterwards."""
    from exchange_lab.server import Lab, LabThread

    threads = []

    def start(path, **kwargs) -> Lab:
        kwargs.setdefault("state_path", tmp_path / "state.yml")
        kwargs.setdefault("inventory_path", tmp_path / "inventory.ini")
        kwargs.setdefault("journal_path", tmp_path / "journal.jsonl")
        thread = LabThread(Lab(path, **kwargs))
        lab = thread.__enter__()
        threads.append(thread)
        return lab

    yield start
    for thread in threads:
        thread.__exit__(None, None, None)
