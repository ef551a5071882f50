"""tools/module_doc_sidecar.py, the recipe that moves a module's documentation strings into its sidecar.

Modules written in the old style (DOCUMENTATION/EXAMPLES/RETURN in plugins/modules/NAME.py) are
converted with it; what ansible-doc shows must not change, and a file it cannot convert is left alone.
"""

from __future__ import annotations

import importlib.util
import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "module_doc_sidecar.py"
# ansible-test units runs on a copy without tools/ (tools/run_ansible_test.py); make test runs this.
pytestmark = pytest.mark.skipif(not TOOL.exists(), reason="tools/ is not in ansible-test's copy")

HEADER = """\
# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""
DOCUMENTATION = '''r"""
---
module: NAME
short_description: Do a thing
version_added: 0.2.0
description:
  - "Keeps: its quoting, and C(markup)."
  - >-
    A folded
    paragraph.
options:
  name:
    description: The name.  # a comment the sidecar keeps
    type: str
    required: true
"""'''
EXAMPLES = '''r"""
- name: Do the thing
  exchange.transport_tls.NAME:
    name: x
"""'''
RETURN = '''r"""
value:
  description: |
    A literal
    block.
  returned: always
  type: str
  sample: "a: b"
"""'''


def stub_source(name: str, code: str = "") -> str:
    body = f"DOCUMENTATION = {DOCUMENTATION}\n\nEXAMPLES = {EXAMPLES}\n\nRETURN = {RETURN}\n".replace("NAME", name)
    return HEADER + "\n" + body + code


@pytest.fixture(name="tool")
def fixture_tool(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("module_doc_sidecar", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "MODULES", tmp_path)
    return module


def strings_of(path: pathlib.Path) -> dict:
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # pylint: disable=exec-used
    return namespace


def test_an_action_stub_becomes_a_sidecar_with_the_same_documentation_and_a_comment_only_stub(tool, tmp_path):
    (tmp_path / "thing.py").write_text(stub_source("thing"))
    before = strings_of(tmp_path / "thing.py")
    assert tool.main(["thing"]) == 0
    sidecar = yaml.safe_load((tmp_path / "thing.yml").read_text())
    assert sidecar["DOCUMENTATION"] == yaml.safe_load(before["DOCUMENTATION"])
    assert sidecar["RETURN"] == yaml.safe_load(before["RETURN"])
    assert sidecar["EXAMPLES"].strip() == before["EXAMPLES"].strip()
    assert "# a comment the sidecar keeps" in (tmp_path / "thing.yml").read_text()
    stub = (tmp_path / "thing.py").read_text().splitlines()
    assert all(not line.strip() or line.startswith("#") for line in stub)
    assert "plugins/action/thing.py" in "\n".join(stub)


def test_the_stub_of_a_powershell_module_is_removed(tool, tmp_path):
    (tmp_path / "thing.py").write_text(stub_source("thing"))
    (tmp_path / "thing.ps1").write_text("#!powershell\n")
    assert tool.main(["thing"]) == 0
    assert not (tmp_path / "thing.py").exists()
    assert yaml.safe_load((tmp_path / "thing.yml").read_text())["DOCUMENTATION"]["module"] == "thing"


def test_a_python_module_keeps_its_code(tool, tmp_path):
    code = "\nfrom __future__ import annotations\n\nimport sys\n\n\ndef main():\n    sys.exit(0)\n"
    (tmp_path / "thing.py").write_text(stub_source("thing", code))
    assert tool.main(["thing"]) == 0
    left = (tmp_path / "thing.py").read_text()
    assert "DOCUMENTATION" not in left and "RETURN" not in left
    assert "def main():" in left and left.startswith(HEADER)
    compile(left, "thing.py", "exec")


def test_force_converts_again_over_an_existing_sidecar(tool, tmp_path):
    """A merge that brings an old-style .py with new documentation: its strings replace the sidecar."""
    (tmp_path / "thing.py").write_text(stub_source("thing").replace("Do a thing", "Do a better thing"))
    (tmp_path / "thing.yml").write_text("DOCUMENTATION: {module: thing, short_description: old}\n")
    assert tool.main(["--force", "thing"]) == 0
    assert yaml.safe_load((tmp_path / "thing.yml").read_text())["DOCUMENTATION"]["short_description"] == "Do a better thing"


@pytest.mark.parametrize("case", ["no RETURN", "sidecar exists", "no such module"])
def test_what_it_cannot_convert_is_named_and_left_unchanged(tool, tmp_path, capsys, case):
    source = stub_source("thing")
    if case == "no RETURN":
        source = source[:source.index("RETURN =")]
    (tmp_path / "thing.py").write_text(source)
    if case == "sidecar exists":
        (tmp_path / "thing.yml").write_text("DOCUMENTATION: {}\n")
    name = "other" if case == "no such module" else "thing"
    files = {p.name: p.read_text() for p in tmp_path.iterdir()}
    assert tool.main([name]) == 1
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == files
    err = capsys.readouterr().err
    assert err.startswith("error: ") and {"no RETURN": "no RETURN", "sidecar exists": "exists already",
                                          "no such module": "modules: thing"}[case] in err, err
