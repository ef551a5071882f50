"""Tests for exchange_lab.smtp: the Exchange-like SMTP listener used by the TLS probe.

The server runs on an asyncio loop in a background thread (pytest-asyncio is
not used); the client side is the standard library's smtplib and ssl.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import hashlib
import os
import re
import smtplib
import socket
import ssl
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from exchange_lab.smtp import SmtpServer, SmtpSession, TlsOffer

FQDN = "mail.contoso.com"
HOST = "127.0.0.1"
TIMEOUT = 5


# --------------------------------------------------------------------------- PKI
def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class Pki:
    def __init__(self) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca = (
            x509.CertificateBuilder()
            .subject_name(_name("Contoso Lab CA"))
            .issuer_name(_name("Contoso Lab CA"))
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca_pem = _pem(self.ca)

    def leaf(self, cn: str = FQDN, days_ago: int = 1) -> tuple[TlsOffer, str]:
        """A TlsOffer for a fresh EC leaf and its SHA-1 thumbprint (upper-case hex)."""
        now = dt.datetime.now(dt.timezone.utc)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(self.ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=days_ago))
            .not_valid_after(now + dt.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )
        offer = TlsOffer(cert_chain_pem=_pem(cert) + self.ca_pem, key_pem=_key_pem(key))
        return offer, cert.fingerprint(hashes.SHA1()).hex().upper()


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


# ------------------------------------------------------------------ event loop
class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="smtp-test-loop")
        self.thread.start()

    def run(self, coro, timeout: float = TIMEOUT):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(TIMEOUT)
        self.loop.close()


@pytest.fixture(scope="module")
def loop_thread():
    lt = LoopThread()
    yield lt
    lt.close()


class FakeBackend:
    def __init__(self, offer: TlsOffer | None = None, require: bool = False,
                 fqdn: str = FQDN) -> None:
        self.offer = offer
        self.require = require
        self.fqdn = fqdn
        self.sessions: list[SmtpSession] = []

    def greeting_fqdn(self) -> str:
        return self.fqdn

    def tls_offer(self, session: SmtpSession) -> TlsOffer | None:
        self.sessions.append(session)
        return self.offer

    def require_tls(self) -> bool:
        return self.require


@pytest.fixture
def make_server(loop_thread):
    started: list[SmtpServer] = []

    def factory(backend: FakeBackend, **kwargs) -> SmtpServer:
        server = SmtpServer(backend, HOST, 0, **kwargs)
        loop_thread.run(server.start())
        started.append(server)
        return server

    yield factory
    for server in started:
        loop_thread.run(server.stop())


# --------------------------------------------------------------------- clients
def client_context(pki: Pki) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=pki.ca_pem.decode())
    ctx.check_hostname = False          # we dial 127.0.0.1; the chain is still verified
    return ctx


def smtp(server: SmtpServer) -> smtplib.SMTP:
    return smtplib.SMTP(HOST, server.port, local_hostname="probe.lab.test", timeout=TIMEOUT)


def thumbprint(conn: smtplib.SMTP) -> str:
    der = conn.sock.getpeercert(binary_form=True)
    return hashlib.sha1(der).hexdigest().upper()


def raw(server: SmtpServer) -> socket.socket:
    sock = socket.create_connection((HOST, server.port), timeout=TIMEOUT)
    return sock


def read_reply(sock, buf: bytearray) -> list[str]:
    """Read one (possibly multi-line) SMTP reply from a socket."""
    lines = []
    while True:
        while b"\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                raise EOFError(bytes(buf))
            buf += data
        line, _, rest = bytes(buf).partition(b"\r\n")
        buf[:] = rest
        lines.append(line.decode())
        if len(line) < 4 or line[3:4] != b"-":
            return lines


def assert_serving(server: SmtpServer) -> None:
    with smtp(server) as conn:
        assert conn.noop()[0] == 250
        assert conn.ehlo()[0] == 250


# ----------------------------------------------------------------------- tests
def test_banner_and_ehlo_without_offer(make_server):
    backend = FakeBackend(offer=None)
    server = make_server(backend)
    assert server.port > 0
    conn = smtplib.SMTP(timeout=TIMEOUT)
    code, msg = conn.connect(HOST, server.port)
    assert code == 220
    m = re.fullmatch(rf"{re.escape(FQDN)} Microsoft ESMTP MAIL Service ready at (.+)", msg.decode())
    assert m, msg
    when = email.utils.parsedate_to_datetime(m.group(1))
    assert abs((when - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 60

    code, msg = conn.ehlo("probe.lab.test")
    assert code == 250
    lines = msg.decode().split("\n")
    assert lines == [f"{FQDN} Hello [127.0.0.1]", "SIZE 37748736", "PIPELINING", "DSN",
                     "ENHANCEDSTATUSCODES", "8BITMIME", "BINARYMIME", "CHUNKING", "SMTPUTF8"]
    assert not conn.has_extn("starttls")
    assert conn.docmd("STARTTLS") == (500, b"5.3.3 Unrecognized command 'STARTTLS'")
    assert conn.helo("probe.lab.test") == (250, f"{FQDN} Hello [127.0.0.1]".encode())
    assert conn.docmd("EHLO") == (501, b"5.5.4 Invalid domain name")
    assert conn.docmd("HELO") == (501, b"5.5.4 Invalid domain name")
    assert conn.noop() == (250, b"2.0.0 OK")
    assert conn.rset() == (250, b"2.0.0 Resetting")
    assert conn.docmd("VRFY", "administrator") == (500, b"5.3.3 Unrecognized command 'VRFY'")
    assert conn.quit() == (221, b"2.0.0 Service closing transmission channel")
    assert len(backend.sessions) == 1
    assert backend.sessions[0].peer[0] == "127.0.0.1"


def test_starttls_presents_offered_leaf(make_server, pki):
    offer, thumb = pki.leaf()
    backend = FakeBackend(offer=offer)
    server = make_server(backend)
    with smtp(server) as conn:
        conn.ehlo()
        assert conn.has_extn("starttls")
        lines = conn.ehlo_resp.decode().split("\n")
        assert lines.index("STARTTLS") == lines.index("ENHANCEDSTATUSCODES") + 1
        code, msg = conn.starttls(context=client_context(pki))   # verifies the chain
        assert (code, msg) == (220, b"2.0.0 SMTP server ready")
        assert thumbprint(conn) == thumb
        assert conn.sock.getpeercert()["subject"] == ((("commonName", FQDN),),)
        # The session was reset: hello again, STARTTLS no longer offered.
        assert conn.mail("probe@lab.test") == (503, b"5.5.2 Send hello first")
        conn.ehlo()
        assert conn.has_extn("size") and not conn.has_extn("starttls")
        assert conn.docmd("STARTTLS") == (503, b"5.5.1 Bad sequence of commands")
        assert conn.mail("probe@lab.test") == (550, b"5.7.0 The lab does not accept mail")
        assert conn.rcpt("a@contoso.com") == (550, b"5.7.0 The lab does not accept mail")
        assert conn.docmd("DATA") == (550, b"5.7.0 The lab does not accept mail")
        assert conn.quit()[0] == 221
    assert len(backend.sessions) == 1      # the EHLO under TLS does not ask again


def test_unusable_certificate_fails_handshake_and_server_keeps_serving(make_server, pki):
    offer, _ = pki.leaf()
    offer.usable = False
    server = make_server(FakeBackend(offer=offer))
    for _ in range(2):
        conn = smtp(server)
        conn.ehlo()
        assert conn.has_extn("starttls")      # advertised all the same
        # smtplib only wraps the socket after a 220, so an SSLError here is a
        # failure of the handshake itself.
        with pytest.raises(ssl.SSLError) as info:
            conn.starttls(context=client_context(pki))
        assert "HANDSHAKE_FAILURE" in str(info.value).upper()
        conn.close()
    assert_serving(server)


def test_offer_is_asked_per_ehlo(make_server, pki):
    """A connector whose certificate gets fixed: the next connection shows it."""
    backend = FakeBackend(offer=None)
    server = make_server(backend)
    first, first_thumb = pki.leaf()
    second, second_thumb = pki.leaf(days_ago=0)
    assert first_thumb != second_thumb

    with smtp(server) as conn:
        conn.ehlo()
        assert not conn.has_extn("starttls")
        backend.offer = first
        conn.ehlo()                            # same connection, new EHLO, new answer
        assert conn.has_extn("starttls")
        backend.offer = None
        conn.ehlo()
        assert not conn.has_extn("starttls")
        assert conn.docmd("STARTTLS")[0] == 500
    assert len(backend.sessions) == 3

    for offer, thumb in ((first, first_thumb), (second, second_thumb), (first, first_thumb)):
        backend.offer = offer
        with smtp(server) as conn:
            conn.ehlo()
            conn.starttls(context=client_context(pki))
            assert thumbprint(conn) == thumb

    backend.offer = None
    with smtp(server) as conn:
        conn.ehlo()
        assert not conn.has_extn("starttls")


def test_require_tls(make_server, pki):
    offer, _ = pki.leaf()
    server = make_server(FakeBackend(offer=offer, require=True))
    with smtp(server) as conn:
        assert conn.mail("probe@lab.test") == (503, b"5.5.2 Send hello first")
        conn.ehlo()
        assert conn.mail("probe@lab.test") == (530, b"5.7.0 Must issue a STARTTLS command first")
        assert conn.docmd("BDAT", "0 LAST") == (530, b"5.7.0 Must issue a STARTTLS command first")
        conn.starttls(context=client_context(pki))
        conn.ehlo()
        assert conn.mail("probe@lab.test") == (550, b"5.7.0 The lab does not accept mail")


def test_quit_closes_connection(make_server):
    server = make_server(FakeBackend())
    sock = raw(server)
    buf = bytearray()
    assert read_reply(sock, buf)[0].startswith("220 ")
    sock.sendall(b"QUIT\r\n")
    assert read_reply(sock, buf) == ["221 2.0.0 Service closing transmission channel"]
    assert sock.recv(100) == b""
    sock.close()


def test_pipelining_and_bdat_chunk_is_consumed(make_server):
    server = make_server(FakeBackend())
    sock = raw(server)
    buf = bytearray()
    read_reply(sock, buf)
    sock.sendall(b"EHLO probe.lab.test\r\nNOOP\r\nBDAT 12 LAST\r\nQUIT\r\nQUIT\r\nNOOP\r\n")
    assert read_reply(sock, buf)[-1] == "250 SMTPUTF8"
    assert read_reply(sock, buf) == ["250 2.0.0 OK"]
    # The 12 bytes after BDAT ("QUIT\r\nQUIT\r\n") are message data, not commands.
    assert read_reply(sock, buf) == ["550 5.7.0 The lab does not accept mail"]
    assert read_reply(sock, buf) == ["250 2.0.0 OK"]
    sock.close()


def test_plaintext_pipelined_after_starttls_is_discarded(make_server, pki):
    offer, thumb = pki.leaf()
    server = make_server(FakeBackend(offer=offer))
    sock = raw(server)
    buf = bytearray()
    read_reply(sock, buf)
    sock.sendall(b"EHLO probe.lab.test\r\nSTARTTLS\r\nNOOP\r\nMAIL FROM:<x@y>\r\n")
    read_reply(sock, buf)
    assert read_reply(sock, buf) == ["220 2.0.0 SMTP server ready"]
    assert not buf
    tls = client_context(pki).wrap_socket(sock, server_hostname=FQDN)
    assert hashlib.sha1(tls.getpeercert(binary_form=True)).hexdigest().upper() == thumb
    tls.sendall(b"EHLO probe.lab.test\r\n")
    # The first reply under TLS answers this EHLO, not the injected NOOP.
    assert read_reply(tls, buf)[0] == f"250-{FQDN} Hello [127.0.0.1]"
    tls.close()


def test_garbage_long_lines_and_error_limit(make_server):
    server = make_server(FakeBackend())
    sock = raw(server)
    buf = bytearray()
    read_reply(sock, buf)
    sock.sendall(b"\x00\xff\xfe\x80garbage \x1b[2J\r\n")
    assert read_reply(sock, buf) == ["500 5.3.3 Unrecognized command 'unknown'"]
    sock.sendall(b"XYZZY\r\n")
    assert read_reply(sock, buf) == ["500 5.3.3 Unrecognized command 'XYZZY'"]
    sock.sendall(b"NOOP " + b"A" * 3000 + b"\r\nNOOP\r\n")
    assert read_reply(sock, buf) == ["500 5.5.2 Line too long"]
    assert read_reply(sock, buf) == ["250 2.0.0 OK"]       # the rest of the long line is skipped
    sock.sendall(b"NOOP " + b"A" * 1995 + b"\r\n")          # 2,000 bytes exactly is fine
    assert read_reply(sock, buf) == ["250 2.0.0 OK"]
    sock.sendall(os.urandom(5000).replace(b"\n", b"") + b"\n")
    assert read_reply(sock, buf) == ["500 5.5.2 Line too long"]
    sock.sendall(b"NOOP\r\n")
    assert read_reply(sock, buf) == ["250 2.0.0 OK"]
    # 4 errors so far; 16 more reach the limit of 20.
    sock.sendall(b"BOGUS\r\n" * 16)
    replies = [read_reply(sock, buf) for _ in range(17)]
    assert replies[:16] == [["500 5.3.3 Unrecognized command 'BOGUS'"]] * 16
    assert replies[16][0].startswith("421 4.7.0 ")
    assert sock.recv(100) == b""
    sock.close()
    assert_serving(server)


def test_abrupt_disconnects_do_not_break_the_server(make_server, pki):
    offer, _ = pki.leaf()
    server = make_server(FakeBackend(offer=offer))
    linger_rst = struct.pack("ii", 1, 0)

    # Reset before the banner is read, in the middle of a command, mid-handshake.
    for payload in (b"", b"EHLO probe.la", b"EHLO probe.lab.test\r\nSTARTTLS\r\n"):
        sock = raw(server)
        if payload:
            sock.sendall(payload)
        if payload.endswith(b"STARTTLS\r\n"):
            buf = bytearray()
            read_reply(sock, buf)
            read_reply(sock, buf)
            assert read_reply(sock, buf) == ["220 2.0.0 SMTP server ready"]
            sock.sendall(b"\x16\x03\x01\x02\x00\x01")   # the start of a ClientHello
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_rst)
        sock.close()

    # Plain garbage instead of a ClientHello.
    sock = raw(server)
    buf = bytearray()
    read_reply(sock, buf)
    sock.sendall(b"EHLO x.test\r\nSTARTTLS\r\n")
    read_reply(sock, buf)
    read_reply(sock, buf)
    sock.sendall(b"GET / HTTP/1.1\r\n\r\n" + os.urandom(300))
    sock.settimeout(TIMEOUT)
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    sock.close()

    time.sleep(0.1)
    assert_serving(server)
    with smtp(server) as conn:
        conn.ehlo()
        conn.starttls(context=client_context(pki))
        conn.ehlo()
        assert not conn.has_extn("starttls")


def test_idle_timeout(make_server):
    server = make_server(FakeBackend(), idle_timeout=0.3)
    sock = raw(server)
    buf = bytearray()
    read_reply(sock, buf)
    start = time.monotonic()
    assert read_reply(sock, buf) == ["451 4.7.0 Timeout waiting for client input"]
    assert sock.recv(100) == b""
    assert 0.2 < time.monotonic() - start < 3
    sock.close()


def test_fifty_concurrent_connections(make_server, pki):
    offer, thumb = pki.leaf()
    server = make_server(FakeBackend(offer=offer))
    socks = [raw(server) for _ in range(50)]     # all open at once
    try:
        for sock in socks:
            banner = read_reply(sock, bytearray())
            assert banner[0].startswith(f"220 {FQDN} Microsoft ESMTP MAIL Service ready at ")
    finally:
        for sock in socks:
            sock.close()

    def probe(_):
        with smtp(server) as conn:
            conn.ehlo()
            conn.starttls(context=client_context(pki))
            return thumbprint(conn)

    with ThreadPoolExecutor(max_workers=50) as pool:
        assert list(pool.map(probe, range(50))) == [thumb] * 50


def test_many_listeners_share_one_loop(loop_thread):
    threads_before = threading.active_count()
    servers = [SmtpServer(FakeBackend(fqdn=f"ex{i:03d}.contoso.com")) for i in range(200)]

    async def start_all():
        await asyncio.gather(*(s.start() for s in servers))

    async def stop_all():
        await asyncio.gather(*(s.stop() for s in servers))

    loop_thread.run(start_all())
    try:
        assert len({s.port for s in servers}) == 200
        assert threading.active_count() == threads_before
        for i in (0, 57, 199):
            with smtp(servers[i]) as conn:
                assert conn.ehlo()[1].decode().startswith(f"ex{i:03d}.contoso.com Hello [")
    finally:
        loop_thread.run(stop_all(), timeout=30)
    with pytest.raises(OSError):
        socket.create_connection((HOST, servers[0].port), timeout=1).close()


def test_stop_drops_connections_and_removes_key_material(loop_thread, pki):
    offer, _ = pki.leaf()
    server = SmtpServer(FakeBackend(offer=offer))
    loop_thread.run(server.start())
    conn = smtp(server)
    conn.ehlo()
    conn.starttls(context=client_context(pki))
    tmpdir = server._tmpdir
    assert tmpdir and os.path.isdir(tmpdir)
    assert os.stat(tmpdir).st_mode & 0o077 == 0
    assert os.listdir(tmpdir) == []          # PEMs are removed as soon as loaded
    idle = raw(server)
    read_reply(idle, bytearray())            # the banner
    loop_thread.run(server.stop())
    assert not os.path.exists(tmpdir)
    assert idle.recv(100) == b""
    idle.close()
    conn.close()


def test_listens_on_loopback_only():
    for host in ("0.0.0.0", "192.0.2.1", "::1", "localhost"):
        with pytest.raises(ValueError):
            asyncio.run(SmtpServer(FakeBackend(), host=host).start())
