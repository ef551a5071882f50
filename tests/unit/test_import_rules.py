# Copyright: (c) 2026, exchange.transport_tls contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The import rules of docs/architecture.md ("Rooms and what they may import"), checked on every plugins/**/*.py.

The table is read from the document, so the rules users read and the rules enforced are one text. The checks
on the real tree need the rooms of plugins/plugin_utils/ (tools/rehome.py creates them); the checker itself is
tested on small invented trees, so a rule that stops catching a bad import fails here whatever the layout.
"""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "plugins"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
COLLECTION = "ansible_collections.exchange.transport_tls.plugins"

# Rooms whose code runs on a host: ansible-test sanity lets them import only ansible.module_utils of ansible-core.
HOST_ROOMS = {"module_utils", "modules"}


def rules_from(markdown):
    """{room: set of rooms it may import} from the table whose header starts '| room | directory |'."""
    rules, in_table = {}, False
    for line in markdown.splitlines():
        if line.startswith("| room | directory |"):
            in_table = True
            continue
        if in_table:
            if not line.startswith("|"):
                break
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            if set(cells[0]) <= {"-"}:
                continue
            rules[cells[0].strip("`")] = set(re.findall(r"`([\w]+)`", cells[3]))
    return rules


def room_of_path(relative):
    """The room of a file given relative to plugins/: 'plugin_utils/_facts/x.py' -> '_facts'."""
    parts = pathlib.PurePosixPath(relative).parts
    if parts[0] == "plugin_utils":
        return parts[1] if len(parts) > 2 else "plugin_utils"
    return parts[0]


def module_name(relative):
    return COLLECTION + "." + str(pathlib.PurePosixPath(relative).with_suffix("")).replace("/", ".")


def imports_of(relative, source, known_modules):
    """(line, imported module) for every import of the file, relative imports resolved; 'from P import m' names m
    when P.m is a module of the tree."""
    package = module_name(relative).rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(source, filename=relative)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = parent + ("." + base if base else "")
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((node.lineno, candidate if candidate in known_modules else base))
    return found


def room_of_module(name):
    rest = name[len(COLLECTION) + 1:].split(".")
    if rest[0] == "plugin_utils" and len(rest) > 1 and rest[1].startswith("_"):
        return rest[1]
    return rest[0]


def violations(tree, rules):
    """Every broken rule of a tree {path relative to plugins/: source}, as sentences naming file, line and rule."""
    problems = []
    known = {module_name(path) for path in tree}
    graph = {}
    for path in sorted(tree):
        room = room_of_path(path)
        if room not in rules:
            problems.append(f"plugins/{path}: room {room!r} is not in the table of docs/architecture.md "
                            f"(rooms: {', '.join(sorted(rules))})")
            continue
        edges = graph.setdefault(module_name(path), set())
        for line, imported in imports_of(path, tree[path], known):
            if imported.startswith(COLLECTION + "."):
                target = room_of_module(imported)
                if imported in known:
                    edges.add(imported)
                if target != room and target not in rules[room]:
                    allowed = ", ".join(sorted(rules[room])) or "no other room"
                    problems.append(f"plugins/{path}:{line}: {room} imports {imported} ({target}); {room} may import {allowed}")
            elif room in HOST_ROOMS and (imported == "ansible" or imported.startswith("ansible.")) \
                    and not imported.startswith("ansible.module_utils"):
                problems.append(f"plugins/{path}:{line}: {room} runs on a host and imports {imported}; "
                                f"of ansible-core it may import only ansible.module_utils")
    problems.extend(cycles(graph))
    return problems


def cycles(graph):
    """A sentence per import cycle between modules (each cycle reported once, from its smallest module)."""
    found, state = set(), {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                loop = stack[stack.index(nxt):]
                start = loop.index(min(loop))
                found.add(tuple(loop[start:] + loop[:start]))
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return [f"import cycle: {' -> '.join(loop + (loop[0],))}" for loop in sorted(found)]


def real_tree():
    return {str(path.relative_to(PLUGINS).as_posix()): path.read_text(encoding="utf-8")
            for path in sorted(PLUGINS.rglob("*.py")) if "__pycache__" not in path.parts}


RULES = rules_from(ARCHITECTURE.read_text(encoding="utf-8"))
MOVED = (PLUGINS / "plugin_utils" / "_facts").is_dir()
needs_rooms = pytest.mark.skipif(not MOVED, reason="plugins/plugin_utils/_facts does not exist yet: tools/rehome.py has not run")


def test_the_table_names_the_rooms_and_is_a_layering():
    assert {"module_utils", "modules", "_payload", "_facts", "_converge", "_report", "_role", "action", "filter"} <= set(RULES)
    for room, allowed in RULES.items():
        assert allowed <= set(RULES), f"{room} may import a room the table does not name: {allowed - set(RULES)}"
    assert not cycles(dict(RULES)), "the table itself allows a cycle"


@needs_rooms
def test_every_room_directory_is_in_the_table():
    rooms = {p.name for p in (PLUGINS / "plugin_utils").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert rooms <= set(RULES), f"rooms missing from docs/architecture.md: {sorted(rooms - set(RULES))}"
    loose = sorted(p.name for p in (PLUGINS / "plugin_utils").glob("*.py"))
    assert not loose, f"plugin_utils files outside a room: {loose}"


@needs_rooms
def test_the_plugins_follow_the_import_rules():
    assert violations(real_tree(), RULES) == []


GOOD = {
    "module_utils/x500.py": "import re\nfrom ansible.module_utils.common.text.converters import to_text\n",
    "plugin_utils/_facts/names.py": f"from {COLLECTION}.module_utils import x500\n",
    "plugin_utils/_converge/plan.py": f"from {COLLECTION}.plugin_utils._facts import names\n",
    "action/mod.py": f"from ansible.plugins.action import ActionBase\nfrom {COLLECTION}.plugin_utils._converge.plan import x\n",
}


def test_a_tree_that_follows_the_rules_passes():
    assert violations(GOOD, RULES) == []


@pytest.mark.parametrize("path, source, expected", [
    ("module_utils/x500.py", f"from {COLLECTION}.plugin_utils._facts import names\n",
     "plugins/module_utils/x500.py:1: module_utils imports " + COLLECTION + ".plugin_utils._facts.names (_facts)"),
    ("modules/probe.py", f"from {COLLECTION}.plugin_utils._payload.exchange_action import run\n",
     "plugins/modules/probe.py:1: modules imports"),
    ("module_utils/x500.py", "from ansible.plugins.action import ActionBase\n",
     "runs on a host and imports ansible.plugins.action"),
    ("plugin_utils/_facts/names.py", f"from {COLLECTION}.plugin_utils._converge import plan\n",
     "plugins/plugin_utils/_facts/names.py:1: _facts imports " + COLLECTION + ".plugin_utils._converge.plan (_converge)"),
    ("plugin_utils/_facts/names.py", f"import {COLLECTION}.plugin_utils._report.report as r\n", "_facts imports"),
    ("plugin_utils/_facts/names.py", "from ..\x5fconverge import plan\n", "_facts imports"),
    ("plugin_utils/_misc/thing.py", "import os\n", "room '_misc' is not in the table"),
])
def test_a_bad_import_is_named(path, source, expected):
    tree = dict(GOOD, **{path: source})
    problems = violations(tree, RULES)
    assert any(expected in problem for problem in problems), problems


def test_an_import_cycle_inside_a_room_is_named():
    tree = dict(GOOD, **{
        "plugin_utils/_facts/a.py": f"from {COLLECTION}.plugin_utils._facts import b\n",
        "plugin_utils/_facts/b.py": f"from {COLLECTION}.plugin_utils._facts.a import thing\n",
    })
    assert violations(tree, RULES) == [f"import cycle: {COLLECTION}.plugin_utils._facts.a -> "
                                       f"{COLLECTION}.plugin_utils._facts.b -> {COLLECTION}.plugin_utils._facts.a"]
