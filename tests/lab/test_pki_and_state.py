"""Minted certificates render back exactly and deterministically; a saved state is a scenario."""

from __future__ import annotations

import datetime as dt
import hashlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.exchange.transport_tls.plugins.module_utils import x500
from exchange_lab.model import Organization
from exchange_lab.pki import MintError, Minter
from exchange_lab.scenario import dump_state, load_scenario, load_scenario_text
from exchange_lab.server import state_of

from tests.conftest import SCENARIOS

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
END = dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)
MINTER = Minter()

# Values with everything that forces quoting or escaping in the .NET form.
value_text = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 ,+=\"'#<>;.-_") + ["é", "ß", "Ж", "中", "\u2002"]),
    min_size=1,
    max_size=12,
)
keys = st.sampled_from(["2.5.4.10", "2.5.4.11", "2.5.4.7", "2.5.4.8", "2.5.4.3"])


@st.composite
def subjects(draw) -> str:
    # CN first, like real subjects; multi-valued RDNs are left to test_x500 (cryptography sorts their SET).
    cn = draw(st.from_regex(r"[a-z]{1,8}\.(contoso|example)\.com", fullmatch=True))
    rest = draw(st.lists(st.tuples(keys, value_text), max_size=4))
    rdns = [[(oid, value)] for oid, value in reversed(rest)] + [[("2.5.4.3", cn)]]
    return x500.render_name(x500.encode_name(rdns, reverse=False), reverse=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=subjects(), issuer=subjects())
def test_a_minted_certificate_renders_back_to_exactly_the_strings_given(subject, issuer):
    try:
        minted = MINTER.mint(subject=subject, issuer=issuer, self_signed=False, domains=[], not_before=START, not_after=END)
    except MintError:
        # Only when Windows itself would print the name differently from how it was written.
        assert x500.render_name(x500.encode_name(x500.parse_name(subject))) != subject or x500.render_name(
            x500.encode_name(x500.parse_name(issuer))
        ) != issuer
        return
    issuer_der, subject_der = x500.certificate_names(minted.der)
    assert (x500.render_name(subject_der), x500.render_name(issuer_der)) == (subject, issuer)
    assert minted.thumbprint == hashlib.sha1(minted.der).hexdigest().upper()


def test_minting_is_deterministic_and_content_addressed():
    args = dict(subject="CN=mail.contoso.com", issuer="CN=R11, O=Let's Encrypt, C=US", self_signed=False,
                domains=["mail.contoso.com"], not_before=START, not_after=END)
    first, again = Minter().mint(**args), Minter().mint(**args)
    assert first.der == again.der and first.thumbprint == again.thumbprint
    renewed = Minter().mint(**{**args, "issuer": "CN=R12, O=Let's Encrypt, C=US"})
    assert renewed.thumbprint != first.thumbprint


def test_a_subject_windows_would_print_differently_is_refused_with_the_windows_form():
    try:
        MINTER.mint(subject="CN=mail.contoso.com,O=Contoso", issuer=None, self_signed=True, domains=[], not_before=START, not_after=END)
    except MintError as exc:
        assert "'CN=mail.contoso.com, O=Contoso'" in str(exc)
    else:
        raise AssertionError("a subject without Windows' spacing was minted")


def test_a_saved_state_loads_again_as_a_scenario_with_the_same_thumbprints():
    for path in sorted(SCENARIOS.glob("*.yml")):
        scenario = load_scenario(path)
        org = Organization(scenario)
        text = dump_state(state_of(org, scenario))
        reloaded = load_scenario_text(text, f"state of {path.name}")
        again = Organization(reloaded)  # checks every saved thumbprint against the re-minted one
        for name, server in org.servers.items():
            assert [c.thumbprint for c in server.certificates] == [c.thumbprint for c in again.servers[name].certificates]
            assert [rc.tls_certificate_name for rc in server.receive_connectors] == [
                rc.tls_certificate_name for rc in again.servers[name].receive_connectors
            ]
        # Loading starts transport again, which logs its start-up events again, as a restart would.
        assert _without_events(state_of(again, reloaded)) == _without_events(state_of(org, scenario)), path.name


def _without_events(state: dict) -> dict:
    state = dict(state, now=None)
    state["servers"] = [dict(s, events=len(s["events"]) > 0) for s in state["servers"]]
    return state
