"""The service's local channel: a Unix socket in a private folder, an auth key, JSON.

Only the owner can reach it: the socket lives in the 0700 data directory (or a 0700
folder of ours under the temp dir when that path is too long for a socket), and every
connection must prove it knows the key in the 0600 `service.key` file.  Messages are
JSON, never pickles, so a peer can send data but never code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import socket
import struct
import tempfile
import threading
from collections.abc import Callable
from multiprocessing import AuthenticationError
from multiprocessing.connection import (
    Connection,
    Listener,
    answer_challenge,
    deliver_challenge,
)
from pathlib import Path
from typing import Any

from engine.errors import EngineError

log = logging.getLogger("deskfind.ipc")

KEY_FILE = "service.key"
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on macOS


class ServiceUnavailable(EngineError):
    """No service answers on this data directory."""


def socket_path(data_dir: Path) -> Path:
    direct = data_dir / "service.sock"
    if len(os.fsencode(direct)) <= _MAX_SOCKET_PATH:
        return direct
    private = Path(tempfile.gettempdir()) / f"deskfind-{os.getuid()}"
    private.mkdir(mode=0o700, exist_ok=True)
    os.chmod(private, 0o700)
    digest = hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:16]
    return private / f"{digest}.sock"


def _new_key(data_dir: Path) -> bytes:
    key = secrets.token_bytes(32)
    path = data_dir / KEY_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    os.chmod(path, 0o600)
    return key


Handler = Callable[[dict[str, Any]], dict[str, Any]]


class Server:
    """Answers requests on a thread per connection until closed."""

    def __init__(self, data_dir: Path, handle: Handler) -> None:
        self.address = socket_path(data_dir)
        self.address.unlink(missing_ok=True)  # left by a killed service; we hold the lock
        key = _new_key(data_dir)
        old = os.umask(0o077)
        try:
            self.listener = Listener(str(self.address), family="AF_UNIX", authkey=key)
        finally:
            os.umask(old)
        self.handle = handle
        self._closed = threading.Event()
        self.thread = threading.Thread(target=self._accept, name="ipc-accept", daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn = self.listener.accept()
            except (OSError, EOFError, AuthenticationError) as exc:  # wrong key, or closed
                if not self._closed.is_set():
                    log.warning("refused a connection: %s", exc)
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: Connection) -> None:
        with conn:
            try:
                while True:
                    request = json.loads(conn.recv_bytes(1 << 20))
                    conn.send_bytes(json.dumps(self._answer(request)).encode())
            except (EOFError, OSError, ValueError):
                return

    def _answer(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict):
            return {"error": "bad request"}
        try:
            return {"ok": self.handle(request)}
        except EngineError as exc:
            return {"error": str(exc)}
        except Exception as exc:  # a bug must not take the service down
            log.exception("request %r failed", request.get("op"))
            return {"error": f"internal error: {exc}"}

    def close(self) -> None:
        self._closed.set()
        self.listener.close()
        self.address.unlink(missing_ok=True)


def _connect(data_dir: Path, timeout: float) -> Connection:
    """Client() without its unbounded waits: a hung service must not hang the caller."""
    key = (data_dir / KEY_FILE).read_bytes()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(str(socket_path(data_dir)))
        seconds = int(timeout)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                        struct.pack("ll", seconds, int((timeout - seconds) * 1e6)))
        sock.setblocking(True)
    except BaseException:
        sock.close()
        raise
    conn = Connection(sock.detach())
    try:
        answer_challenge(conn, key)
        deliver_challenge(conn, key)
    except BaseException:
        conn.close()
        raise
    return conn


def call(data_dir: Path, request: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
    """Send one request to the service; raise ServiceUnavailable when none answers."""
    try:
        conn = _connect(data_dir, timeout)
    except (OSError, EOFError, AuthenticationError) as exc:
        raise ServiceUnavailable(f"no Deskfind service at {data_dir}") from exc
    with conn:
        try:
            conn.send_bytes(json.dumps(request).encode())
            if not conn.poll(timeout):
                raise ServiceUnavailable("the Deskfind service did not answer in time")
            reply = json.loads(conn.recv_bytes())
        except (OSError, EOFError, ValueError) as exc:
            raise ServiceUnavailable(f"the Deskfind service hung up: {exc}") from exc
    if "error" in reply:
        raise EngineError(reply["error"])
    result: dict[str, Any] = reply["ok"]
    return result
