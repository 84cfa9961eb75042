"""Simulated database outages for tests: the shared PostgreSQL is never stopped.

- a stopped server: a port nothing listens on (`closed_port()`);
- a hung server: `HungServer`, a TCP listener that accepts connections and never says a word.
"""

import socket
import threading


def closed_port() -> int:
    """A local port nobody listens on (bound once to pick it, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HungServer:
    """Accepts every connection and never answers: what a frozen PostgreSQL looks like to a client."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(client)  # kept open, never read, never answered

    def close(self):
        self.listener.close()
        for s in self.accepted:
            try:
                s.close()
            except OSError:
                pass
