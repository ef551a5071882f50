"""Every plugin the collection ships renders in ansible-doc, complete, with examples a user can paste.

ansible-doc's `--metadata-dump` is what documentation sites (antsibull-docs) and Galaxy read; the
text rendering is what an administrator reads. Both are taken from the ansible-core of the running
venv, so each `make test` leg checks its own ansible-core. Module argument specs against their
DOCUMENTATION are compared in test_module_docs.py.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
COLLECTION = "exchange.transport_tls"
BIN = pathlib.Path(sys.executable).parent
# What the collection ships, from the tree: ansible-doc must find exactly these.
SHIPPED = {
    # A module is its code or stub (.py, .ps1); its documentation sidecar (.yml) is not a module of its own.
    "module": sorted({p.stem for p in (ROOT / "plugins" / "modules").iterdir() if p.suffix in (".py", ".ps1") and p.stem != "__init__"}),
    "filter": sorted(p.stem for p in (ROOT / "plugins" / "filter").glob("*.yml")),
    "role": sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").is_file()),
}
# ansible-core 2.21 itself warns about its internal _protomatter collection whenever it lists
# collections (role documentation does); that line is not about this collection.
CORE_NOISE = re.compile(r"^\[WARNING\]: Collection at '[^']*/ansible_collections/ansible/_protomatter' .*$", re.M)


def ansible_doc(*args: str, **extra_env: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", PAGER="cat", **extra_env)
    return subprocess.run([str(BIN / "ansible-doc"), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180, check=False)


@pytest.fixture(scope="module", name="dump")
def fixture_dump() -> dict:
    proc = ansible_doc("--metadata-dump", "--no-fail-on-errors", COLLECTION)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["all"]


def ours(dump: dict, plugin_type: str) -> dict:
    return {name.split(".", 2)[2]: entry for name, entry in dump[plugin_type].items() if name.startswith(COLLECTION + ".")}


def test_the_tree_has_plugins_of_each_kind():
    assert SHIPPED["module"] and SHIPPED["filter"] and SHIPPED["role"], SHIPPED


@pytest.mark.parametrize("plugin_type", sorted(SHIPPED))
def test_ansible_doc_finds_every_plugin_the_collection_ships_without_error(dump, plugin_type):
    found = ours(dump, plugin_type)
    assert sorted(found) == SHIPPED[plugin_type]
    broken = {name: entry["error"] for name, entry in found.items() if "error" in entry}
    assert not broken, broken


def documented(dump: dict) -> list[tuple[str, str, dict]]:
    return [(plugin_type, name, entry) for plugin_type in ("module", "filter") for name, entry in sorted(ours(dump, plugin_type).items())]


def option_problems(options: dict, where: str) -> list[str]:
    problems = []
    for key, option in (options or {}).items():
        if not option.get("description"):
            problems.append(f"{where}: option {key} has no description")
        if "type" not in option:
            problems.append(f"{where}: option {key} has no type")
        problems += option_problems(option.get("suboptions"), f"{where}.{key}")
    return problems


def test_every_module_and_filter_is_documented_in_full(dump):
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    problems = []
    for plugin_type, name, entry in documented(dump):
        doc, where = entry["doc"], f"{plugin_type} {name}"
        for key in ("short_description", "description", "author", "version_added"):
            if not doc.get(key):
                problems.append(f"{where}: no {key}")
        if doc.get("version_added") and tuple(map(int, str(doc["version_added"]).split("."))) > tuple(map(int, version.split("."))):
            problems.append(f"{where}: version_added {doc['version_added']} is after this version {version}")
        problems += option_problems(doc.get("options"), where)
        if not entry.get("examples"):
            problems.append(f"{where}: no EXAMPLES")
        if not entry.get("return"):
            problems.append(f"{where}: no RETURN")
    assert not problems, "\n".join(problems)


def test_every_role_entry_point_is_documented_in_full(dump):
    problems = []
    for name, entry in ours(dump, "role").items():
        assert set(entry["entry_points"]) >= {"main"}, name
        for point, spec in entry["entry_points"].items():
            where = f"role {name} entry point {point}"
            for key in ("short_description", "description", "author", "version_added"):
                if not spec.get(key):
                    problems.append(f"{where}: no {key}")
            problems += option_problems(spec.get("options"), where)
    assert not problems, "\n".join(problems)


def tasks_in(tasks: list) -> list[dict]:
    """Every task of a task list, blocks opened."""
    out = []
    for task in tasks:
        assert isinstance(task, dict), task
        if "block" in task:
            for key in ("block", "rescue", "always"):
                out += tasks_in(task.get(key) or [])
        else:
            out.append(task)
    return out


def test_the_examples_are_yaml_tasks_that_name_everything_by_its_fqcn(dump):
    keywords = set(dump["keyword"])
    modules = {f"{COLLECTION}.{name}" for name in SHIPPED["module"]}
    filters = SHIPPED["filter"]
    problems = []
    for plugin_type, name, entry in documented(dump):
        where = f"{plugin_type} {name} EXAMPLES"
        try:
            tasks = yaml.safe_load(entry["examples"])
        except yaml.YAMLError as exc:
            problems.append(f"{where}: not YAML: {exc}")
            continue
        if not isinstance(tasks, list) or not tasks:
            problems.append(f"{where}: not a list of tasks")
            continue
        for task in tasks_in(tasks):
            actions = [key for key in task if key not in keywords]
            if len(actions) != 1:
                problems.append(f"{where}: task {task.get('name')!r} has actions {actions}")
                continue
            action = actions[0]
            if action.count(".") != 2:
                problems.append(f"{where}: task {task.get('name')!r} uses {action}, not a fully qualified collection name")
            elif action.startswith(COLLECTION + ".") and action not in modules:
                problems.append(f"{where}: task {task.get('name')!r} uses {action}, which this collection does not have")
        # A filter of this collection used without its collection prefix would not resolve.
        for short in re.findall(r"\|\s*([a-z_]+)\b", entry["examples"]):
            if short in filters:
                problems.append(f"{where}: filter {short} without {COLLECTION}.")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("plugin_type", sorted(SHIPPED))
def test_ansible_doc_renders_each_plugin_as_text_without_warnings(plugin_type):
    names = [f"{COLLECTION}.{name}" for name in SHIPPED[plugin_type]]
    # The deprecations meta/runtime.yml announces on purpose are checked by the next test.
    proc = ansible_doc("-t", plugin_type, *names, ANSIBLE_DEPRECATION_WARNINGS="False")
    assert proc.returncode == 0, proc.stderr
    stderr = CORE_NOISE.sub("", proc.stderr).strip()
    assert not stderr, stderr
    for name in names:
        assert name in proc.stdout, f"{name} is not in ansible-doc's text output"
    if plugin_type != "role":
        assert proc.stdout.count("EXAMPLES:") == len(names), proc.stdout[:2000]
        assert proc.stdout.count("RETURN VALUES:") == len(names), proc.stdout[:2000]


def test_the_rollback_filters_are_deprecated_until_1_0():
    routing = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["plugin_routing"]["filter"]
    deprecated = sorted(name for name, route in routing.items() if route["deprecation"]["removal_version"] == "1.0.0")
    assert deprecated == sorted(n for n in SHIPPED["filter"] if n.startswith("rollback_"))
    proc = ansible_doc("-t", "filter", f"{COLLECTION}.rollback_steps")
    assert proc.returncode == 0, proc.stderr
    assert "connector_tls_rollback" in proc.stderr and "1.0.0" in proc.stderr, proc.stderr
