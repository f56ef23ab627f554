"""Running the app under uvicorn in a background thread, on a free loopback port.

For tests and the benchmark: they talk real HTTP to a real server, in-process so they can
fill the store directly.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

STARTUP_TIMEOUT = 30.0


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    server: uvicorn.Server


@contextmanager
def serve_in_thread(app: FastAPI, host: str = "127.0.0.1", **config: object) -> Iterator[RunningServer]:
    """Serve ``app`` until the block ends; yields the base URL (``http://127.0.0.1:PORT``)."""
    # We bind the socket ourselves so the port is known before the server starts (port 0).
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only when
    # the listening socket says so; with proto 0, Nagle + delayed ACKs add ~40 ms per response.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", **config))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the API server stopped during startup (see the log above)")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the API server did not start within {STARTUP_TIMEOUT:g}s")
        time.sleep(0.01)
    try:
        yield RunningServer(f"http://{host}:{port}", server)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
