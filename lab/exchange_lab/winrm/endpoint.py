"""The HTTP endpoint: HTTP/1.1 with keep-alive, Basic auth, one socket write per response, and the
server's lifecycle. :class:`WinRMServer` is this endpoint with the WS-Man shells of :mod:`.wsman` mixed in.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import logging
import socket
import struct
import typing as t

from .winrs import ExecuteFn
from .wsman import WSManShells, _Hold, _Reset, _SOAP_CONTENT_TYPE, _Shell, _Unauthorized

logger = logging.getLogger(__name__)

_MAX_BODY = 64 * 1024 * 1024
_MAX_HEADER_LINES = 100


class WinRMServer(WSManShells):
    """A WinRS endpoint for one simulated server (HTTP, Basic auth)."""

    def __init__(
        self,
        name: str,
        username: str,
        password: str,
        execute: ExecuteFn,
        host: str = "127.0.0.1",
        port: int = 0,
        codepage_default: int = 65001,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.codepage_default = codepage_default
        self.commands = 0
        self._execute = execute
        self._username = username
        self._password = password
        self._shells: dict[str, _Shell] = {}
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task] = set()
        self._stopping: asyncio.Event | None = None

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        self._server = await asyncio.start_server(self._handle_connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        logger.debug("%s: WinRM endpoint listening on %s:%d", self.name, self.host, self.port)

    async def stop(self) -> None:
        if self._server is None:
            return
        assert self._stopping is not None
        self._stopping.set()
        self._server.close()
        for shell in list(self._shells.values()):
            self._drop_shell(shell)
        self._shells.clear()
        for writer in list(self._connections):
            writer.transport.abort()
        handlers = [h for h in self._handlers if h is not asyncio.current_task()]
        for h in handlers:
            h.cancel()
        if handlers:
            await asyncio.gather(*handlers, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)
        self._server = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/wsman"

    # -- HTTP --------------------------------------------------------------

    async def _handle_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._connections.add(writer)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = writer.get_extra_info("peername")
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    break
                method, _target, version, headers, body = request
                keep_alive = self._keep_alive(version, headers)
                outcome = await self._dispatch_http(method, headers, body, peer)
                if isinstance(outcome, _Reset):
                    self._reset(writer)
                    return
                if isinstance(outcome, _Hold):
                    # Never answer; wait for the client to give up (EOF) or stop().
                    await self._wait_for_eof(reader)
                    break
                status, extra_headers, payload = outcome
                writer.write(self._http_response(status, extra_headers, payload, keep_alive))
                await writer.drain()
                if not keep_alive:
                    break
        except _BadRequest as exc:
            with contextlib.suppress(Exception):
                writer.write(self._http_response(exc.status, [], exc.reason.encode(), False, content_type="text/plain"))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        except Exception:  # pragma: no cover - defensive, never log request data
            logger.exception("%s: connection handler failed", self.name)
        finally:
            self._connections.discard(writer)
            if task is not None:
                self._handlers.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    @staticmethod
    def _reset(writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # SO_LINGER 0: close() sends a RST instead of a FIN.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def _wait_for_eof(self, reader: asyncio.StreamReader) -> None:
        assert self._stopping is not None
        stop_wait = asyncio.ensure_future(self._stopping.wait())
        try:
            while True:
                read = asyncio.ensure_future(reader.read(65536))
                done, _ = await asyncio.wait({read, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                if stop_wait in done:
                    read.cancel()
                    return
                if not read.result():
                    return
        finally:
            stop_wait.cancel()

    @staticmethod
    def _keep_alive(version: str, headers: dict[str, str]) -> bool:
        conn = headers.get("connection", "").lower()
        if version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, str, dict[str, str], bytes] | None:
        try:
            line = await reader.readline()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            return None
        if not line:
            return None
        while line in (b"\r\n", b"\n"):  # tolerate stray CRLF between requests
            line = await reader.readline()
            if not line:
                return None
        parts = line.decode("latin-1").strip().split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise _BadRequest(400, "Bad Request")
        method, target, version = parts
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADER_LINES):
            hline = await reader.readline()
            if not hline:
                return None
            if hline in (b"\r\n", b"\n"):
                break
            name, sep, value = hline.decode("latin-1").partition(":")
            if not sep:
                raise _BadRequest(400, "Bad Request")
            headers[name.strip().lower()] = value.strip()
        else:
            raise _BadRequest(431, "Request Header Fields Too Large")

        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size_line = await reader.readline()
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise _BadRequest(400, "Bad Request") from None
                if size == 0:
                    while await reader.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > _MAX_BODY:
                    raise _BadRequest(413, "Payload Too Large")
                chunks.append(await reader.readexactly(size))
                await reader.readline()
            body = b"".join(chunks)
        else:
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                raise _BadRequest(400, "Bad Request") from None
            if length < 0:
                raise _BadRequest(400, "Bad Request")
            if length > _MAX_BODY:
                raise _BadRequest(413, "Payload Too Large")
            body = await reader.readexactly(length) if length else b""
        return method, target, version, headers, body

    @staticmethod
    def _http_response(
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        keep_alive: bool,
        content_type: str | None = None,
    ) -> bytes:
        reason = {
            200: "OK",
            400: "Bad Request",
            401: "Unauthorized",
            404: "Not Found",
            413: "Payload Too Large",
            415: "Unsupported Media Type",
            431: "Request Header Fields Too Large",
            500: "Internal Server Error",
        }.get(status, "Unknown")
        lines = [f"HTTP/1.1 {status} {reason}", "Server: Microsoft-HTTPAPI/2.0"]
        if body and content_type:
            lines.append(f"Content-Type: {content_type}")
        lines.extend(f"{k}: {v}" for k, v in headers)
        lines.append(f"Content-Length: {len(body)}")
        if not keep_alive:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    def _authorized(self, headers: dict[str, str]) -> bool:
        value = headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        if not sep:
            return False
        # Windows account names are case-insensitive; passwords are not.
        user_ok = hmac.compare_digest(user.casefold().encode(), self._username.casefold().encode())
        pass_ok = hmac.compare_digest(password.encode(), self._password.encode())
        return user_ok and pass_ok

    async def _dispatch_http(
        self, method: str, headers: dict[str, str], body: bytes, peer: t.Any
    ) -> tuple[int, list[tuple[str, str]], bytes] | _Hold | _Reset:
        if method.upper() != "POST":
            return 404, [], b""
        if not self._authorized(headers):
            return 401, [("WWW-Authenticate", 'Basic realm="WSMAN"')], b""
        reply = await self._dispatch_soap(body, peer)
        if isinstance(reply, (_Hold, _Reset)):
            return reply
        if isinstance(reply, _Unauthorized):
            return 401, [("WWW-Authenticate", 'Basic realm="WSMAN"')], b""
        status, xml = reply
        return int(status), [("Content-Type", _SOAP_CONTENT_TYPE)], xml.encode("utf-8")


class _BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason

