"""The service's local channel: a Unix socket in a private folder, an auth key, JSON.

Only the owner can reach it: the socket lives in the 0700 data directory (or, when that
path is too long for a socket, in a 0700 folder of ours under the temp dir or the
runtime dir), and every connection must prove within AUTH_SECONDS that it knows the key
in the 0600 `service.key` file.  Each connection has its own thread and at most
MAX_CONNECTIONS are open at once, so a peer that stalls holds up only itself.  Messages
are JSON, never pickles, so a peer can send data but never code.

Every request and reply carries the protocol version (`"v"`); a peer speaking another
one gets a ProtocolError saying so.  A request that fails with one of our own errors
comes back as `{"error": {"type": name, "message": text}}` and `call` raises the same
class again, so a bad query is a QueryError on either side of the socket.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import socket
import stat
import struct
import tempfile
import threading
from collections.abc import Callable
from multiprocessing import AuthenticationError
from multiprocessing.connection import (
    Connection,
    answer_challenge,
    deliver_challenge,
)
from pathlib import Path
from typing import Any

from app.errors import ProtocolError, rebuilt
from engine.errors import DeskfindError, EngineError

log = logging.getLogger("deskfind.ipc")

KEY_FILE = "service.key"
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on macOS
AUTH_SECONDS = 5.0  # a peer must prove it knows the key this fast, or it is hung up on
IDLE_SECONDS = 300.0  # an authenticated connection silent this long is closed
MAX_CONNECTIONS = 32  # more at once are refused: stalled peers cannot pile up threads
PROTOCOL = 1  # the version of the request and reply format; bumped when either changes


class ServiceUnavailable(DeskfindError):
    """No service answers on this data directory."""


def socket_path(data_dir: Path) -> Path:
    """Where the service of `data_dir` listens: in the data dir, else (that path is too
    long for a socket) in a folder that only this user can enter."""
    direct = data_dir / "service.sock"
    if _fits(direct):
        return direct
    name = f"deskfind-{hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:16]}.sock"
    shared = _claimed(Path(tempfile.gettempdir()) / f"deskfind-{os.getuid()}")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    # The temp dir first: every process of the user finds it whatever its environment
    # (cron, sudo and some ssh sessions lack XDG_RUNTIME_DIR), so no client misses a
    # running service and indexes as a second writer.  The runtime dir when it is taken.
    for folder in (shared, *([Path(runtime)] if runtime else [])):
        if not _refusal(folder) and _fits(folder / name):
            return folder / name
    why = _refusal(shared) or "leaves no room for the socket name"
    raise EngineError(f"cannot make a private socket folder: {shared} {why}; "
                      "set XDG_RUNTIME_DIR or use a shorter data dir")


def _fits(path: Path) -> bool:
    return len(os.fsencode(path)) <= _MAX_SOCKET_PATH


def _claimed(folder: Path) -> Path:
    """`folder`, made if missing and closed to others if it is ours."""
    with contextlib.suppress(OSError):  # it exists, or cannot be made: _refusal says why
        folder.mkdir(mode=0o700)
    with contextlib.suppress(OSError):
        st = folder.lstat()
        # Ours and not a link, so nobody else can swap it before the chmod (sticky /tmp).
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid():
            os.chmod(folder, 0o700)
    return folder


def _refusal(folder: Path) -> str:
    """Why `folder` may not hold the socket, or "" when it may.

    Another user's folder, or a link they planted, would let them take the socket's
    name (the service cannot start) or answer in its place."""
    try:
        st = folder.lstat()
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISLNK(st.st_mode):
        return "is a link"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a folder"
    if st.st_uid != os.getuid():
        return "belongs to another user"
    if st.st_mode & 0o077:
        return "is open to other users"
    return ""


def _new_key(data_dir: Path) -> bytes:
    key = secrets.token_bytes(32)
    path = data_dir / KEY_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    os.chmod(path, 0o600)
    return key


def _listen(address: Path) -> socket.socket:
    """A socket listening at `address` that only this user may connect to."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o077)
    try:
        sock.bind(str(address))
        sock.listen()
    except OSError as exc:
        sock.close()
        raise EngineError(f"cannot listen on {address}: {exc.strerror}") from exc
    finally:
        os.umask(old)
    return sock


def _set_timeouts(sock: socket.socket, seconds: float) -> None:
    """Bound each read and write of `sock` in the kernel: Connection reads and writes
    its file descriptor directly, so socket.settimeout would not apply."""
    whole = int(seconds)
    limit = struct.pack("ll", whole, int((seconds - whole) * 1e6))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)


def _hang_up(sock: socket.socket) -> None:
    """End `sock` for every thread blocked on it, which closing alone does not do."""
    with contextlib.suppress(OSError):  # already ended by the peer
        sock.shutdown(socket.SHUT_RDWR)


Handler = Callable[[dict[str, Any]], dict[str, Any]]


