"""A switchable TCP proxy, to make a real server (Rasa, PostgreSQL) unreachable and back again.

Switching off also cuts the connections already open, as a crash or a network
failure would: a pooled connection must not outlive an outage unnoticed."""

from __future__ import annotations

import asyncio
import threading


class TcpProxy:
    """`delay_s`: what a client sends reaches the server this much later (a slow server, or
    with a long one, a server that hangs)."""

    def __init__(self, listen_port: int, target_port: int, host: str = "127.0.0.1", delay_s: float = 0.0) -> None:
        self.host, self.listen_port, self.target_port = host, listen_port, target_port
        self.delay_s = delay_s
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float = 0.0) -> None:
        try:
            while data := await reader.read(65536):
                await asyncio.sleep(delay_s)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            writer.close()
            return
        self._open.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer, self.delay_s), self._pipe(up_reader, writer))

    def _run(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def enable(self) -> None:
        async def start() -> None:
            self._server = await asyncio.start_server(self._handle, self.host, self.listen_port)

        self._run(start())

    def disable(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
                self._server = None
            for writer in list(self._open):
                writer.transport.abort()
            self._open.clear()

        self._run(stop())

    def close(self) -> None:
        self.disable()
        self._loop.call_soon_threadsafe(self._loop.stop)
