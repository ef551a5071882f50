#!/usr/bin/env python3
"""Move a module's DOCUMENTATION/EXAMPLES/RETURN from plugins/modules/NAME.py into the sidecar NAME.yml.

The recipe of docs/development.md ("Documenting a module"), as a script, for modules written in the old
style (documentation strings in a .py stub). Usage, from the repository root:

    python tools/module_doc_sidecar.py [--force] NAME [NAME ...]

For each NAME it writes plugins/modules/NAME.yml and then rewrites NAME.py:
- a documentation stub of an action plugin (NAME.py holds only the three strings) becomes the short stub
  every ansible-core this collection supports needs to find the module by its name (see STUB);
- NAME.py beside a NAME.ps1 is removed: ansible-core finds the .ps1 and its sidecar;
- a Python module with code keeps its code, without the three strings.
It refuses (and changes nothing) when the YAML it would write does not load back to exactly the
documentation the strings held, so a conversion can never change what ansible-doc shows, and when
NAME.yml exists already, unless --force: when a merge brings an old-style NAME.py with documentation
changes, take that NAME.py and convert it again over the sidecar (docs/development.md).
"""

from __future__ import annotations

import ast
import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODULES = ROOT / "plugins" / "modules"
SECTIONS = ("DOCUMENTATION", "EXAMPLES", "RETURN")
HEADER = """\
# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""
SIDECAR_HEADER = HEADER + """
# Documentation of the module {name}: ansible-doc and ansible-test read it from
# this sidecar; a .py beside it holds no documentation. How a module is documented:
# docs/development.md, "Documenting a module".
"""
STUB = HEADER + """
# The module is the action plugin plugins/action/{name}.py and its documentation
# is {name}.yml beside this file. This stub only lets Ansible find the module by its
# name: ansible-core does not list a module whose only file is a .yml (docs/development.md).
"""


class ConversionError(Exception):
    pass


def _strings(source: str, path: pathlib.Path) -> tuple[dict, list[tuple[int, int]]]:
    """The three documentation strings and the line spans (1-based, inclusive) of their assignments."""
    found, spans = {}, []
    for node in ast.parse(source, str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id in SECTIONS and isinstance(node.value, ast.Constant):
            found[node.targets[0].id] = node.value.value
            spans.append((node.lineno, node.end_lineno))
    missing = [s for s in SECTIONS if s not in found]
    if missing:
        raise ConversionError(f"{path}: no {', '.join(missing)} string to move (it holds {sorted(found) or 'none'})")
    return found, spans


def _block(text: str) -> str:
    lines = text.strip("\n").splitlines()
    if lines and lines[0].strip() == "---":
        lines = lines[1:]
    return "\n".join(("  " + line) if line.strip() else "" for line in lines)


def sidecar_text(name: str, strings: dict) -> str:
    """The sidecar: the strings' own text indented under their keys, so comments and layout survive."""
    return (SIDECAR_HEADER.format(name=name) + "\nDOCUMENTATION:\n" + _block(strings["DOCUMENTATION"])
            + "\n\nEXAMPLES: |\n" + _block(strings["EXAMPLES"]) + "\n\nRETURN:\n" + _block(strings["RETURN"]) + "\n")


def _same(name: str, strings: dict, text: str) -> None:
    loaded = yaml.safe_load(text)
    for section in ("DOCUMENTATION", "RETURN"):
        if loaded.get(section) != yaml.safe_load(strings[section]):
            raise ConversionError(f"{name}: {section} would not load back unchanged from the sidecar")
    if loaded.get("EXAMPLES", "").strip() != strings["EXAMPLES"].strip("\n").removeprefix("---\n").strip():
        raise ConversionError(f"{name}: EXAMPLES would not load back unchanged from the sidecar")


def convert(name: str, force: bool = False) -> str:
    py_path, yml_path = MODULES / f"{name}.py", MODULES / f"{name}.yml"
    if yml_path.exists() and not force:
        raise ConversionError(f"{yml_path} exists already; nothing to convert (--force replaces it with the .py's strings)")
    if not py_path.is_file():
        raise ConversionError(f"{py_path} does not exist (modules: {', '.join(sorted(p.stem for p in MODULES.glob('*.py')))})")
    source = py_path.read_text(encoding="utf-8")
    strings, spans = _strings(source, py_path)
    text = sidecar_text(name, strings)
    _same(name, strings, text)
    lines = source.splitlines(keepends=True)
    kept = [line for number, line in enumerate(lines, 1) if not any(a <= number <= b for a, b in spans)]
    code = ast.parse("".join(kept))
    docs_only = all(isinstance(node, ast.ImportFrom) and node.module == "__future__" for node in code.body)
    yml_path.write_text(text, encoding="utf-8")
    if docs_only and (MODULES / f"{name}.ps1").exists():
        py_path.unlink()
        return f"{name}: wrote {yml_path.name}, removed {py_path.name} ({name}.ps1 is the module)"
    if docs_only:
        py_path.write_text(STUB.format(name=name), encoding="utf-8")
        return f"{name}: wrote {yml_path.name}, {py_path.name} is now the short stub"
    # Code stays; collapse the blank lines the strings leave behind.
    out = "".join(kept)
    while "\n\n\n\n" in out:
        out = out.replace("\n\n\n\n", "\n\n\n")
    py_path.write_text(out, encoding="utf-8")
    return f"{name}: wrote {yml_path.name}, removed the documentation strings from {py_path.name}"


def main(argv: list[str]) -> int:
    force = "--force" in argv
    names = [a for a in argv if a != "--force"]
    if not names or any(a.startswith("-") for a in names):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    status = 0
    for name in names:
        try:
            print(convert(name, force))
        except ConversionError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
