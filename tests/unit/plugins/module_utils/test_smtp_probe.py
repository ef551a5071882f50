# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for module_utils/smtp_probe.py: what a sending server sees on an SMTP port.

Two kinds of server: the lab's Exchange-like listeners (running_lab), for what
Exchange presents in the demo scenarios; and a scripted server in a thread
(FakeSmtp), for what the lab never does (drop the connection, greet with
something else than 220, refuse EHLO) and to record every command the probe
sends.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
import ssl
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.exchange.transport_tls.plugins.module_utils import smtp_probe
from ansible_collections.exchange.transport_tls.plugins.module_utils.thumbprint import parse_thumbprint
from ansible_collections.exchange.transport_tls.plugins.module_utils.smtp_probe import ProbeError, probe
from ansible_collections.exchange.transport_tls.plugins.modules import smtp_tls_probe as module

from ....conftest import SCENARIOS, starttls

HOST = "127.0.0.1"
HELO = "probe.example.net"
RESULT_KEYS = {
    "host", "port", "connected", "banner", "starttls_offered", "tls_established", "tls_version", "cipher", "error",
    "source_address",
    "thumbprint", "subject", "issuer", "domains", "not_before", "not_after", "serial_number",
    "elapsed", "attempts", "matched",
}


# ----------------------------------------------------------------- certificates
class Leaf:
    """A self-signed certificate and the server context that presents it."""

    def __init__(self, tmp_path, cn: str, *, serial: int, org: str = "Fabrikam, Inc.") -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ])
        self.cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(dt.datetime(2026, 1, 2, 3, 4, 5))
            .not_valid_after(dt.datetime(2027, 1, 2, 3, 4, 5))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn), x509.DNSName("autodiscover.fabrikam.com")]), critical=False)
            .sign(key, hashes.SHA256())
        )
        der = self.cert.public_bytes(serialization.Encoding.DER)
        self.thumbprint = hashlib.sha1(der).hexdigest().upper()
        cert_path, key_path = tmp_path / f"{serial}.crt", tmp_path / f"{serial}.key"
        cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert_path), str(key_path))


@pytest.fixture
def leaves(tmp_path):
    # Serials with the high bit set: Windows prints the DER's leading 00.
    return [Leaf(tmp_path, "smtp.fabrikam.com", serial=0x80A1B2C3 + i) for i in range(3)]


