# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a sending server sees on an SMTP port: banner, STARTTLS, the certificate.

The proof that a connector fix worked is not Exchange's configuration but what
a peer is shown: this speaks just enough SMTP to get there (banner, EHLO,
STARTTLS, TLS handshake, EHLO, QUIT) and never MAIL, RCPT, DATA or BDAT, so it
cannot send mail. The chain is not verified on purpose: the point is to see
whatever certificate the connector presents, trusted or not.

Two kinds of failure are kept apart. A connector that advertises STARTTLS and
then fails the handshake (its certificate lacks the SMTP service) is an
answer, reported in the result. A port that cannot be reached or does not
speak SMTP is not an answer: :class:`ProbeError`, carrying the result so far.

Pure Python; ``cryptography`` is imported only where a certificate's SANs,
dates and serial number are read, so this module imports without it.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import re
import socket
import ssl
import time

from ansible_collections.exchange.transport_tls.plugins.module_utils import x500
from ansible_collections.exchange.transport_tls.plugins.module_utils.thumbprint import parse_thumbprint

__all__ = [
    "ProbeError",
    "certificate_details",
    "check_helo_name",
    "check_host",
    "default_helo_name",
    "empty_result",
    "probe",
    "probe_once",
]

# RFC 5321 allows 512 octets per reply line; Exchange stays far below. A
# bound keeps a port that streams garbage from filling memory.
_MAX_LINE = 8192
# More reply lines than any EHLO answer has: a safety stop, not a limit Exchange reaches.
_MAX_LINES = 100
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")

CERTIFICATE_KEYS = ("thumbprint", "subject", "issuer", "domains", "not_before", "not_after", "serial_number")


class ProbeError(Exception):
    """The port could not be reached or the SMTP dialogue broke: no answer about TLS.

    ``result`` is the result so far (``connected``, ``banner``...), so a failed
    task still shows how far it got; its ``error`` is this message.
    """

    def __init__(self, message: str, result: dict) -> None:
        super().__init__(message)
        result["error"] = message
        self.result = result


class _Dropped(Exception):
    """The server closed the connection where a reply was due."""


# --------------------------------------------------------------- option values
def check_helo_name(value: str) -> str:
    """Return ``value`` if it is a plausible EHLO argument, else raise ValueError.

    Exchange answers ``501 5.5.4 Invalid domain name`` to an argument that is
    neither a host name nor an address literal; failing here says which option
    is wrong instead of reporting a broken dialogue.
    """
    text = str(value)
    problem = None
    if text.startswith("["):
        inner = text[1:-1] if text.endswith("]") else None
        try:
            if inner is None:
                raise ValueError
            if inner[:5].upper() == "IPV6:":
                ipaddress.IPv6Address(inner[5:])
            else:
                ipaddress.IPv4Address(inner)
        except ValueError:
            problem = "is not an address literal such as [192.0.2.25] or [IPv6:2001:db8::25]"
    else:
        labels = text[:-1].split(".") if text.endswith(".") else text.split(".")
        if not text or len(text) > 253 or not all(_LABEL.match(label) for label in labels):
            problem = "is not a host name (letters, digits and hyphens in dot-separated labels of at most 63)"
    if problem:
        raise ValueError("helo_name %r %s; use this host's DNS name or an address literal" % (text, problem))
    return text


_HOST_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\Z")


def check_host(value: str) -> str:
    """Return ``value`` if it is a host name or an IP address to connect to, else raise ValueError naming the option."""
    text = str(value)
    try:
        ipaddress.ip_address(text)
        return text
    except ValueError:
        pass
    labels = text[:-1].split(".") if text.endswith(".") else text.split(".")
    if text and len(text) <= 253 and all(_HOST_LABEL.match(label) for label in labels):
        return text
    raise ValueError(
        "host %r is not a host name (letters, digits and hyphens in dot-separated labels, such as mail.contoso.com)"
        " nor an IP address (192.0.2.25 or 2001:db8::25, without brackets)" % (text,)
    )


