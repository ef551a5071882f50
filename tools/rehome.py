#!/usr/bin/env python3
"""Move the controller-only code out of plugins/module_utils/ into private plugin_utils rooms (issue 21 item 1).

Run from anywhere inside the repository:  python3 tools/rehome.py  [--dry-run]

What it does, on whatever tree it runs in (deterministic, idempotent: a second run changes nothing):

1. ``git mv`` every file of MOVES to its room and creates each room's ``__init__.py``.
2. Rewrites every import of a moved module, in every tracked or new text file of the repository:
   dotted paths (``from X.module_utils.converge import ...``, ``import X.module_utils.converge as c``, strings given
   to ``mock.patch``), package imports that list several modules (``from X.module_utils import tls_name, x500``
   becomes one line per package, since x500 stays and tls_name moves), and relative imports inside moved files.
3. Rewrites every textual path of a moved file: ``plugins/module_utils/converge.py``, ``module_utils/converge.py``,
   ``module_utils/converge`` and ``module_utils.converge`` in docs, README, comments, tests, schemas, meta, bench,
   tools and lab.
4. Fails (exit status 1) listing every file left in plugins/module_utils/ that is not in STAYS and every old
   reference it could not rewrite (for example a brace group ``module_utils/{a,b}.py``).

CHANGELOG.md and changelogs/ are history and are left as written.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

COLLECTION = "ansible_collections.exchange.transport_tls.plugins"

# The decided layout (ROOMS.md of issue 21): room -> files, by the directory they come from.
ROOMS = {
    "_payload": {"plugin_utils": ["exchange_action", "payload_contract"]},
    "_facts": {
        "module_utils": ["transport_facts", "exchange_enums", "certificate_selection", "receive_selection", "replacement",
                         "findings", "hybrid", "tls_name", "facts_after"],
        "plugin_utils": ["environment"],
    },
    "_converge": {
        "module_utils": ["converge", "smtp_enable", "receive_plan", "send_plan", "rollback", "restart"],
        "plugin_utils": ["converge_action"],
    },
    "_report": {
        "module_utils": ["report", "report_html", "report_junit", "scope", "run_dir"],
        "plugin_utils": ["report_text"],
    },
    "_role": {"plugin_utils": ["role_preflight"]},
    # New rooms other work creates; listed so their packages exist and the import-rules table names them.
    "_impact": {},
    "_rollout": {},
}

# What stays in plugins/module_utils/: it ships to a host with a module.
STAYS = {"__init__.py", "x500.py", "smtp_probe.py", "thumbprint.py",
         "x500_keys.py", "x500_der.py", "x500_render.py", "x500_parse.py", "x500_encode.py"}

# History, and this script and its test (which name the old places on purpose).
SKIP_PREFIXES = ("CHANGELOG.md", "changelogs/", "tools/rehome.py", "tests/tools/test_rehome.py", ".git/")


def moves():
    """(old_dir, name, room) for every moving module, in a stable order."""
    result = []
    for room in sorted(ROOMS):
        for old_dir in sorted(ROOMS[room]):
            for name in sorted(ROOMS[room][old_dir]):
                result.append((old_dir, name, room))
    return result


def _git(root, *args):
    return subprocess.run(["git", "-C", root, *args], check=True, capture_output=True, text=True).stdout


def move_files(root, dry_run, problems):
    """git mv each file to its room; create the rooms' __init__.py. Returns the number of files moved or created."""
    count = 0
    for room in sorted(ROOMS):
        init = os.path.join(root, "plugins", "plugin_utils", room, "__init__.py")
        if not os.path.exists(init):
            count += 1
            if not dry_run:
                os.makedirs(os.path.dirname(init), exist_ok=True)
                with open(init, "w", encoding="utf-8"):
                    pass
                _git(root, "add", os.path.relpath(init, root))
    for old_dir, name, room in moves():
        src = os.path.join("plugins", old_dir, name + ".py")
        dst = os.path.join("plugins", "plugin_utils", room, name + ".py")
        src_exists = os.path.exists(os.path.join(root, src))
        dst_exists = os.path.exists(os.path.join(root, dst))
        if src_exists and dst_exists:
            problems.append(f"{src} and {dst} both exist: merge them by hand, then run again")
        elif src_exists:
            count += 1
            if not dry_run:
                _git(root, "mv", src, dst)
                _deepen_file_paths(os.path.join(root, dst), dst, problems)
        elif not dst_exists:
            problems.append(f"{src} is in the layout but exists neither there nor at {dst}")
    return count


def _deepen_file_paths(full, path, problems):
    """A moved file sits one directory deeper: paths it computes from __file__ climb one more level."""
    with open(full, encoding="utf-8") as handle:
        text = handle.read()
    new = re.sub(r"(Path\(__file__\)(?:\.resolve\(\))?\.parents\[)(\d+)\]",
                 lambda m: f"{m.group(1)}{int(m.group(2)) + 1}]", text)
    if new.count("__file__") != len(re.findall(r"Path\(__file__\)(?:\.resolve\(\))?\.parents\[\d+\]", new)):
        problems.append(f"{path} uses __file__ in a form this script does not adjust: it is one directory deeper now")
    if new != text:
        with open(full, "w", encoding="utf-8") as handle:
            handle.write(new)


def _package_of(old_dir, name, table):
    """The package a module of plugins/<old_dir> lives in after the move (its old package when it stays)."""
    room = table.get((old_dir, name))
    return f"{COLLECTION}.plugin_utils.{room}" if room else f"{COLLECTION}.{old_dir}"


