"""Writing the event stream's frames once per audience, not once per subscriber.

A server's text frame is not masked (RFC 6455 §5.1), so the bytes of one message's frame are the
same for every connection: the broadcaster encodes each event once per audience (who may see it,
with or without the message that caused it) and writes those bytes to each subscriber's
connection, without a task switch or an ASGI message per subscriber. Frames are sent
uncompressed even where permessage-deflate was agreed: RFC 7692 §6 lets a sender leave any
message uncompressed (RSV1 clear), and such messages touch neither side's compression context.

`FramedWebSocketProtocol` is uvicorn's websockets protocol that offers its connection as a
`FrameSink` through the ASGI scope (`scope["extensions"][FRAMES_EXTENSION]["sink"]`); `tampere
serve` runs with it. Under any other server the stream falls back to plain ASGI sends.
"""

from __future__ import annotations

from typing import Any, Protocol

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode

FRAMES_EXTENSION = "tampere.websocket.frames"


class FrameSink(Protocol):
    """A websocket connection that takes whole frames."""

    def write_frame(self, frame: bytes) -> bool:
        """Queue a frame on the connection; False when it is closing (nothing written)."""

    @property
    def buffered(self) -> int:
        """Bytes written and not yet taken by the kernel (a slow reader's backlog)."""

    def close_with(self, code: int, reason: str) -> None:
        """Send the close frame now, after what is buffered, without waiting for the reader."""


def text_frame(message: str) -> bytes:
    """The bytes of one unmasked, unfragmented, uncompressed text frame."""
    return Frame(Opcode.TEXT, message.encode()).serialize(mask=False)


def frame_sink(scope: dict[str, Any]) -> FrameSink | None:
    """The connection's FrameSink, if the server offers one."""
    offered = scope.get("extensions", {}).get(FRAMES_EXTENSION)
    return offered.get("sink") if isinstance(offered, dict) else None


class FramedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets (sans-I/O) protocol, offering itself as a FrameSink to the app."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # the handshake was accepted; the app has not started yet
            scope["extensions"][FRAMES_EXTENSION] = {"sink": self}

    def write_frame(self, frame: bytes) -> bool:
        """Write a frame unless the connection is closing (or the handshake is not done)."""
        if self.close_sent or not self.handshake_complete or self.transport.is_closing():
            return False
        self.transport.write(frame)
        return True

    @property
    def buffered(self) -> int:
        """Bytes in the transport's write buffer."""
        return int(self.transport.get_write_buffer_size())

    def close_with(self, code: int, reason: str) -> None:
        """Queue the close frame behind the buffered frames and close the connection when the
        peer answers (or after uvicorn's close timeout), as uvicorn's own close does, but
        without first waiting for a backed-up reader to drain (that one is being let go)."""
        if self.close_sent or self.transport.is_closing():
            return
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)
