# Copyright: (c) 2026, exchange.transport_tls contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tools/rehome.py: the rewriting of imports and paths for the move of issue 21 (the move itself runs once on main)."""

import importlib.util
import pathlib

import pytest

_SPEC = importlib.util.spec_from_file_location("rehome", pathlib.Path(__file__).resolve().parents[2] / "tools" / "rehome.py")
rehome = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(rehome)

C = rehome.COLLECTION
TABLE = {(old_dir, name): room for old_dir, name, room in rehome.moves()}


@pytest.mark.parametrize("before, after", [
    (f"from {C}.module_utils.converge import PlanError\n", f"from {C}.plugin_utils._converge.converge import PlanError\n"),
    (f"import {C}.module_utils.tls_name as tn\n", f"import {C}.plugin_utils._facts.tls_name as tn\n"),
    (f"mock.patch('{C}.plugin_utils.exchange_action.run')\n", f"mock.patch('{C}.plugin_utils._payload.exchange_action.run')\n"),
    # x500 stays, tls_name moves: one statement per package.
    (f"from {C}.module_utils import tls_name, x500  # why\n",
     f"from {C}.module_utils import x500  # why\nfrom {C}.plugin_utils._facts import tls_name\n"),
    (f"    from {C}.module_utils import (\n        findings as f,\n        report,\n    )\n",
     f"    from {C}.plugin_utils._facts import findings as f\n    from {C}.plugin_utils._report import report\n"),
    (f"from {C}.module_utils import x500\n", f"from {C}.module_utils import x500\n"),
    ("see plugins/module_utils/receive_plan.py and module_utils/restart.py\n",
     "see plugins/plugin_utils/_converge/receive_plan.py and plugin_utils/_converge/restart.py\n"),
    ("(module_utils/receive_selection) and plugin_utils/role_preflight.py\n",
     "(plugin_utils/_facts/receive_selection) and plugin_utils/_role/role_preflight.py\n"),
    # report_html is its own module, not report followed by text.
    ("module_utils/report_html.py\n", "plugin_utils/_report/report_html.py\n"),
    ("plugins/module_utils/x500.py stays\n", "plugins/module_utils/x500.py stays\n"),
])
def test_rewrites_and_is_idempotent(before, after):
    assert rehome.rewrite_text(before, TABLE) == after
    assert rehome.rewrite_text(after, TABLE) == after
    assert rehome.leftovers(after, TABLE) == []


def test_relative_imports_of_a_moved_file_become_absolute():
    text = "from .tls_name import parse\nfrom .x500 import render\n"
    assert rehome.rewrite_text(text, TABLE, relative_dir="module_utils") == (
        f"from {C}.plugin_utils._facts.tls_name import parse\nfrom {C}.module_utils.x500 import render\n")


def test_what_it_cannot_rewrite_is_listed():
    assert rehome.leftovers("module_utils/{converge,x500}.py\n", TABLE) == ["module_utils/{converge,x500}"]