# ------------------------------------------------------------------ fake server
class FakeSmtp:
    """A scripted SMTP server: one connection at a time, every command line recorded.

    ``script`` holds one dict per connection (the last repeats): ``banner``
    (bytes, or None to close at once, or "silent" to say nothing), ``ehlo``
    (the reply, default 250 with STARTTLS when ``tls`` is set), ``tls`` (a Leaf)
    and ``drop`` (a verb at which the connection is closed without a reply).
    """

    def __init__(self, *script: dict) -> None:
        self.script = list(script) or [{}]
        self.commands: list[list[str]] = []
        self.listener = socket.create_server((HOST, 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn = self.listener.accept()[0]
            except socket.timeout:
                continue
            step = self.script[min(len(self.commands), len(self.script) - 1)]
            self.commands.append([])
            conn.settimeout(5)
            try:
                self._session(conn, step, self.commands[-1])
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    def _session(self, conn, step: dict, seen: list[str]) -> None:
        banner = step.get("banner", b"220 smtp.fabrikam.com ESMTP\r\n")
        if banner is None:
            return
        if banner == "silent":
            self.stopping.wait(3)
            return
        conn.sendall(banner)
        tls = step.get("tls")
        reader = conn.makefile("rb")
        while True:
            line = reader.readline()
            if not line:
                return
            command = line.rstrip(b"\r\n").decode()
            seen.append(command)
            verb = command.split(" ", 1)[0].upper()
            if verb == step.get("drop"):
                return
            if verb == "EHLO":
                offer = b"250-STARTTLS\r\n" if tls is not None and not isinstance(conn, ssl.SSLSocket) else b""
                conn.sendall(step.get("ehlo", b"250-smtp.fabrikam.com Hello\r\n250-SIZE 37748736\r\n" + offer + b"250 8BITMIME\r\n"))
            elif verb == "STARTTLS":
                conn.sendall(step.get("starttls", b"220 2.0.0 SMTP server ready\r\n"))
                if not step.get("starttls", b"220").startswith(b"220"):
                    continue
                reader.close()
                conn = tls.context.wrap_socket(conn, server_side=True)
                reader = conn.makefile("rb")
            elif verb == "QUIT":
                conn.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                conn.sendall(b"500 5.3.3 Unrecognized command\r\n")

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.listener.close()


@pytest.fixture
def fake():
    servers = []

    def start(*script: dict) -> FakeSmtp:
        servers.append(FakeSmtp(*script))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------- the lab's Exchange
# ansible-test units runs on a copy without the lab's scenarios (tools/run_ansible_test.py);
# `make test` runs these.
needs_lab = pytest.mark.skipif(not (SCENARIOS / "demo.yml").exists(), reason="the lab's scenarios are not in this copy")


@needs_lab
def test_demo_ex01_names_a_removed_certificate_so_no_starttls(running_lab):
    lab = running_lab(SCENARIOS / "demo.yml")
    result = probe(HOST, lab.smtp["EX01"].port, 5, HELO)
    assert set(result) == RESULT_KEYS
    assert result["connected"] and result["banner"].startswith("220 ex01.contoso.com Microsoft ESMTP MAIL Service ready at ")
    assert result["starttls_offered"] is False and result["tls_established"] is False
    assert result["error"] is None and result["matched"] is None and result["attempts"] == 1
    assert all(result[key] is None for key in smtp_probe.CERTIFICATE_KEYS + ("tls_version", "cipher"))
    assert starttls(HOST, lab.smtp["EX01"].port).offered is False
    # Where the probe left from: the lab sees 127.0.0.1, and so does Exchange's connector selection.
    assert result["source_address"] == "127.0.0.1"
    assert probe(HOST, lab.smtp["EX01"].port, 5, HELO, seen_as="192.0.2.10")["source_address"] == "192.0.2.10"


@needs_lab
def test_demo_ex02_presents_the_renewal_as_exchange_shows_it(running_lab):
    lab = running_lab(SCENARIOS / "demo.yml")
    cert = lab.org.server("EX02").certificate_by_id("le-r11")
    result = probe(HOST, lab.smtp["EX02"].port, 5, HELO)
    assert result["starttls_offered"] and result["tls_established"] and result["error"] is None
    assert result["thumbprint"] == cert.thumbprint == starttls(HOST, lab.smtp["EX02"].port).thumbprint
    assert result["subject"] == cert.subject == "CN=mail.contoso.com"
    assert result["issuer"] == cert.issuer == "CN=R11, O=Let's Encrypt, C=US"
    assert result["domains"] == cert.domains == ["mail.contoso.com", "autodiscover.contoso.com"]
    assert (result["not_before"], result["not_after"]) == ("2026-10-19T00:00:00Z", "2027-01-17T00:00:00Z")
    assert result["serial_number"] == cert.minted.serial_number
    # Exchange's SMTP stops at TLS 1.2 (TLS 1.3 is HTTPS-only in 2019 CU15 and SE); the lab's EC key gives ECDSA.
    assert result["tls_version"] == "TLSv1.2" and result["cipher"].startswith("ECDHE-ECDSA-")


@needs_lab
def test_a_certificate_without_smtp_fails_the_handshake_and_that_is_a_result(running_lab):
    lab = running_lab(SCENARIOS / "smtp-not-enabled.yml")
    result = probe(HOST, lab.smtp["EX01"].port, 5, HELO)
    assert result["starttls_offered"] is True and result["tls_established"] is False
    assert result["error"].startswith("TLS handshake failed: ") and "HANDSHAKE_FAILURE" in result["error"].upper()
    assert result["thumbprint"] is None
    assert starttls(HOST, lab.smtp["EX01"].port).error


# -------------------------------------------------------------- what is sent
def test_the_dialogue_is_ehlo_starttls_ehlo_quit_and_never_mail(fake, leaves):
    server = fake({"tls": leaves[0]})
    result = probe(HOST, server.port, 5, HELO)
    assert server.commands == [[f"EHLO {HELO}", "STARTTLS", f"EHLO {HELO}", "QUIT"]]
    assert result["thumbprint"] == leaves[0].thumbprint
    # .NET's form: the last RDN first, a value with a comma quoted.
    assert result["subject"] == result["issuer"] == 'CN=smtp.fabrikam.com, O="Fabrikam, Inc.", C=US'
    assert result["domains"] == ["smtp.fabrikam.com", "autodiscover.fabrikam.com"]
    assert (result["not_before"], result["not_after"]) == ("2026-01-02T03:04:05Z", "2027-01-02T03:04:05Z")
    assert result["serial_number"] == "0080A1B2C3"


def test_without_starttls_it_says_goodbye_at_once(fake):
    server = fake({})
    result = probe(HOST, server.port, 5, "[192.0.2.25]")
    assert server.commands == [["EHLO [192.0.2.25]", "QUIT"]]
    assert result["starttls_offered"] is False and result["banner"] == "220 smtp.fabrikam.com ESMTP"


def test_default_helo_name_is_this_hosts_fqdn_or_localhost(fake, monkeypatch):
    server = fake({})
    monkeypatch.setattr(socket, "getfqdn", lambda: "ansible01.contoso.com")
    probe(HOST, server.port, 5)
    monkeypatch.setattr(socket, "getfqdn", lambda: "container_7f3a")
    probe(HOST, server.port, 5)
    assert [c[0] for c in server.commands] == ["EHLO ansible01.contoso.com", "EHLO localhost"]


def test_serial_numbers_print_as_windows_does():
    assert [smtp_probe._serial_hex(n) for n in (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0x0102)] == [
        "00", "01", "7F", "0080", "00FF", "7FFF", "008000", "0102"]


# ------------------------------------------------------- answers, not failures
def test_starttls_refused_is_a_result(fake, leaves):
    server = fake({"tls": leaves[0], "starttls": b"454 4.7.0 TLS not available due to temporary reason\r\n"})
    result = probe(HOST, server.port, 5, HELO)
    assert result["starttls_offered"] and not result["tls_established"]
    assert result["error"] == "STARTTLS refused: 454 4.7.0 TLS not available due to temporary reason"
    assert server.commands == [[f"EHLO {HELO}", "STARTTLS", "QUIT"]]


def test_a_drop_after_starttls_is_a_result(fake, leaves):
    server = fake({"tls": leaves[0], "drop": "STARTTLS"})
    result = probe(HOST, server.port, 5, HELO)
    assert result["starttls_offered"] and not result["tls_established"]
    assert "closed the connection during STARTTLS" in result["error"]


# ------------------------------------------------------------------- failures
def test_connection_refused_names_host_port_and_what_to_check():
    port = closed_port()
    with pytest.raises(ProbeError) as info:
        probe(HOST, port, 2, HELO)
    message = str(info.value)
    assert message.startswith(f"Cannot connect to {HOST}:{port}: ") and "firewall" in message
    assert set(info.value.result) == RESULT_KEYS
    assert info.value.result["connected"] is False and info.value.result["error"] == message


@pytest.mark.parametrize(
    "script, expected",
    [
        ({"banner": None}, "closed the connection while waiting for the banner"),
        ({"banner": b"554 5.7.1 Service unavailable; client host blocked\r\n"},
         "answered 554 5.7.1 Service unavailable; client host blocked instead of a 220 SMTP banner"),
        ({"banner": b"HTTP/1.1 400 Bad Request\r\n"}, "answered HTTP/1.1 400 Bad Request instead of a 220 SMTP banner"),
        ({"ehlo": b"550-5.7.1 EHLO refused\r\n550 5.7.1 go away\r\n"}, "refused EHLO probe.example.net: 550-5.7.1 EHLO refused / 550 5.7.1 go away."),
        ({"drop": "EHLO"}, "closed the connection while waiting for EHLO"),
    ],
    ids=["drop-before-banner", "554-banner", "not-smtp", "ehlo-refused", "drop-at-ehlo"],
)
def test_a_broken_dialogue_fails_with_a_clear_message(fake, script, expected):
    server = fake(script)
    with pytest.raises(ProbeError) as info:
        probe(HOST, server.port, 5, HELO)
    assert str(info.value).startswith(f"{HOST}:{server.port} ")
    assert expected in str(info.value)
    assert info.value.result["connected"] is True and info.value.result["tls_established"] is False


def test_a_silent_port_times_out(fake):
    server = fake({"banner": "silent"})
    start = time.monotonic()
    with pytest.raises(ProbeError) as info:
        probe(HOST, server.port, 0.5, HELO)
    assert time.monotonic() - start < 2.5
    assert "failed (timed out) while waiting for the banner" in str(info.value)


def test_a_peer_that_drips_bytes_cannot_hold_the_probe_past_its_timeout():
    # One byte of a banner that never ends, every 0.2 s: each read would be within a per-read timeout, so only a
    # deadline for the whole attempt ends it (reliability review F10: a 3 s probe was held 23 s).
    stop = threading.Event()
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen(1)

        def drip():
            conn, _addr = listener.accept()
            with conn:
                while not stop.is_set():
                    try:
                        conn.sendall(b"2")
                    except OSError:
                        return
                    time.sleep(0.2)

        thread = threading.Thread(target=drip, daemon=True)
        thread.start()
        start = time.monotonic()
        try:
            with pytest.raises(ProbeError) as info:
                probe(HOST, listener.getsockname()[1], 1, HELO)
        finally:
            stop.set()
        elapsed = time.monotonic() - start
    thread.join(5)
    assert elapsed < 2, elapsed
    assert "failed (timed out) while waiting for the banner" in str(info.value)


# -------------------------------------------------------------------- waiting
def test_waits_until_the_expected_certificate_is_presented(fake, leaves):
    server = fake({"tls": leaves[0]}, {"tls": leaves[0]}, {"tls": leaves[1]})
    result = probe(HOST, server.port, 5, HELO, expect_thumbprint=leaves[1].thumbprint, wait_timeout=2.5, delay=0.1)
    assert result["matched"] is True and result["attempts"] == 3 and result["thumbprint"] == leaves[1].thumbprint
    assert 0.2 <= result["elapsed"] < 2.5


def test_a_port_that_comes_back_is_waited_for(fake, leaves):
    server = fake({"banner": None}, {"tls": leaves[1]})
    result = probe(HOST, server.port, 5, HELO, expect_thumbprint=leaves[1].thumbprint, wait_timeout=2, delay=0.1)
    assert result["matched"] is True and result["attempts"] == 2


def test_waiting_ends_with_matched_false(fake, leaves):
    server = fake({"tls": leaves[0]})
    result = probe(HOST, server.port, 5, HELO, expect_thumbprint=leaves[2].thumbprint, wait_timeout=1, delay=0.3)
    assert result["matched"] is False and result["thumbprint"] == leaves[0].thumbprint
    assert 1 <= result["elapsed"] < 2.5 and 3 <= result["attempts"] <= 6


def test_waiting_on_a_dead_port_fails_with_the_last_error():
    with pytest.raises(ProbeError) as info:
        probe(HOST, closed_port(), 1, HELO, expect_thumbprint="0" * 40, wait_timeout=1, delay=0.4)
    assert "Cannot connect" in str(info.value)
    assert info.value.result["attempts"] >= 3 and info.value.result["matched"] is False


def test_without_expect_thumbprint_there_is_no_waiting(fake, leaves):
    server = fake({"tls": leaves[0]})
    result = probe(HOST, server.port, 5, HELO, wait_timeout=5, delay=0.1)
    assert result["attempts"] == 1 and result["matched"] is None
    result = probe(HOST, server.port, 5, HELO, expect_thumbprint=leaves[0].thumbprint)
    assert result["attempts"] == 1 and result["matched"] is True


# ----------------------------------------------------------------- options
THUMB = "5B2F8C1E9A0D4E7F6A3B2C1D0E9F8A7B6C5D4E3F"


@pytest.mark.parametrize(
    "pasted",
    [
        THUMB,
        THUMB.lower(),
        "\u200e5b 2f 8c 1e 9a 0d 4e 7f 6a 3b 2c 1d 0e 9f 8a 7b 6c 5d 4e 3f",  # the Windows certificate dialog
        "5B:2F:8C:1E:9A:0D:4E:7F:6A:3B:2C:1D:0E:9F:8A:7B:6C:5D:4E:3F",
        "\ufeff" + THUMB + "\u200f\n",
        "5b2f8c1e\u00a09a0d4e7f\t6a3b2c1d0e9f8a7b6c5d4e3f",
    ],
    ids=["exchange", "lower", "certmgr", "colons", "bom-rlm", "nbsp-tab"],
)
def test_thumbprints_are_normalised_as_pasted_from_windows(pasted):
    assert parse_thumbprint(pasted, "expect_thumbprint") == THUMB


@pytest.mark.parametrize("bad", ["", THUMB[:-1], THUMB + "0", "G" + THUMB[1:], "5B-2F" + THUMB[4:]])
def test_a_bad_thumbprint_names_the_option(bad):
    with pytest.raises(ValueError, match=r"^expect_thumbprint must be a certificate thumbprint: 40 hexadecimal digits"):
        parse_thumbprint(bad, "expect_thumbprint")


@pytest.mark.parametrize("good", ["probe.example.net", "localhost", "EX01", "ex01.contoso.com.", "a-b.example",
                                  "[192.0.2.25]", "[IPv6:2001:db8::25]", "[ipv6:::1]", "x" * 63 + ".example"])
def test_plausible_helo_names(good):
    assert smtp_probe.check_helo_name(good) == good


@pytest.mark.parametrize("bad", ["", "bad name", "under_score.example", "-lead.example", "trail-.example", "x..y",
                                 "x" * 64 + ".example", "[300.1.1.1]", "[192.0.2.25", "[IPv6:zz::1]", "[2001:db8::25]",
                                 "mail.contoso.com\r\nMAIL FROM:<a@b>"])
def test_implausible_helo_names_name_the_option(bad):
    with pytest.raises(ValueError, match=r"^helo_name .* use this host's DNS name or an address literal$"):
        smtp_probe.check_helo_name(bad)


def test_probe_itself_refuses_a_helo_name_that_smuggles_a_command(fake):
    server = fake({})
    with pytest.raises(ValueError, match="^helo_name "):
        probe(HOST, server.port, 5, "x.example\r\nMAIL FROM:<a@example.com>")
    assert server.commands == []


def params(**overrides) -> dict:
    base = {"host": HOST, "port": 25, "timeout": 10.0, "helo_name": None, "expect_thumbprint": None,
            "wait_timeout": 0, "delay": 2.0}
    return {**base, **overrides}


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"port": 0}, "port must be between 1 and 65535, not 0"),
        ({"port": 65536}, "port must be between 1 and 65535, not 65536"),
        ({"timeout": 0.0}, "timeout must be a number of seconds greater than 0"),
        ({"delay": -1.0}, "delay must be a number of seconds greater than 0"),
        ({"wait_timeout": -1, "expect_thumbprint": THUMB}, "wait_timeout must be 0 (probe once) or a number of seconds"),
        ({"wait_timeout": 30}, "wait_timeout needs expect_thumbprint"),
        ({"helo_name": "bad name"}, "helo_name 'bad name' is not a host name"),
        ({"expect_thumbprint": "abc"}, "expect_thumbprint must be a certificate thumbprint"),
        ({"seen_as": "nat.contoso.com"}, "seen_as 'nat.contoso.com' is not an IP address (192.0.2.25 or 2001:db8::25)"),
    ],
)
def test_the_modules_option_checks_name_the_option(overrides, message):
    assert message in module.options_problem(params(**overrides))


