# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""converge.shown and converge.sentence: the one spelling of values and Exchange's errors in converge, rollback and the action."""

import pytest

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import converge, rollback
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import converge_action


@pytest.mark.parametrize("value, text", [(None, "null"), ("", "''"), ("<I>CN=R11<S>CN=mail", "'<I>CN=R11<S>CN=mail'"), (0, "'0'")])
def test_shown(value, text):
    assert converge.shown(value) == text


@pytest.mark.parametrize("raw, text", [
    ("Access is denied", "Access is denied."),
    ("The operation timed out.", "The operation timed out."),
    ("  Cannot find the object\r\n    At line:1 char:1  ", "Cannot find the object At line:1 char:1."),
    ("Really?", "Really?"),
])
def test_sentence(raw, text):
    assert converge.sentence(raw) == text


def test_the_modules_use_the_shared_words():
    # No private copy left to drift: rollback and the converging action read errors with the same function.
    assert rollback.sentence is converge.sentence and rollback.shown is converge.shown
    assert converge_action.sentence is converge.sentence
    assert not hasattr(rollback, "_shown") and not hasattr(rollback, "_sentence") and not hasattr(converge_action, "_sentence")
