"""The io workload's server: HTTP/1.1 on 127.0.0.1, every answer 20 ms after its request.

Run in its own process (``python _io_server.py --delay 0.02``); prints
``PORT`` on the first line of stdout once it listens, then serves until it is
terminated, and writes the number of requests it answered to stderr on exit.
An asyncio ``Protocol`` with keep-alive and Content-Length bodies: the least a
server does, so 2,000 requests at 100 in flight (ideal 0.4 s) measure the
clients, not the server.
"""

from __future__ import annotations

import argparse
import asyncio  # noqa: TID251  (a server for the peers; Cadenza does not run here)
import signal
import sys

BODY = b'{"output": null}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)
answered = 0


class Delayed(asyncio.Protocol):
    """Answers each complete request after ``delay`` seconds, in order, on one connection."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            length = 0
            marker = head.find(b"content-length:")
            if marker >= 0:
                length = int(head[marker + 15 :].split(b"\r\n", 1)[0])
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            asyncio.get_running_loop().call_later(self.delay, self.answer)

    def answer(self) -> None:
        global answered
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(RESPONSE)
            answered += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(delay: float) -> None:
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    server = await loop.create_server(lambda: Delayed(delay), "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await stop


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--delay", type=float, default=0.02, help="seconds before each answer")
    args = parser.parse_args()
    asyncio.run(serve(args.delay))
    print(f"answered {answered} requests", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
