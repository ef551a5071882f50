# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""expiring_days: one check (findings.expiring_days_problem) for the four modules' option, the role variable and analyze()."""

import pytest

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import findings
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._role import role_preflight
from ..facts_factories import server_facts


@pytest.mark.parametrize("days", [0, 30, 3650])
def test_the_range_is_accepted(days):
    assert findings.expiring_days_problem(days) is None
    assert role_preflight.preflight([], expiring_days=days) == []
    findings.analyze(server_facts(), expiring_days=days)


@pytest.mark.parametrize("days", [-1, 3651, 10 ** 9, True, 1.5, "30", None])
def test_anything_else_is_refused_in_one_wording(days):
    expected = f"expiring_days must be between 0 and 3650, got {days!r}; it is a whole number of days"
    assert findings.expiring_days_problem(days) == expected
    with pytest.raises(ValueError) as raised:
        findings.analyze(server_facts(), expiring_days=days)
    assert str(raised.value) == expected


def test_the_role_names_its_own_variable():
    assert role_preflight.preflight([], expiring_days=4000) == [
        "connector_tls_expiring_days must be between 0 and 3650, got 4000; it is a whole number of days"]