def test_the_module_normalises_seen_as():
    values = params(seen_as=" 2001:DB8::0:10 ")
    assert module.options_problem(values) is None and values["seen_as"] == "2001:db8::10"


def test_the_module_normalises_the_thumbprint_it_passes_on():
    values = params(expect_thumbprint="5b:2f" + THUMB[4:].lower(), wait_timeout=10)
    assert module.options_problem(values) is None
    assert values["expect_thumbprint"] == THUMB


# ------------------------------------------------------------- the module itself
def run_module(capsys, args: dict) -> dict:
    from ansible.module_utils.testing import patch_module_args

    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


def test_the_module_reports_without_changing_in_check_mode(fake, leaves, capsys):
    server = fake({"tls": leaves[0]})
    result = run_module(capsys, {"host": HOST, "port": server.port, "expect_thumbprint": leaves[0].thumbprint.lower(),
                                 "_ansible_check_mode": True})
    assert result["changed"] is False and not result.get("failed")
    assert result["matched"] is True and result["thumbprint"] == leaves[0].thumbprint
    assert RESULT_KEYS <= set(result)


def test_the_module_fails_on_no_answer_with_every_key(capsys):
    port = closed_port()
    result = run_module(capsys, {"host": HOST, "port": port, "timeout": 2})
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith(f"Cannot connect to {HOST}:{port}: ") and RESULT_KEYS <= set(result)


def test_the_module_says_to_install_cryptography(capsys, monkeypatch):
    monkeypatch.setattr(module, "CRYPTOGRAPHY_IMPORT_ERROR", "Traceback: No module named 'cryptography'")
    result = run_module(capsys, {"host": HOST})
    assert result["failed"] is True and "cryptography" in result["msg"]
