"""Run ansible-test on a copy of this checkout laid out as ansible-test wants it.

Usage: .venv/bin/python tools/run_ansible_test.py sanity|units|windows-integration [ansible-test options...]

ansible-test only runs from a directory whose path ends in
ansible_collections/<namespace>/<name>, and it resolves the physical working
directory, so the committed collections/ symlink does not do. This copies the
files git knows about -- tracked ones plus untracked ones that are not ignored,
so uncommitted work is checked too; deleted ones are skipped -- into
<tmp>/ansible_collections/exchange/transport_tls, makes that copy a git
repository of its own (ansible-test then lists exactly these files, as it would
in a clone), and runs the ansible-test next to this interpreter there.

The copy is removed afterwards unless KEEP_ANSIBLE_TEST_COPY=1.

ansible-test creates its sanity/units virtual environments without pip and
bootstraps pip with a get-pip script from ci-files.testing.ansible.com, cached
as ~/.ansible/test/cache/get_pip_<version>.py. Only PyPI is reachable here, so
when that file is missing this writes an equivalent one: it installs with the
pip wheel of the same pinned version, downloaded from PyPI next to it.

Every Python 3 found as pyenv's versions/3.X*/bin/python3.X is put on PATH as
python3.X (pyenv's shims fail unless that version is selected), so sanity's
multi-version tests (compile, import) can see them; pass --python to limit.
"""
from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
NAMESPACE, NAME = "exchange", "transport_tls"


def git_files() -> list[str]:
    """The checkout as git has it: tracked files plus new ones not ignored (work not yet committed),
    without those deleted in the work tree but not yet in the index."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode()
    return sorted({f for f in out.split("\0") if f and os.path.lexists(ROOT / f)})


# Left out of the copy: galaxy.yml's manifest leaves them out of the built
# collection, so ansible-test on a published collection never sees them. They
# are development tooling with their own tests (the lab, tests/lab, tests/tools) and style,
# and the gates that need the lab or a build (tests/gates/: docs examples, galaxy, EE).
# tests/unit stays: `ansible-test units` runs it and sanity checks it; so do the
# gates it imports helpers from (module docs) and the other pure-Python gates.
EXCLUDED = ("lab/", "tools/", "tests/lab/", "tests/scenarios/", "tests/tools/", "tests/gates/test_doc_examples.py",
            "tests/gates/test_deployment_docs.py", "tests/gates/test_execution_environment.py", "tests/gates/test_galaxy_install.py")


def copy_tree(dest: pathlib.Path) -> None:
    for rel in git_files():
        if rel.startswith(EXCLUDED):
            continue
        src = ROOT / rel
        target = dest / rel
        if src.is_symlink():
            # The collections/ symlink points back at the root: a copy of it
            # would make ansible-test see the collection twice.
            continue
        if not src.is_file():
            continue  # not a regular file (a submodule's directory)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def pyenv_python_dir(tmp: pathlib.Path) -> pathlib.Path | None:
    roots = {pathlib.Path(p) for p in (os.environ.get("PYENV_ROOT"),) if p}
    roots.add(pathlib.Path.home() / ".pyenv")
    bindir = tmp / "bin"
    found = False
    for root in sorted(roots):
        versions = root / "versions"
        if not versions.is_dir():
            continue
        for vdir in sorted(versions.glob("3.*")):
            parts = vdir.name.split(".")
            if len(parts) < 2 or not parts[1].isdigit():
                continue
            exe = vdir / "bin" / f"python3.{parts[1]}"
            link = bindir / exe.name
            if exe.is_file() and not link.exists():
                bindir.mkdir(exist_ok=True)
                link.symlink_to(exe)
                found = True
    return bindir if found else None


GET_PIP_SHIM = """\
# Written by exchange.transport_tls tools/run_ansible_test.py in place of
# https://ci-files.testing.ansible.com/ansible-test/get-pip-{version}.py
# (unreachable here): runs `pip install` from the pip {version} wheel beside it.
import os
import sys

wheel = os.path.join(os.path.dirname(os.path.abspath(__file__)), {wheel!r})
sys.path.insert(0, wheel)
from pip._internal.cli.main import main  # noqa: E402

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install", "--upgrade", "--force-reinstall"] + args))
"""


def ensure_pip_bootstrap() -> None:
    import ansible_test

    source = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
    match = re.search(r"pip='([0-9.]+)'", source.read_text())
    if not match:
        return
    version = match.group(1)
    cache = pathlib.Path.home() / ".ansible" / "test" / "cache"
    script = cache / f"get_pip_{version.replace('.', '_')}.py"
    if script.exists():
        return
    cache.mkdir(parents=True, exist_ok=True)
    wheel = f"pip-{version}-py3-none-any.whl"
    if not (cache / wheel).exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
             "--dest", str(cache), f"pip=={version}"],
            check=True,
        )
    script.write_text(GET_PIP_SHIM.format(version=version, wheel=wheel))
    print(f"wrote the pip {version} bootstrap script {script}", flush=True)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    ansible_test = pathlib.Path(sys.executable).parent / "ansible-test"
    ensure_pip_bootstrap()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="ansible-test-"))
    try:
        dest = tmp / "ansible_collections" / NAMESPACE / NAME
        dest.mkdir(parents=True)
        copy_tree(dest)
        env = dict(os.environ)
        # A git repository of its own: ansible-test then lists exactly the
        # copied files instead of walking the tree.
        git_env = dict(env, GIT_AUTHOR_NAME="ansible-test", GIT_AUTHOR_EMAIL="ansible-test@localhost",
                       GIT_COMMITTER_NAME="ansible-test", GIT_COMMITTER_EMAIL="ansible-test@localhost")
        for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", "copy"]):
            subprocess.run(cmd, cwd=dest, check=True, env=git_env)
        bindir = pyenv_python_dir(tmp)
        # The venv's bin first (ansible-test re-invokes itself and pip by name).
        path = [str(pathlib.Path(sys.executable).parent)]
        if bindir:
            path.append(str(bindir))
        env["PATH"] = os.pathsep.join(path + [env.get("PATH", "")])
        env.pop("PYTHONPATH", None)
        print(f"ansible-test {' '.join(argv)}  (in {dest})", flush=True)
        rc = subprocess.run([str(ansible_test), *argv], cwd=dest, env=env, check=False).returncode
        print(f"ansible-test {argv[0]}: {'passed' if rc == 0 else f'FAILED (exit {rc})'}", flush=True)
        return rc
    finally:
        if os.environ.get("KEEP_ANSIBLE_TEST_COPY") == "1":
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