class Server:
    """Answers requests on a thread per connection until closed."""

    def __init__(self, data_dir: Path, handle: Handler) -> None:
        self.address = socket_path(data_dir)
        self.address.unlink(missing_ok=True)  # left by a killed service; we hold the lock
        self.key = _new_key(data_dir)
        self.sock = _listen(self.address)
        self.handle = handle
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._closed = threading.Event()
        self.thread = threading.Thread(target=self._accept, name="ipc-accept", daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        """Hand each connection to its own thread; the handshake never runs here, so a
        peer that stalls in it cannot hold up the others."""
        while not self._closed.is_set():
            try:
                sock, _ = self.sock.accept()
            except OSError as exc:
                if not self._closed.is_set():
                    log.warning("cannot accept a connection: %s", exc)
                continue
            if not self._slots.acquire(blocking=False):
                log.warning("refused a connection: %d already open", MAX_CONNECTIONS)
                sock.close()
                continue
            threading.Thread(target=self._serve, args=(sock,), name="ipc-serve",
                             daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            # Connection owns a duplicate, so `sock` stays usable to hang up on the peer.
            with sock, Connection(os.dup(sock.fileno())) as conn:
                if self._authenticated(sock, conn):
                    _set_timeouts(sock, IDLE_SECONDS)
                    self._answer_all(conn)
        finally:
            self._slots.release()

    def _authenticated(self, sock: socket.socket, conn: Connection) -> bool:
        """Run the handshake (the client's, mirrored) against a deadline for all of it,
        not for each read: a peer trickling bytes is cut off all the same."""
        deadline = threading.Timer(AUTH_SECONDS, _hang_up, args=(sock,))
        deadline.start()
        try:
            deliver_challenge(conn, self.key)
            answer_challenge(conn, self.key)
            return True
        except (OSError, EOFError, AuthenticationError) as exc:
            log.warning("refused a connection: %s", exc or "no answer to the challenge")
            return False
        finally:
            deadline.cancel()
            deadline.join()  # it must not shut down a socket closed and reused after us

    def _answer_all(self, conn: Connection) -> None:
        try:
            while True:
                request = json.loads(conn.recv_bytes(1 << 20))
                conn.send_bytes(json.dumps(self._answer(request)).encode())
        except (EOFError, OSError, ValueError):  # hung up, idle too long, or not JSON
            return

    def _answer(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict):
            return _failed(ProtocolError("bad request: not a JSON object"))
        if request.get("v") != PROTOCOL:
            return _failed(ProtocolError(
                f"this Deskfind service speaks protocol {PROTOCOL}, the client "
                f"{request.get('v', 'an older one')}; use the same version of both"))
        try:
            return {"v": PROTOCOL, "ok": self.handle(request)}
        except DeskfindError as exc:
            return _failed(exc)
        except Exception as exc:  # a bug must not take the service down
            log.exception("request %r failed", request.get("op"))
            return _failed(DeskfindError(f"internal error: {exc}"))

    def close(self) -> None:
        self._closed.set()
        _hang_up(self.sock)  # wakes the accept thread
        self.sock.close()
        self.address.unlink(missing_ok=True)


def _failed(exc: DeskfindError) -> dict[str, Any]:
    return {"v": PROTOCOL, "error": {"type": type(exc).__name__, "message": str(exc)}}


def _connect(data_dir: Path, timeout: float) -> Connection:
    """Client() without its unbounded waits: a hung service must not hang the caller."""
    key = (data_dir / KEY_FILE).read_bytes()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(str(socket_path(data_dir)))
        _set_timeouts(sock, timeout)
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
    """Send one request to the service; raise ServiceUnavailable when none answers, and
    the service's own error (the same class) when the request failed there."""
    try:
        conn = _connect(data_dir, timeout)
    except (OSError, EOFError, AuthenticationError) as exc:
        raise ServiceUnavailable(f"no Deskfind service at {data_dir}") from exc
    with conn:
        try:
            conn.send_bytes(json.dumps({**request, "v": PROTOCOL}).encode())
            if not conn.poll(timeout):
                raise ServiceUnavailable("the Deskfind service did not answer in time")
            reply = json.loads(conn.recv_bytes())
        except (OSError, EOFError, ValueError) as exc:
            raise ServiceUnavailable(f"the Deskfind service hung up: {exc}") from exc
    return _result(reply)


def _result(reply: Any) -> dict[str, Any]:
    """The answer in `reply`, or the error it carries raised as its own class."""
    version = reply.get("v") if isinstance(reply, dict) else None
    if version != PROTOCOL:
        raise ProtocolError(
            f"the running Deskfind service speaks protocol {version or 'an older one'}, "
            f"this program {PROTOCOL}: restart the service with this version "
            "(`deskfind service --stop`, then start it again)")
    error = reply.get("error")
    if error is not None:
        if not isinstance(error, dict):
            raise DeskfindError(str(error))
        raise rebuilt(str(error.get("type", "")), str(error.get("message", "")))
    result = reply.get("ok")
    if not isinstance(result, dict):
        raise ProtocolError("the Deskfind service sent a reply without an answer")
    return result