def _split_names(text):
    """'a, b as c' -> [('a', None), ('b', 'c')]; None when the list is not plain names (leave it alone)."""
    names = []
    for part in text.replace("\n", " ").split(","):
        part = part.strip()
        if not part:
            continue
        match = re.fullmatch(r"(\w+)(?:\s+as\s+(\w+))?", part)
        if not match:
            return None
        names.append((match.group(1), match.group(2)))
    return names


def rewrite_text(text, table, relative_dir=None):
    """The text with every import and path of a moved module rewritten; relative_dir: the old package of the file."""
    moved = {}
    for (old_dir, name), room in table.items():
        moved.setdefault(old_dir, {})[name] = room

    # 1. "from PKG import a, b" (one line or parenthesised): one statement per destination package.
    def package_import(match):
        indent, old_dir, body = match.group(1), match.group(2), match.group(3) or match.group(4)
        names = _split_names(body)
        if names is None or not any(n in moved.get(old_dir, {}) for n, _ in names):
            return match.group(0)
        groups = {}
        for name, alias in names:
            groups.setdefault(_package_of(old_dir, name, table), []).append(name + (f" as {alias}" if alias else ""))
        comment = match.group(5) or ""
        lines = [f"{indent}from {pkg} import {', '.join(items)}" for pkg, items in sorted(groups.items())]
        lines[0] += comment
        return "\n".join(lines)

    text = re.sub(
        r"^([ \t]*)from " + re.escape(COLLECTION) + r"\.(module_utils|plugin_utils) import "
        r"(?:\(([^)]*)\)|([\w, \t]+?))([ \t]*#[^\n]*)?[ \t]*$",
        package_import, text, flags=re.MULTILINE)

    # 2. Relative imports in a file that lived in old_dir: make them absolute to the module's new package.
    if relative_dir:
        def relative(match):
            name = match.group(2)
            return f"{match.group(1)}from {_package_of(relative_dir, name, table)}.{name} import"
        text = re.sub(r"^([ \t]*)from \.(\w+) import", relative, text, flags=re.MULTILINE)

    for old_dir in sorted(moved):
        for name in sorted(moved[old_dir]):
            room = moved[old_dir][name]
            # 3. Dotted module paths (imports, mock.patch targets, importlib strings).
            text = re.sub(re.escape(f"{COLLECTION}.{old_dir}.{name}") + r"\b",
                          f"{COLLECTION}.plugin_utils.{room}.{name}", text)
            # 4. Textual paths and short dotted names: plugins/module_utils/x.py, module_utils/x, module_utils.x.
            text = re.sub(r"(?<![\w.])((?:plugins/)?)" + old_dir + "/" + name + r"(?=\.py\b|\b)",
                          lambda m, r=room, n=name: f"{m.group(1)}plugin_utils/{r}/{n}", text)
            text = re.sub(r"(?<![\w.])" + old_dir + r"\." + name + r"\b", f"plugin_utils.{room}.{name}", text)
    return text


def leftovers(text, table):
    """Old references to moved modules still in the text (what rewrite_text could not rewrite)."""
    found = []
    for (old_dir, name) in sorted(table):
        pattern = r"(?<!\w)" + old_dir + r"[./]" + name + r"\b"
        found.extend(m.group(0) for m in re.finditer(pattern, text))
        brace = r"(?<![\w.])" + old_dir + r"/\{[^}]*\b" + name + r"\b[^}]*\}"
        found.extend(m.group(0) for m in re.finditer(brace, text))
    return found


def candidate_files(root):
    out = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    files = sorted({f for f in out.split("\0") if f})
    return [f for f in files if not f.startswith(SKIP_PREFIXES) and os.path.isfile(os.path.join(root, f))]


def rewrite_files(root, table, dry_run, problems):
    changed = 0
    old_location = {os.path.join("plugins", "plugin_utils", room, name + ".py"): old_dir
                    for (old_dir, name), room in table.items()}
    for path in candidate_files(root):
        full = os.path.join(root, path)
        try:
            with open(full, encoding="utf-8") as handle:
                text = handle.read()
        except UnicodeDecodeError:
            continue
        relative_dir = old_location.get(path) if path.endswith(".py") else None
        if path.startswith("plugins/module_utils/") and path.endswith(".py"):
            relative_dir = "module_utils"
        new = rewrite_text(text, table, relative_dir)
        if new != text:
            changed += 1
            if not dry_run:
                with open(full, "w", encoding="utf-8") as handle:
                    handle.write(new)
        for ref in leftovers(new, table):
            problems.append(f"{path}: old reference left: {ref}")
    return changed


def stray_module_utils(root):
    directory = os.path.join(root, "plugins", "module_utils")
    if not os.path.isdir(directory):
        return []
    return sorted(f"plugins/module_utils/{f} is not in the stays list ({', '.join(sorted(STAYS))}): give it a room"
                  for f in os.listdir(directory) if f not in STAYS and f != "__pycache__")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
    args = parser.parse_args(argv)
    root = _git(os.path.dirname(os.path.abspath(__file__)), "rev-parse", "--show-toplevel").strip()
    table = {(old_dir, name): room for old_dir, name, room in moves()}
    problems = []
    moved = move_files(root, args.dry_run, problems)
    rewritten = rewrite_files(root, table, args.dry_run, problems)
    if not args.dry_run:
        problems.extend(stray_module_utils(root))
    verb = "would move" if args.dry_run else "moved"
    print(f"rehome: {verb} or created {moved} files, rewrote {rewritten} files")
    for problem in problems:
        print(f"rehome: FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
