"""One GUI per index: a second `deskfind gui` hands its request to the running one.

This is also how the quick-search popup gets a keyboard shortcut on desktops where Qt
cannot grab a global hotkey: the user binds `deskfind gui --quick` to a key in the
desktop's keyboard settings, and the running app shows its popup.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QAbstractSocket, QLocalServer, QLocalSocket

REQUESTS = ("show", "quick")
QUICK_COMMAND = "deskfind gui --quick"
MAX_SOCKET_PATH = 100  # sockaddr_un holds 108 bytes on Linux, fewer elsewhere


def _private(folder: Path) -> bool:
    """True when `folder` is a directory of this user that nobody else can enter."""
    try:
        st = folder.lstat()
    except OSError:
        return False
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()
            and not st.st_mode & 0o077)


def _candidate_dirs(data_dir: Path) -> list[Path]:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    fallback = Path(tempfile.gettempdir()) / f"deskfind-{os.getuid()}"
    for made in (data_dir, fallback):
        with contextlib.suppress(OSError):  # then it is simply not a candidate
            made.mkdir(mode=0o700, parents=True, exist_ok=True)
    return [*([Path(runtime)] if runtime else []), data_dir, fallback]


def channel_name(data_dir: Path) -> str:
    """The socket path of the GUI of `data_dir`: in a folder only this user can enter
    (the runtime dir, else the data dir), so no other user can take or squat it."""
    digest = hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:16]
    for folder in _candidate_dirs(data_dir):
        path = str(folder / f"deskfind-gui-{digest}.sock")
        if _private(folder) and len(os.fsencode(path)) <= MAX_SOCKET_PATH:
            return path
    raise OSError("no private folder for the single-instance socket")


class SingleInstance(QObject):
    """The local channel between GUI processes of one user and one data directory."""

    requested = Signal(str)  # one of REQUESTS

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        try:
            self.name = channel_name(data_dir)
        except OSError:
            self.name = ""  # no safe place: every start is its own instance
        self.server: QLocalServer | None = None
        self._clients: list[QLocalSocket] = []

    def forward(self, request: str, timeout_ms: int = 500) -> bool:
        """Send `request` to a running instance; False when there is none."""
        if not self.name:
            return False
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(timeout_ms):
            return False
        socket.write(request.encode() + b"\n")
        sent = socket.waitForBytesWritten(timeout_ms)
        socket.disconnectFromServer()
        return sent

    def listen(self) -> bool:
        """Become the instance others talk to (only this user may connect)."""
        if not self.name:
            return False
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._accept)
        if self.server.listen(self.name):
            return True
        if self.server.serverError() != QAbstractSocket.SocketError.AddressInUseError:
            return False
        QLocalServer.removeServer(self.name)  # left by a crashed instance: none answered
        return self.server.listen(self.name)

    def _accept(self) -> None:
        assert self.server is not None
        while (socket := self.server.nextPendingConnection()) is not None:
            self._clients.append(socket)
            socket.readyRead.connect(self._read)
            socket.disconnected.connect(self._drop_closed)

    def _read(self) -> None:
        for socket in list(self._clients):
            while socket.canReadLine():
                line = bytes(socket.readLine().data()).decode(errors="replace").strip()
                if line in REQUESTS:
                    self.requested.emit(line)

    def _drop_closed(self) -> None:
        self._read()  # a short request can arrive together with the disconnect
        for socket in [s for s in self._clients
                       if s.state() == QLocalSocket.LocalSocketState.UnconnectedState]:
            self._clients.remove(socket)
            socket.deleteLater()

    def close(self) -> None:
        for socket in self._clients:
            socket.readyRead.disconnect(self._read)
            socket.disconnected.disconnect(self._drop_closed)
            socket.abort()
        self._clients.clear()
        if self.server is not None:
            self.server.close()
