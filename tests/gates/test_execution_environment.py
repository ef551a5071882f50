"""The collection in an execution environment (AWX / Ansible Automation Platform).

No container engine is needed: `ansible-builder create` writes the build context
for the documented example (docs/examples/execution-environment.yml, shown in the
README), then the two steps of the build that decide what goes into the image are
replayed here as the Containerfile runs them: the galaxy stage's
`ansible-galaxy collection install -r requirements.yml` from the context, and the
builder stage's `introspect.py introspect --write-pip --write-bindep` (the copy in
the context), which reads the collection's meta/execution-environment.yml. What
that writes is what the image's pip and bindep steps install.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml
from bindep.depends import Depends

from tests.conftest import ROOT, env_without_ansible

BIN = pathlib.Path(sys.executable).parent
EXAMPLE = ROOT / "docs" / "examples" / "execution-environment.yml"
COLLECTION = "exchange.transport_tls"
FROM = f"  # from collection {COLLECTION}"


def run(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    # The checkout's ansible.cfg (collections path = the checkout) must not apply.
    env = env_without_ansible()
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{args}\n{proc.stdout}\n{proc.stderr}"
    return proc


def requirement_lines(path: pathlib.Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """The example's directory with the collection tarball, its `create` context, and the replayed build steps."""
    work = tmp_path_factory.mktemp("ee")
    shutil.copy(EXAMPLE, work / EXAMPLE.name)
    run(str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(work), str(ROOT), cwd=work)
    (tarball,) = work.glob("exchange-transport_tls-*.tar.gz")
    run(str(BIN / "ansible-builder"), "create", "-f", EXAMPLE.name, "-c", "context",
        "--output-filename", "Containerfile", cwd=work)
    context = work / "context"
    # Galaxy stage: WORKDIR /build (the context's _build), install into /usr/share/ansible/collections.
    # --force: the venv sees the checkout as an installed exchange.transport_tls
    # (tools/link_collection.py), which an image's empty galaxy stage does not.
    share = work / "usr-share-ansible"
    run(str(BIN / "ansible-galaxy"), "collection", "install", "--force", "-r", "requirements.yml",
        "--collections-path", str(share / "collections"), cwd=context / "_build")
    # Builder stage: the context's own introspect.py on what the galaxy stage installed.
    out = work / "tmp-src"
    introspect = run(sys.executable, str(context / "_build" / "scripts" / "introspect.py"), "introspect",
                     f"--write-bindep={out / 'bindep.txt'}", f"--write-pip={out / 'requirements.txt'}",
                     str(share / "collections"), cwd=work)
    return {"work": work, "tarball": tarball, "context": context, "share": share, "out": out,
            "introspect": yaml.safe_load(introspect.stdout)}


def test_the_readme_shows_the_tested_example_verbatim():
    readme = (ROOT / "README.md").read_text()
    assert "## Execution environments" in readme
    assert f"```yaml\n{EXAMPLE.read_text()}```" in readme, "README.md must show docs/examples/execution-environment.yml as is"


def test_the_example_names_the_tarball_of_this_version():
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    ee = yaml.safe_load(EXAMPLE.read_text())
    tarball = f"exchange-transport_tls-{version}.tar.gz"
    assert ee["version"] == 3
    assert ee["additional_build_files"] == [{"src": tarball, "dest": "collections"}], \
        "update docs/examples/execution-environment.yml (and the README) to galaxy.yml's version"
    assert ee["dependencies"]["galaxy"]["collections"] == [{"name": f"collections/{tarball}", "type": "file"}]


def test_the_collection_declares_its_ee_dependencies_in_meta():
    meta = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    assert meta == {"version": 1, "dependencies": {"python": "requirements.txt", "system": "bindep.txt"}}
    python = requirement_lines(ROOT / "requirements.txt")
    # jmespath: the connector_scope filter (role connector_tls's connector_tls_scope).
    assert python == ["pywinrm[kerberos,credssp]>=0.5.0", "pypsrp>=0.8.1", "cryptography>=41.0", "jmespath>=1.0"]


@pytest.mark.parametrize(
    "profiles, packages",
    [
        (["platform:rpm"], {"krb5-libs", "krb5-workstation"}),
        (["platform:rpm", "compile"], {"gcc", "python3-devel", "krb5-devel", "krb5-libs", "krb5-workstation"}),
        (["platform:dpkg"], {"libkrb5-3", "libgssapi-krb5-2", "krb5-user"}),
        (["platform:dpkg", "compile"], {"gcc", "python3-dev", "libkrb5-dev", "libkrb5-3", "libgssapi-krb5-2", "krb5-user"}),
    ],
)
def test_bindep_selects_the_kerberos_packages_per_platform_and_profile(profiles, packages):
    """The builder stage installs the `compile` profile (`bindep -b compile`), the final image the default one."""
    rules = Depends((ROOT / "bindep.txt").read_text()).active_rules(profiles)
    assert {rule[0] for rule in rules} == packages


def test_every_dependency_says_why():
    """Each block of requirement lines follows a comment that gives the reason."""
    for name in ("requirements.txt", "bindep.txt"):
        commented = False
        for number, line in enumerate((ROOT / name).read_text().splitlines(), 1):
            if not line.strip():
                commented = False
            elif line.startswith("#"):
                commented = True
            else:
                assert commented, f"{name}:{number}: {line!r} has no comment above it"


def test_create_writes_a_context_that_installs_the_tarball_and_introspects_it(built):
    context, tarball = built["context"], built["tarball"]
    assert (context / "_build" / "collections" / tarball.name).read_bytes() == tarball.read_bytes()
    assert yaml.safe_load((context / "_build" / "requirements.yml").read_text()) == {
        "collections": [{"name": f"collections/{tarball.name}", "type": "file"}]
    }
    containerfile = (context / "Containerfile").read_text()
    assert "COPY _build /build\nWORKDIR /build\n" in containerfile
    assert ('ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml '
            '--collections-path "/usr/share/ansible/collections"') in containerfile
    assert ("RUN $PYCMD /output/scripts/introspect.py introspect "
            "--write-bindep=/tmp/src/bindep.txt --write-pip=/tmp/src/requirements.txt") in containerfile
    assert "RUN /output/scripts/assemble" in containerfile and "RUN /output/scripts/install-from-bindep" in containerfile
    installed = built["share"] / "collections" / "ansible_collections" / "exchange" / "transport_tls"
    assert (installed / "meta" / "execution-environment.yml").is_file()


def test_the_build_introspects_the_collections_python_and_system_requirements(built):
    out = built["out"]
    python = [line for line in out.joinpath("requirements.txt").read_text().splitlines() if line]
    assert python == [line + FROM for line in ("pywinrm[kerberos,credssp]>=0.5.0", "pypsrp>=0.8.1", "cryptography>=41.0", "jmespath>=1.0")]
    system = [line for line in out.joinpath("bindep.txt").read_text().splitlines() if line]
    assert system == [line + FROM for line in requirement_lines(ROOT / "bindep.txt")]
    assert "gcc [compile platform:rpm platform:dpkg]" + FROM in system
    assert "krb5-devel [compile platform:rpm]" + FROM in system and "krb5-workstation [platform:rpm]" + FROM in system
    assert "libkrb5-dev [compile platform:dpkg]" + FROM in system and "krb5-user [platform:dpkg]" + FROM in system
    assert built["introspect"]["python"] == python and built["introspect"]["system"] == system
