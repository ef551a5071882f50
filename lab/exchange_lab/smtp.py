"""A minimal SMTP listener that looks like Exchange's Front End Transport on port 25.

It exists so a TLS probe (EHLO, STARTTLS, inspect the certificate) sees what a
real Exchange 2016/2019 receive connector would show.  Which certificate is
offered is decided by the backend (the Exchange model), asked at every EHLO
before TLS; this module only speaks the protocol.  The lab never accepts mail:
MAIL/RCPT/DATA/BDAT are refused.

Many listeners share one event loop: no threads are started here.  Nothing the
client sends is ever logged.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import ipaddress
import logging
import os
import re
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from typing import Protocol

__all__ = ["TlsOffer", "SmtpSession", "SmtpBackend", "SmtpServer"]

log = logging.getLogger(__name__)

MAX_LINE = 2000            # bytes of command text, line terminator not counted
MAX_SIZE = 37748736        # advertised SIZE (Exchange default, 36 MB)
_READ_CHUNK = 4096
_TLS_READ_CHUNK = 16384

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# A HELO/EHLO argument: a host name or an address literal ([192.0.2.1], [IPv6:::1]).
_DOMAIN_RE = re.compile(
    r"^(?:\[[A-Za-z0-9:.]{1,253}\]"
    r"|[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?)$"
)


@dataclass
class TlsOffer:
    """What to present after STARTTLS."""

    cert_chain_pem: bytes   # leaf first, then issuing CA(s)
    key_pem: bytes
    # False: the certificate lacks the SMTP service, so Exchange advertises
    # STARTTLS but the TLS handshake fails (the server aborts the handshake
    # with a TLS alert).
    usable: bool = True


@dataclass
class SmtpSession:
    """What the backend is told about the connection asking for an offer."""

    peer: tuple[str, int]
    local: tuple[str, int] | None = None   # the listener's address (lab extra)


class SmtpBackend(Protocol):
    def greeting_fqdn(self) -> str:
        """The connector FQDN shown in the banner and the EHLO/HELO reply."""
        ...

    def tls_offer(self, session: SmtpSession) -> TlsOffer | None:
        """None: do not advertise STARTTLS.  Called for each EHLO before TLS."""
        ...

    def require_tls(self) -> bool:
        """Connector RequireTLS: MAIL before STARTTLS gets 530 5.7.0."""
        ...

    # Optional: ``for_session(session)`` returns the backend that answers this connection (Exchange picks a
    # receive connector per connection, by local address and the sender's address), or None when no
    # connector accepts the sender: the connection is then refused with 421.


class _TooLong:
    pass


_TOO_LONG = _TooLong()


class _Close(Exception):
    """Internal: end the session (the reply, if any, has been sent)."""


def _rfc2822_now() -> str:
    # Exchange style: "Tue, 4 Jun 2024 10:00:00 +0200" (day not zero-padded,
    # English names whatever the locale).
    now = _dt.datetime.now().astimezone()
    return (f"{_DAYS[now.weekday()]}, {now.day} {_MONTHS[now.month - 1]} "
            f"{now.year:04d} {now:%H:%M:%S} {now:%z}")


def _printable_verb(raw: str) -> str:
    if raw and len(raw) <= 64 and all(33 <= ord(c) < 127 for c in raw):
        return raw
    return "unknown"


class _Conn:
    """Per-connection state."""

    __slots__ = ("reader", "writer", "session", "buf", "discarding", "hello",
                 "offer", "tls", "bad", "ip", "backend")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 session: SmtpSession) -> None:
        self.reader = reader
        self.writer = writer
        self.session = session
        self.buf = bytearray()
        self.discarding = False      # inside an over-long line, skipping to LF
        self.hello: str | None = None  # "EHLO" / "HELO" once greeted
        self.offer: TlsOffer | None = None  # offer advertised by the last EHLO
        self.tls = False
        self.bad = 0
        self.ip = session.peer[0]
        self.backend: SmtpBackend | None = None


class SmtpServer:
    """One Exchange-like SMTP listener (Front End Transport, port 25 style)."""

    def __init__(self, backend: SmtpBackend, host: str = "127.0.0.1", port: int = 0,
                 *, idle_timeout: float = 60.0, max_bad_commands: int = 20,
                 handshake_timeout: float | None = None) -> None:
        self.backend = backend
        self.host = host
        self.port = port
        self.idle_timeout = idle_timeout
        self.max_bad_commands = max_bad_commands
        self.handshake_timeout = handshake_timeout or idle_timeout
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()
        self._contexts: dict[tuple[bytes, bytes], ssl.SSLContext | None] = {}
        self._fail_context: ssl.SSLContext | None = None
        self._tmpdir: str | None = None

    # ------------------------------------------------------------------ life
    async def start(self) -> None:
        try:
            addr = ipaddress.ip_address(self.host)
        except ValueError:
            addr = None
        if addr is None or addr.version != 4 or not addr.is_loopback:
            raise ValueError(f"lab SMTP listeners bind to 127.0.0.0/8 only, not {self.host!r}")
        if self._server is not None:
            raise RuntimeError("already started")
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, backlog=128)
        self.port = self._server.sockets[0].getsockname()[1]
        log.debug("SMTP listener up on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            try:
                await asyncio.wait_for(server.wait_closed(), 5)
            except (asyncio.TimeoutError, OSError):
                pass
        self._contexts.clear()
        self._fail_context = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
        log.debug("SMTP listener on %s:%d stopped", self.host, self.port)

    # ------------------------------------------------------------ contexts
    def _failing_context(self) -> ssl.SSLContext:
        # No certificate at all: OpenSSL aborts the handshake with a
        # handshake_failure alert as soon as it has read the ClientHello.
        if self._fail_context is None:
            self._fail_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        return self._fail_context

    def _context_for(self, offer: TlsOffer) -> ssl.SSLContext | None:
        key = (bytes(offer.cert_chain_pem), bytes(offer.key_pem))
        if key in self._contexts:
            return self._contexts[key]
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="exchange-lab-smtp-")  # mode 0700
        ctx: ssl.SSLContext | None = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # Schannel serves whatever certificate transport selected, a 1024-bit or SHA-1 one too; OpenSSL's
        # default security level would refuse to load it, and the lab must show a client what Exchange shows.
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        # Exchange's SMTP negotiates up to TLS 1.2: Exchange Server 2019 CU15 (and SE, the same build) brought TLS
        # 1.3 to HTTPS only, not SMTP (Exchange Team Blog, "Released: 2025 H1 Cumulative Update for Exchange Server").
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        cert_fd, cert_path = tempfile.mkstemp(dir=self._tmpdir, suffix=".crt")
        key_fd, key_path = tempfile.mkstemp(dir=self._tmpdir, suffix=".key")  # mode 0600
        try:
            with os.fdopen(cert_fd, "wb") as fh:
                fh.write(key[0])
            with os.fdopen(key_fd, "wb") as fh:
                fh.write(key[1])
            # The password callback keeps OpenSSL from prompting on a tty
            # should a key ever come encrypted.
            ctx.load_cert_chain(cert_path, key_path, password=lambda: b"")
        except (ssl.SSLError, OSError, ValueError) as exc:
            log.error("cannot load the offered TLS certificate (%s); "
                      "the handshake will fail", type(exc).__name__)
            ctx = None
        finally:
            for path in (cert_path, key_path):
                try:
                    os.unlink(path)
                except OSError:
                    pass
        self._contexts[key] = ctx
        return ctx

    # ------------------------------------------------------------- session
    async def _handle(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        conn: _Conn | None = None
        cancelled = False
        try:
            peer = writer.get_extra_info("peername") or ("0.0.0.0", 0)
            local = writer.get_extra_info("sockname")
            session = SmtpSession(peer=(str(peer[0]), int(peer[1])),
                                  local=(str(local[0]), int(local[1])) if local else None)
            conn = _Conn(reader, writer, session)
            log.debug("SMTP connection from %s:%d to port %d", session.peer[0],
                      session.peer[1], self.port)
            await self._session(conn)
        except asyncio.CancelledError:
            cancelled = True     # stop(): drop the connection at once
        except _Close:
            pass
        except (ConnectionError, OSError, EOFError):
            pass
        except Exception:   # a bug (ours or the backend's) must not kill the listener
            log.exception("SMTP session on port %d failed", self.port)
            if conn is not None:
                try:
                    writer.write(b"421 4.3.2 Service not available, closing transmission channel\r\n")
                except Exception:
                    pass
        finally:
            await self._close(writer, abort=cancelled)
            if task is not None:
                self._tasks.discard(task)

    async def _close(self, writer: asyncio.StreamWriter, abort: bool = False) -> None:
        try:
            if abort or writer.transport.is_closing():
                writer.transport.abort()
                return
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), 2)
        except asyncio.CancelledError:
            writer.transport.abort()
        except Exception:
            writer.transport.abort()

    async def _reply(self, conn: _Conn, *lines: str) -> None:
        conn.writer.write("".join(f"{line}\r\n" for line in lines).encode("ascii", "replace"))
        await conn.writer.drain()

    async def _read(self, conn: _Conn, size: int) -> bytes:
        try:
            return await asyncio.wait_for(conn.reader.read(size), self.idle_timeout)
        except asyncio.TimeoutError:
            try:
                await self._reply(conn, "451 4.7.0 Timeout waiting for client input")
            except Exception:
                pass
            raise _Close() from None

    async def _read_line(self, conn: _Conn) -> bytes | _TooLong | None:
        """A command line without its terminator, _TOO_LONG, or None at EOF."""
        while True:
            idx = conn.buf.find(b"\n")
            if idx >= 0:
                line = bytes(conn.buf[:idx])
                del conn.buf[:idx + 1]
                if conn.discarding:
                    conn.discarding = False
                    continue
                if line.endswith(b"\r"):
                    line = line[:-1]
                if len(line) > MAX_LINE:
                    return _TOO_LONG
                return line
            if conn.discarding:
                conn.buf.clear()
            elif len(conn.buf) > MAX_LINE + 1:
                conn.buf.clear()
                conn.discarding = True
                return _TOO_LONG
            data = await self._read(conn, _READ_CHUNK)
            if not data:
                return None
            conn.buf += data

    async def _bad(self, conn: _Conn, reply: str) -> None:
        conn.bad += 1
        await self._reply(conn, reply)
        if conn.bad >= self.max_bad_commands:
            await self._reply(conn, "421 4.7.0 Too many errors on this connection, "
                                    "closing transmission channel")
            raise _Close()

    async def _session(self, conn: _Conn) -> None:
        select = getattr(self.backend, "for_session", None)
        conn.backend = select(conn.session) if select is not None else self.backend
        if conn.backend is None:
            await self._reply(conn, "421 4.3.2 Service not available, closing transmission channel")
            return
        await self._reply(conn, f"220 {conn.backend.greeting_fqdn()} Microsoft ESMTP "
                                f"MAIL Service ready at {_rfc2822_now()}")
        while True:
            line = await self._read_line(conn)
            if line is None:
                return
            if line is _TOO_LONG:
                await self._bad(conn, "500 5.5.2 Line too long")
                continue
            text = line.decode("latin-1")
            verb_raw, _, arg = text.strip().partition(" ")
            verb = verb_raw.upper()
            arg = arg.strip()
            handler = self._VERBS.get(verb)
            if handler is None:
                await self._bad(conn, f"500 5.3.3 Unrecognized command '{_printable_verb(verb_raw)}'")
                continue
            await handler(self, conn, arg)

    # ---------------------------------------------------------------- verbs
    def _hello_line(self, conn: _Conn) -> str:
        return f"{conn.backend.greeting_fqdn()} Hello [{conn.ip}]"

    async def _ehlo(self, conn: _Conn, arg: str) -> None:
        domain = arg.split(" ", 1)[0]
        if not domain or not _DOMAIN_RE.match(domain):
            await self._bad(conn, "501 5.5.4 Invalid domain name")
            return
        conn.hello = "EHLO"
        conn.offer = None if conn.tls else conn.backend.tls_offer(conn.session)
        lines = [self._hello_line(conn), f"SIZE {MAX_SIZE}", "PIPELINING", "DSN",
                 "ENHANCEDSTATUSCODES"]
        if conn.offer is not None:
            lines.append("STARTTLS")
        lines += ["8BITMIME", "BINARYMIME", "CHUNKING", "SMTPUTF8"]
        await self._reply(conn, *(f"250-{l}" for l in lines[:-1]), f"250 {lines[-1]}")

    async def _helo(self, conn: _Conn, arg: str) -> None:
        domain = arg.split(" ", 1)[0]
        if not domain or not _DOMAIN_RE.match(domain):
            await self._bad(conn, "501 5.5.4 Invalid domain name")
            return
        conn.hello = "HELO"
        conn.offer = None     # HELO advertises no extensions
        await self._reply(conn, f"250 {self._hello_line(conn)}")

    async def _starttls(self, conn: _Conn, arg: str) -> None:
        if conn.tls:
            await self._bad(conn, "503 5.5.1 Bad sequence of commands")
            return
        if conn.hello is None:
            await self._bad(conn, "503 5.5.2 Send hello first")
            return
        offer = conn.offer
        if offer is None:
            await self._bad(conn, "500 5.3.3 Unrecognized command 'STARTTLS'")
            return
        if arg:
            await self._bad(conn, "501 5.5.4 Invalid arguments")
            return
        ctx = self._context_for(offer) if offer.usable else None
        # Plaintext pipelined after STARTTLS must not be taken as commands
        # sent under TLS (STARTTLS command injection): drop it.
        conn.buf.clear()
        conn.discarding = False
        pending = getattr(conn.reader, "_buffer", None)
        if isinstance(pending, bytearray):
            pending.clear()
        conn.writer.write(b"220 2.0.0 SMTP server ready\r\n")
        if ctx is None:
            await self._fail_handshake(conn)
            raise _Close()
        try:
            await conn.writer.start_tls(ctx, ssl_handshake_timeout=self.handshake_timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:   # SSLError, reset, timeout
            log.debug("TLS handshake on port %d failed: %s", self.port, type(exc).__name__)
            raise _Close() from None
        conn.tls = True
        conn.hello = None
        conn.offer = None
        conn.buf.clear()

    async def _fail_handshake(self, conn: _Conn) -> None:
        """Read the ClientHello and answer with the alert OpenSSL produces."""
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        sslobj = self._failing_context().wrap_bio(incoming, outgoing, server_side=True)
        await conn.writer.drain()
        while True:
            try:
                sslobj.do_handshake()
            except ssl.SSLWantReadError:
                pending = outgoing.read()
                if pending:
                    conn.writer.write(pending)
                    await conn.writer.drain()
                data = await self._read(conn, _TLS_READ_CHUNK)
                if not data:
                    return
                incoming.write(data)
                continue
            except ssl.SSLError:
                pass
            break
        pending = outgoing.read()   # the fatal alert
        if pending:
            conn.writer.write(pending)
            await conn.writer.drain()

    async def _mail_like(self, conn: _Conn, arg: str) -> None:
        if conn.hello is None:
            await self._bad(conn, "503 5.5.2 Send hello first")
        elif not conn.tls and conn.backend.require_tls():
            await self._reply(conn, "530 5.7.0 Must issue a STARTTLS command first")
        else:
            await self._reply(conn, "550 5.7.0 The lab does not accept mail")

    async def _bdat(self, conn: _Conn, arg: str) -> None:
        # The chunk follows the command whatever the reply: consume it so its
        # bytes are not read as commands (RFC 3030).
        parts = arg.split()
        if not parts or not parts[0].isdigit() or len(parts) > 2 or (
                len(parts) == 2 and parts[1].upper() != "LAST"):
            await self._bad(conn, "501 5.5.4 Invalid arguments")
            return
        remaining = int(parts[0])
        take = min(remaining, len(conn.buf))
        del conn.buf[:take]
        remaining -= take
        while remaining > 0:
            data = await self._read(conn, min(remaining, 65536))
            if not data:
                raise _Close()
            remaining -= len(data)
        await self._mail_like(conn, "")

    async def _noop(self, conn: _Conn, arg: str) -> None:
        await self._reply(conn, "250 2.0.0 OK")

    async def _rset(self, conn: _Conn, arg: str) -> None:
        await self._reply(conn, "250 2.0.0 Resetting")

    async def _quit(self, conn: _Conn, arg: str) -> None:
        await self._reply(conn, "221 2.0.0 Service closing transmission channel")
        raise _Close()

    _VERBS = {
        "EHLO": _ehlo,
        "HELO": _helo,
        "STARTTLS": _starttls,
        "MAIL": _mail_like,
        "RCPT": _mail_like,
        "DATA": _mail_like,
        "BDAT": _bdat,
        "NOOP": _noop,
        "RSET": _rset,
        "QUIT": _quit,
    }
