"""The serving HTTP/1.1 connection: uvicorn's h11 protocol, with two guards of its own.

- **A deadline for each request's headers.** A client that has not sent them within
  ``timeout_keep_alive`` seconds of connecting (or of its previous answer) is disconnected;
  uvicorn's own timer restarts on every byte, so a slowloris sending a header byte now and then
  could hold a connection for hours.
- **A lingering close.** An answer sent before the request's body was read (a 413 mid-upload)
  closes the connection; closing a socket that still holds unread bytes makes the kernel reset
  it and drop what it had not yet sent, often the answer's body. So the answer is followed by a
  FIN, the client's further bytes are read and dropped for a while (at most
  :data:`LINGER_SECONDS` and :data:`LINGER_BYTES`), and only then is the socket closed; the
  client gets the whole answer, and the rest of a large upload is still never read.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

LINGER_SECONDS = 2.0
LINGER_BYTES = 1024 * 1024


class _LingeringTransport:
    """The connection's transport as uvicorn sees it: its ``close`` lingers while the client is
    still sending the body of a request already answered."""

    def __init__(self, transport: asyncio.Transport, protocol: GuardedConnection) -> None:
        self._transport = transport
        self._protocol = protocol

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def close(self) -> None:
        unread_body = self._protocol.conn.their_state is h11.SEND_BODY
        if unread_body and not self._transport.is_closing() and self._transport.can_write_eof():
            self._protocol.linger()
        else:
            self._transport.close()


class GuardedConnection(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a deadline for headers and a lingering close."""

    _headers_due: asyncio.TimerHandle | None = None
    _dropped: int | None = None  # bytes dropped while lingering; None while not

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._raw = transport
        super().connection_made(_LingeringTransport(transport, self))  # type: ignore[arg-type]
        self._expect_headers()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._expect_headers()

    def data_received(self, data: bytes) -> None:
        if self._dropped is None:
            super().data_received(data)
            return
        self._dropped += len(data)
        if self._dropped > LINGER_BYTES:
            self._raw.close()

    def eof_received(self) -> None:
        if self._dropped is not None:  # the client has sent all it will: nothing left unread
            self._raw.close()

    def linger(self) -> None:
        """Send the FIN after the answer, then drop what still arrives until the client stops,
        the byte limit or the time limit, whichever comes first."""
        self._dropped = 0
        self._raw.write_eof()
        self._raw.resume_reading()
        self.loop.call_later(LINGER_SECONDS, self._raw.close)

    def _expect_headers(self) -> None:
        if self._headers_due is not None:
            self._headers_due.cancel()
        self._headers_due = self.loop.call_later(self.timeout_keep_alive, self._headers_late)

    def _headers_late(self) -> None:
        if self.conn.their_state is h11.IDLE:  # no request under way: its headers never came
            self.timeout_keep_alive_handler()
