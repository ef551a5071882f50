# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/thumbprint.py: the one rule for a thumbprint, and every option that takes one follows it."""

import pytest

from ansible_collections.exchange.transport_tls.plugins.module_utils import smtp_probe
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import PlanError
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import parse_thumbprint as converge_thumbprint
from ansible_collections.exchange.transport_tls.plugins.module_utils.thumbprint import (
    EXAMPLE,
    ThumbprintError,
    is_thumbprint,
    parse_thumbprint,
)

THUMB = "5B2F8C1E9A0D4E7F6A3B2C1D0E9F8A7B6C5D4E3F"
PASTED = {
    "exchange": THUMB,
    "lower": THUMB.lower(),
    "certlm pairs with mark": "\u200e" + " ".join(THUMB[i:i + 2] for i in range(0, 40, 2)).lower(),
    "openssl colons": ":".join(THUMB[i:i + 2] for i in range(0, 40, 2)),
    "colons and spaces": ": ".join(THUMB[i:i + 2] for i in range(0, 40, 2)),
    "padded, tab, newline": f"  {THUMB[:20]}\t{THUMB[20:]}\n",
    "byte order mark": "\ufeff" + THUMB,
}
NOT_THUMBPRINTS = {
    "39 digits": THUMB[:39], "41 digits": THUMB + "A", "not hex": THUMB[:39] + "G", "dash": THUMB[:38] + "-A",
    "0x prefix": "0x" + THUMB[:38], "empty": "", "auto": "auto", "none": None, "integer": 12345, "list": [THUMB],
    "sha-256 length": "AB" * 32,
}


@pytest.mark.parametrize("typed", PASTED.values(), ids=PASTED.keys())
def test_every_option_takes_every_pasted_form(typed):
    assert parse_thumbprint(typed, "certificate") == THUMB
    # receive_connector_tls and send_connector_tls take it through converge, smtp_tls_probe through its checks:
    # today's bug was that these two disagreed on "AB:CD:...".
    assert converge_thumbprint(typed) == THUMB
    params = dict(host="mail.contoso.com", port=25, timeout=5, helo_name=None, expect_thumbprint=typed, wait_timeout=0,
                  delay=5, seen_as=None)
    assert smtp_probe.options_problem(params) is None
    assert params["expect_thumbprint"] == THUMB


@pytest.mark.parametrize("typed", NOT_THUMBPRINTS.values(), ids=NOT_THUMBPRINTS.keys())
def test_anything_else_is_refused_naming_the_option_and_an_example(typed):
    with pytest.raises(ThumbprintError) as raised:
        parse_thumbprint(typed, "expect_thumbprint")
    message = str(raised.value)
    assert message.startswith("expect_thumbprint must be a certificate thumbprint: 40 hexadecimal digits")
    assert repr(EXAMPLE) in message and repr(typed) in message
    with pytest.raises(PlanError, match=r"^new_certificate must be 'auto' or a certificate thumbprint: 40 hexadecimal"):
        converge_thumbprint(typed, option="new_certificate")


def test_the_example_in_the_message_is_itself_valid():
    assert parse_thumbprint(EXAMPLE, "x") == EXAMPLE
    assert parse_thumbprint(":".join(EXAMPLE[i:i + 2] for i in range(0, 40, 2)), "x") == EXAMPLE


@pytest.mark.parametrize("value, expected", [
    (THUMB, True), (THUMB.lower(), True), (" " + THUMB, False), (PASTED["openssl colons"], False), (None, False), (THUMB[:39], False),
])
def test_is_thumbprint_takes_only_the_form_the_collection_writes(value, expected):
    # changes.json holds thumbprints the collection wrote: a separator there means the file was edited.
    assert is_thumbprint(value) is expected
