"""Every action module's argument spec is exactly what its DOCUMENTATION promises.

Users read ansible-doc; the action plugin validates with ARGUMENT_SPEC. A test
keeps the two from drifting (doc fragments included). ansible-doc rendering and the EXAMPLES
of every module and filter are checked in test_plugin_docs.py.
"""

from __future__ import annotations

import importlib
import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Action plugins that implement their module. exchange_command's action plugin only screens a few
# options before the PowerShell module runs; that module's spec is in its .ps1 (test_powershell.py).
ACTIONS = sorted(
    p.stem for p in (ROOT / "plugins" / "action").glob("*.py")
    if not p.stem.startswith("_") and not (ROOT / "plugins" / "modules" / f"{p.stem}.ps1").exists()
)
# Python modules that run on a host themselves (they have a main()), with or without an action plugin
# (smtp_tls_probe runs in-process on the controller and as this module elsewhere). They expose
# ARGUMENT_SPEC at module level so that this test can read it without running them.
PLAIN = sorted(
    p.stem for p in (ROOT / "plugins" / "modules").glob("*.py")
    if not p.stem.startswith("_") and "\ndef main(" in p.read_text()
)


def documented_options(name: str) -> dict:
    """DOCUMENTATION's options with this collection's doc fragments merged, as ansible-doc shows them."""
    path = ROOT / "plugins" / "modules" / f"{name}.py"
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    doc = yaml.safe_load(namespace["DOCUMENTATION"])
    options = dict(doc.get("options") or {})
    for fragment in doc.get("extends_documentation_fragment") or []:
        if fragment == "ansible.builtin.action_common_attributes":
            continue  # the descriptions of the attributes check_mode, diff_mode and platform; no options
        collection, _dot, fragment_name = fragment.rpartition(".")
        assert collection == "exchange.transport_tls", f"{name}: unexpected fragment {fragment}"
        module = importlib.import_module(f"ansible_collections.exchange.transport_tls.plugins.doc_fragments.{fragment_name}")
        for key, option in yaml.safe_load(module.ModuleDocFragment.DOCUMENTATION)["options"].items():
            assert key not in options, f"{name}: option {key} is both in the module and in fragment {fragment}"
            options[key] = option
    return options


def normalised(options: dict) -> dict:
    out = {}
    for key, option in options.items():
        out[key] = {
            "type": option.get("type", "str"),
            "required": bool(option.get("required", False)),
            "default": option.get("default"),
            "choices": option.get("choices"),
            "elements": option.get("elements"),
        }
    return out


def test_there_are_action_modules():
    assert "exchange_certificate_facts" in ACTIONS


def test_every_module_is_checked_against_its_documentation():
    # An action plugin's spec, a .ps1's (test_powershell.py), or the module's own main(): one of them.
    for path in (ROOT / "plugins" / "modules").glob("*.py"):
        if not path.stem.startswith("_"):
            assert path.stem in ACTIONS or path.stem in PLAIN or path.with_suffix(".ps1").exists(), path.name


@pytest.mark.parametrize("name", ACTIONS)
def test_argument_spec_equals_documentation(name):
    action = importlib.import_module(f"ansible_collections.exchange.transport_tls.plugins.action.{name}")
    assert normalised(action.ARGUMENT_SPEC) == normalised(documented_options(name))


@pytest.mark.parametrize("name", PLAIN)
def test_plain_modules_argument_spec_equals_documentation(name):
    module = importlib.import_module(f"ansible_collections.exchange.transport_tls.plugins.modules.{name}")
    assert normalised(module.ARGUMENT_SPEC) == normalised(documented_options(name))


@pytest.mark.parametrize("name", ACTIONS)
def test_secrets_are_no_log(name):
    action = importlib.import_module(f"ansible_collections.exchange.transport_tls.plugins.action.{name}")
    secret_like = [k for k in action.ARGUMENT_SPEC if "password" in k or "secret" in k]
    # Modules that open an Exchange session take its password; the report module takes no secret.
    assert secret_like or "connection_uri" not in action.ARGUMENT_SPEC
    assert all(action.ARGUMENT_SPEC[k].get("no_log") for k in secret_like)
