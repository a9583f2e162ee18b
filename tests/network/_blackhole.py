"""A switchable TCP stand-in for a server: a listening socket on loopback whose mode decides
what each new connection meets.

* ``"hole"``: accepted and never answered (a hung server, a half-open network path);
* ``"refuse"``: closed at once (a killed server);
* ``"forward"``: piped both ways to the real server (the server answers again).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Proxy:
    """Listens on ``127.0.0.1:port`` in front of ``upstream`` (``(host, port)``)."""

    def __init__(self, upstream: tuple[str, int], mode: str = "hole") -> None:
        self.upstream = upstream
        self.mode = mode
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.mode == "refuse":
                conn.close()
            elif self.mode == "hole":
                self._open.append(conn)  # kept open, never read from or written to
            else:
                upstream = socket.create_connection(self.upstream)
                self._open += [conn, upstream]
                for source, sink in ((conn, upstream), (upstream, conn)):
                    threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._listener.close()
        for conn in self._open:
            conn.close()


@contextmanager
def proxy(upstream: tuple[str, int], mode: str = "hole") -> Iterator[Proxy]:
    """A :class:`Proxy` in front of ``upstream``, closed on leaving the block."""
    stand_in = Proxy(upstream, mode)
    try:
        yield stand_in
    finally:
        stand_in.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
