"""Every module is documented in its YAML sidecar, and its argument spec is exactly what that promises.

Users read ansible-doc; the action plugin validates with ARGUMENT_SPEC. A test
keeps the two from drifting (doc fragments included). ansible-doc rendering and the EXAMPLES
of every module and filter are checked in test_plugin_docs.py.

The layout (docs/development.md, "Documenting a module"): plugins/modules/NAME.yml holds
DOCUMENTATION, EXAMPLES and RETURN of every module. Beside it is the module's code (NAME.ps1, or
NAME.py with a main()) or, for a module that is an action plugin, a comment-only NAME.py stub,
which ansible-core needs to find the module by its name. So a .py in plugins/modules is code or a
stub a few lines long, never a page of documentation.
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


MODULES = ROOT / "plugins" / "modules"
SIDECARS = sorted(p.stem for p in MODULES.glob("*.yml"))
# Longest stub a module that is an action plugin may have: the license header and a few lines of comment.
STUB_MAX_LINES = 10


def module_doc(name: str) -> dict:
    """The module's sidecar: {"DOCUMENTATION": ..., "EXAMPLES": "...", "RETURN": ...}."""
    path = MODULES / f"{name}.yml"
    assert path.is_file(), f"{name}: no documentation sidecar {path.relative_to(ROOT)} (docs/development.md)"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def documented_options(name: str) -> dict:
    """DOCUMENTATION's options with this collection's doc fragments merged, as ansible-doc shows them."""
    doc = module_doc(name)["DOCUMENTATION"]
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
    for name in SIDECARS:
        assert name in ACTIONS or name in PLAIN or (MODULES / f"{name}.ps1").exists(), name


def test_every_module_has_its_documentation_in_a_sidecar_and_nowhere_else():
    """A module added in the old style (documentation strings in a .py) fails here, naming the recipe."""
    names = {p.stem for p in MODULES.iterdir() if p.suffix in (".py", ".ps1") and not p.stem.startswith("_")}
    assert SIDECARS, "no module documentation sidecar at all"
    problems = [f"{name}: no {name}.yml; convert with tools/module_doc_sidecar.py {name} (docs/development.md)"
                for name in sorted(names - set(SIDECARS))]
    problems += [f"{name}.yml documents a module that has no {name}.py or {name}.ps1" for name in sorted(set(SIDECARS) - names)]
    for name in SIDECARS:
        doc = module_doc(name)
        if sorted(doc) != ["DOCUMENTATION", "EXAMPLES", "RETURN"]:
            problems.append(f"{name}.yml: top-level keys {sorted(doc)}, not DOCUMENTATION, EXAMPLES and RETURN")
        elif doc["DOCUMENTATION"].get("module") != name:
            problems.append(f"{name}.yml: DOCUMENTATION.module is {doc['DOCUMENTATION'].get('module')!r}")
        py = MODULES / f"{name}.py"
        if py.exists() and any(f"{section} =" in py.read_text() for section in ("DOCUMENTATION", "EXAMPLES", "RETURN")):
            problems.append(f"{name}.py still holds documentation strings; {name}.yml is the one place for them")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", [n for n in ACTIONS if (MODULES / f"{n}.py").exists() and n not in PLAIN])
def test_the_module_of_an_action_plugin_is_a_short_stub(name):
    """ansible-core lists a module only through a file that is not a .yml; the stub is that file and nothing more."""
    lines = (MODULES / f"{name}.py").read_text().splitlines()
    assert len(lines) <= STUB_MAX_LINES, f"{name}.py has {len(lines)} lines; a stub has at most {STUB_MAX_LINES}"
    assert all(not line.strip() or line.startswith("#") for line in lines), f"{name}.py holds more than comments"
    assert "GNU General Public License v3.0+" in lines[2], f"{name}.py: the license header (validate-modules checks it)"


def test_unknown_changes_is_described_identically_by_the_two_connector_modules():
    """RETURN has no doc fragments on ansible-core 2.19, so the one shared return value is kept equal here."""
    receive = module_doc("receive_connector_tls")["RETURN"]["unknown_changes"]
    send = module_doc("send_connector_tls")["RETURN"]["unknown_changes"]
    assert receive == send


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
