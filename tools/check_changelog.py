#!/usr/bin/env python3
"""The changelog gate (`make lint-changelog`): fragments lint, and CHANGELOG.md is what they made.

Fragments in changelogs/fragments/ become a release in changelogs/changelog.yaml with
`antsibull-changelog release` (docs/development.md, "Releasing"), which also writes CHANGELOG.md.
This checks, in the collection root given (default: this checkout):

- the fragments and changelogs/changelog.yaml pass antsibull-changelog's own lints;
- CHANGELOG.md is byte for byte what `antsibull-changelog generate` makes of changelog.yaml, so
  nobody edited it by hand or forgot to regenerate it;
- galaxy.yml's version is not older than the last release, and while fragments wait for the next
  release it is newer than the last one: a tarball never claims a released version whose notes lack
  some of its changes.

Exit status 0 when all hold, 1 otherwise, with what to run to fix it.
"""

from __future__ import annotations

import argparse
import difflib
import pathlib
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def version_key(version: str) -> tuple:
    core = str(version).split("-", 1)[0].split("+", 1)[0]
    return tuple(int(part) for part in core.split("."))


def antsibull(root: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("antsibull-changelog", path=str(pathlib.Path(sys.executable).parent)) or "antsibull-changelog"
    return subprocess.run([exe, *args], cwd=root, capture_output=True, text=True, timeout=300, check=False)


def problems(root: pathlib.Path) -> list[str]:
    found = []
    lint = antsibull(root, "lint")
    if lint.returncode != 0 or lint.stdout.strip():
        found.append("fragments: antsibull-changelog lint:\n" + (lint.stdout + lint.stderr).strip())
    changes = root / "changelogs" / "changelog.yaml"
    if not changes.is_file():
        return found + ["changelogs/changelog.yaml is missing: no release was made (antsibull-changelog release)"]
    lint_yaml = antsibull(root, "lint-changelog-yaml", str(changes.relative_to(root)))
    if lint_yaml.returncode != 0 or lint_yaml.stdout.strip():
        found.append("changelogs/changelog.yaml: antsibull-changelog lint-changelog-yaml:\n" + (lint_yaml.stdout + lint_yaml.stderr).strip())

    with tempfile.TemporaryDirectory() as tmp:
        expected_path = pathlib.Path(tmp) / "CHANGELOG.md"
        generated = antsibull(root, "generate", "--output", str(expected_path), "--output-format", "md")
        if generated.returncode != 0:
            found.append("antsibull-changelog generate failed:\n" + (generated.stdout + generated.stderr).strip())
        else:
            expected = expected_path.read_text(encoding="utf-8")
            committed_path = root / "CHANGELOG.md"
            committed = committed_path.read_text(encoding="utf-8") if committed_path.is_file() else ""
            if committed != expected:
                diff = "".join(list(difflib.unified_diff(committed.splitlines(True), expected.splitlines(True),
                                                         "CHANGELOG.md (committed)", "CHANGELOG.md (generated)"))[:40])
                found.append("CHANGELOG.md is not what changelogs/changelog.yaml generates; run "
                             "`antsibull-changelog generate` and commit it:\n" + diff)

    releases = sorted((yaml.safe_load(changes.read_text(encoding="utf-8")) or {}).get("releases") or {}, key=version_key)
    version = str(yaml.safe_load((root / "galaxy.yml").read_text(encoding="utf-8"))["version"])
    fragments = sorted(p.name for p in (root / "changelogs" / "fragments").glob("*.y*ml"))
    if releases:
        last = releases[-1]
        if version_key(version) < version_key(last):
            found.append(f"galaxy.yml's version {version} is older than the last release {last} in changelogs/changelog.yaml")
        elif fragments and version_key(version) == version_key(last):
            found.append(f"fragments wait for the next release ({', '.join(fragments)}) but galaxy.yml still says {version}, "
                         f"the version already released: raise galaxy.yml's version")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("root", nargs="?", type=pathlib.Path, default=ROOT, help="the collection root (default: this checkout)")
    args = parser.parse_args(argv)
    found = problems(args.root.resolve())
    for problem in found:
        print(f"ERROR: {problem}", file=sys.stderr)
    if not found:
        print("changelog: fragments lint, changelog.yaml lints, CHANGELOG.md is up to date")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
