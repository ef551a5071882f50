#!/usr/bin/env python3
"""Put the awx.awx collection where ansible-lint and the tests can load it; print its collections path.

docs/examples/deployment/awx-job-templates.yml creates AWX job templates with awx.awx. To lint it
and to validate its arguments with awx.awx's own argument specs (tests/gates/test_deployment_docs.py),
awx.awx must be installed. It is not on PyPI by itself and Galaxy is not reachable here, but the
Ansible community package on PyPI bundles it: this downloads that wheel (pinned) and extracts only
ansible_collections/awx/awx, into .cache/awx/ of the checkout (ignored by git and by the build).
A second call finds it there and downloads nothing.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The Ansible community package that bundles awx.awx 24.6.1.
ANSIBLE_WHEEL = "ansible==11.13.0"
AWX_VERSION = "24.6.1"
DEST = ROOT / ".cache" / "awx"
PREFIX = "ansible_collections/awx/awx/"


def installed(dest: pathlib.Path) -> bool:
    return (dest / PREFIX / "MANIFEST.json").is_file()


def ensure(dest: pathlib.Path = DEST) -> pathlib.Path:
    """The collections path holding awx.awx; downloads and extracts it when it is not there yet."""
    if installed(dest):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        work = pathlib.Path(tmp)
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(work), ANSIBLE_WHEEL],
                              capture_output=True, text=True, timeout=900, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"fetch_awx: pip download {ANSIBLE_WHEEL} failed:\n{proc.stdout}{proc.stderr}")
        (wheel,) = work.glob("ansible-*.whl")
        staged = work / "collections"
        with zipfile.ZipFile(wheel) as archive:
            names = [n for n in archive.namelist() if n.startswith(PREFIX) and not n.startswith(PREFIX + "test/")]
            archive.extractall(staged, members=names)
        if not installed(staged):
            raise SystemExit(f"fetch_awx: {wheel.name} has no awx.awx")
        version = json.loads((staged / PREFIX / "MANIFEST.json").read_text())["collection_info"]["version"]
        if version != AWX_VERSION:
            raise SystemExit(f"fetch_awx: {wheel.name} bundles awx.awx {version}, not {AWX_VERSION}")
        try:
            os.rename(staged, dest)  # atomic: two concurrent callers cannot leave half a collection
        except OSError:
            if not installed(dest):
                raise
    return dest


def main() -> int:
    print(ensure())
    return 0


if __name__ == "__main__":
    sys.exit(main())