def check_seen_as(value: str) -> str:
    """Return ``value`` as an IP address in its usual form, else raise ValueError naming the option."""
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise ValueError(
            "seen_as %r is not an IP address (192.0.2.25 or 2001:db8::25): give the address the Exchange server sees"
            " this probe come from (the NAT address), or leave it unset" % (value,)
        ) from None


def default_helo_name() -> str:
    """This host's FQDN when it is a usable EHLO argument, else ``localhost``.

    getfqdn() can return a container's random or underscored name; a probe
    must not fail because of the host it runs on.
    """
    try:
        return check_helo_name(socket.getfqdn())
    except ValueError:
        return "localhost"


# ------------------------------------------------------------------ certificate
def _iso(when: datetime.datetime) -> str:
    if when.tzinfo is not None:
        when = when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _serial_hex(serial: int) -> str:
    # The INTEGER's DER content bytes, as X509Certificate2.SerialNumber and
    # Get-ExchangeCertificate print them: a leading 00 stays when the high bit is set.
    bits = (serial if serial >= 0 else ~serial).bit_length()
    return serial.to_bytes(bits // 8 + 1, "big", signed=True).hex().upper()


def certificate_details(der: bytes) -> dict:
    """The presented certificate as Exchange would show it (Get-ExchangeCertificate's forms)."""
    from cryptography import x509  # deferred: see the module docstring

    details = dict.fromkeys(CERTIFICATE_KEYS)
    details["thumbprint"] = hashlib.sha1(der).hexdigest().upper()
    try:
        issuer, subject = x500.certificate_names(der)
        details["issuer"], details["subject"] = x500.render_name(issuer), x500.render_name(subject)
    except x500.X500Error:
        pass
    try:
        cert = x509.load_der_x509_certificate(der)
        # cryptography >= 42 has the aware *_utc properties; 41 only the naive (UTC) ones.
        before = getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before
        after = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after
        details["not_before"], details["not_after"] = _iso(before), _iso(after)
        details["serial_number"] = _serial_hex(cert.serial_number)
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            details["domains"] = san.get_values_for_type(x509.DNSName)
        except x509.ExtensionNotFound:
            details["domains"] = []
    except ValueError:
        # A certificate cryptography refuses is still what the server presents:
        # the thumbprint and names above stand; the rest stays null.
        pass
    return details


# ------------------------------------------------------------------------- SMTP
def empty_result(host: str, port: int) -> dict:
    result = {
        "host": host,
        "port": port,
        "connected": False,
        "banner": None,
        "starttls_offered": False,
        "tls_established": False,
        "tls_version": None,
        "cipher": None,
        "source_address": None,
        "error": None,
    }
    result.update(dict.fromkeys(CERTIFICATE_KEYS))
    return result


class _Client:
    """Commands out, replies in: the whole SMTP client this needs.

    Every read, write and the TLS handshake get what is left of one deadline per attempt, so a peer that
    drips a byte at a time cannot hold the probe past ``timeout`` (a per-read timeout would let it).
    """

    def __init__(self, sock: socket.socket, deadline: float, timeout: float) -> None:
        self.sock = sock
        self.deadline, self.timeout = deadline, timeout
        self.buffer = b""

    def _arm(self) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out")  # what the socket itself says when its own timeout passes
        self.sock.settimeout(remaining)

    def _readline(self) -> bytes:
        """One line as file.readline(_MAX_LINE + 1) reads it; b"" when the peer closed."""
        while True:
            end = self.buffer.find(b"\n")
            if 0 <= end <= _MAX_LINE or len(self.buffer) > _MAX_LINE:
                cut = end + 1 if 0 <= end <= _MAX_LINE else _MAX_LINE + 1
                line, self.buffer = self.buffer[:cut], self.buffer[cut:]
                return line
            self._arm()
            chunk = self.sock.recv(4096)
            if not chunk:
                line, self.buffer = self.buffer, b""
                return line
            self.buffer += chunk

    def reply(self) -> tuple[int, list[str]]:
        lines = []
        while len(lines) < _MAX_LINES:
            raw = self._readline()
            if not raw:
                raise _Dropped()
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            lines.append(line)
            if len(line) < 3 or not line[:3].isdigit() or (len(line) > 3 and line[3] not in " -"):
                return 0, lines  # not SMTP: the caller reports the line
            if line[3:4] != "-":
                return int(line[:3]), lines
        return 0, lines

    def command(self, text: str) -> tuple[int, list[str]]:
        self._arm()
        self.sock.sendall(text.encode("ascii") + b"\r\n")
        return self.reply()

    def start_tls(self, host: str) -> ssl.SSLSocket:
        # OpenSSL's default protocol floor, as a modern sender (Microsoft 365
        # requires TLS 1.2) would negotiate; no verification, see the docstring.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self.buffer = b""  # anything buffered after "220" was sent in clear: drop it
        self._arm()
        self.sock = context.wrap_socket(self.sock, server_hostname=host)
        return self.sock

    def quit(self) -> None:
        try:
            self.command("QUIT")
        except (OSError, _Dropped):
            pass  # the answer is already in hand


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _reply_text(lines: list[str]) -> str:
    return " / ".join(lines) if lines else "(nothing)"


def probe_once(host: str, port: int, timeout: float, helo_name: str) -> dict:
    """One connection: the result dict, or ProbeError when there is no answer about TLS."""
    result = empty_result(host, port)
    where = "%s:%s" % (host, port)
    # One deadline for the whole attempt: connecting, the dialogue and the handshake.
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise ProbeError(
            "Cannot connect to %s: %s. Check the host name and port, that the SMTP service runs, and that no firewall "
            "blocks the port from the host this task runs on." % (where, _describe(exc)),
            result,
        ) from None
    result["connected"] = True
    # The address this probe leaves from: which receive connector answers depends on it (RemoteIPRanges).
    try:
        result["source_address"] = sock.getsockname()[0]
    except (OSError, IndexError):
        pass
    client = _Client(sock, deadline, timeout)
    step = "the banner"
    try:
        code, lines = client.reply()
        result["banner"] = "\n".join(lines)
        if code != 220:
            raise ProbeError(
                "%s answered %s instead of a 220 SMTP banner: is this an SMTP port, and is the service accepting "
                "connections?" % (where, _reply_text(lines)),
                result,
            )
        step = "EHLO"
        code, lines = client.command("EHLO " + helo_name)
        if code != 250:
            raise ProbeError("%s refused EHLO %s: %s." % (where, helo_name, _reply_text(lines)), result)
        keywords = {line[4:].split(" ", 1)[0].upper() for line in lines[1:]}
        result["starttls_offered"] = "STARTTLS" in keywords
        if not result["starttls_offered"]:
            client.quit()
            return result
        # From here on, what goes wrong is the answer: reported, not raised.
        step = "STARTTLS"
        code, lines = client.command("STARTTLS")
        if code != 220:
            result["error"] = "STARTTLS refused: %s" % _reply_text(lines)
            client.quit()
            return result
        step = "the TLS handshake"
        try:
            tls = client.start_tls(host)
        except (ssl.SSLError, OSError) as exc:
            result["error"] = "TLS handshake failed: %s" % _describe(exc)
            return result
        result["tls_established"] = True
        result["tls_version"] = tls.version()
        cipher = tls.cipher()
        result["cipher"] = cipher[0] if cipher else None
        der = tls.getpeercert(binary_form=True)
        if der:
            result.update(certificate_details(der))
        step = "EHLO under TLS"
        code, lines = client.command("EHLO " + helo_name)
        if code != 250:
            result["error"] = "EHLO under TLS refused: %s" % _reply_text(lines)
        client.quit()
        return result
    except (_Dropped, OSError) as exc:
        detail = "closed the connection" if isinstance(exc, _Dropped) else "failed (%s)" % _describe(exc)
        if step in ("the banner", "EHLO"):
            raise ProbeError(
                "%s %s while waiting for %s: is this an SMTP port, and is the service accepting connections?"
                % (where, detail, step),
                result,
            ) from None
        result["error"] = "%s %s during %s" % (where, detail, step)
        return result
    finally:
        try:
            client.sock.close()
        except OSError:
            pass


def probe(host: str, port: int = 25, timeout: float = 10, helo_name: str | None = None,
          expect_thumbprint: str | None = None, wait_timeout: float = 0, delay: float = 2,
          clock=time.monotonic, sleep=time.sleep, seen_as: str | None = None) -> dict:
    """Probe once, or until the presented thumbprint is ``expect_thumbprint`` or ``wait_timeout`` passes.

    While waiting, a port that does not answer is retried too: a fix is usually
    followed by a transport service restart. ProbeError is raised only when the
    last attempt had no answer. ``elapsed``, ``attempts`` and ``matched`` are
    added to the result (also to ProbeError.result). ValueError: a bad ``helo_name``.
    ``seen_as``: the address the server sees the probe come from when NAT changes it; it replaces
    ``source_address`` (the socket's own address) in the result.
    """
    # Checked here too, not only by the module: a CR LF in it would let the
    # name smuggle a command (MAIL...) into the dialogue.
    helo_name = check_helo_name(helo_name) if helo_name else default_helo_name()
    started = clock()
    deadline = started + (wait_timeout if expect_thumbprint else 0)
    attempts = 0
    while True:
        attempts += 1
        failure = None
        try:
            result = probe_once(host, port, timeout, helo_name)
        except ProbeError as exc:
            failure, result = exc, exc.result
        result["attempts"] = attempts
        result["elapsed"] = round(clock() - started, 3)
        if seen_as:
            result["source_address"] = seen_as
        result["matched"] = None if expect_thumbprint is None else result["thumbprint"] == expect_thumbprint
        now = clock()
        if result["matched"] or now >= deadline:
            if failure is not None:
                raise failure
            return result
        sleep(min(delay, deadline - now))


ARGUMENT_SPEC = dict(
    host=dict(type="str", required=True),
    port=dict(type="int", default=25),
    timeout=dict(type="float", default=10),
    helo_name=dict(type="str"),
    expect_thumbprint=dict(type="str"),
    wait_timeout=dict(type="int", default=0),
    delay=dict(type="float", default=2),
    seen_as=dict(type="str"),
)


# Upper bounds that keep a typo (an extra zero, milliseconds for seconds) from hanging a play for days.
MAX_SECONDS = 3600
MAX_WAIT = 86400


def options_problem(params: dict) -> str | None:
    """What is wrong with the options the argument spec cannot say, or None; normalises the thumbprint."""
    if not 1 <= params["port"] <= 65535:
        return "port must be between 1 and 65535, not %d" % params["port"]
    for name in ("timeout", "delay"):
        if not 0 < params[name] <= MAX_SECONDS:
            return "%s must be a number of seconds greater than 0 and at most %d, not %s" % (name, MAX_SECONDS, params[name])
    if not 0 <= params["wait_timeout"] <= MAX_WAIT:
        return "wait_timeout must be 0 (probe once) or a number of seconds up to %d, not %d" % (MAX_WAIT, params["wait_timeout"])
    if params["wait_timeout"] and params["expect_thumbprint"] is None:
        return "wait_timeout needs expect_thumbprint: it waits for that certificate to be presented"
    try:
        check_host(params["host"])
        if params["helo_name"] is not None:
            check_helo_name(params["helo_name"])
        if params["expect_thumbprint"] is not None:
            params["expect_thumbprint"] = parse_thumbprint(params["expect_thumbprint"], "expect_thumbprint")
        if params.get("seen_as") is not None:
            params["seen_as"] = check_seen_as(params["seen_as"])
    except ValueError as exc:
        return str(exc)
    return None
