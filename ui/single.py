"""One GUI per index: a second `deskfind gui` hands its request to the running one.

This is also how the quick-search popup gets a keyboard shortcut on desktops where Qt
cannot grab a global hotkey: the user binds `deskfind gui --quick` to a key in the
desktop's keyboard settings, and the running app shows its popup.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

REQUESTS = ("show", "quick")
QUICK_COMMAND = "deskfind gui --quick"


def channel_name(data_dir: Path) -> str:
    digest = hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:16]
    return f"deskfind-{os.getuid()}-{digest}"


class SingleInstance(QObject):
    """The local channel between GUI processes of one user and one data directory."""

    requested = Signal(str)  # one of REQUESTS

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = channel_name(data_dir)
        self.server: QLocalServer | None = None
        self._clients: list[QLocalSocket] = []

    def forward(self, request: str, timeout_ms: int = 500) -> bool:
        """Send `request` to a running instance; False when there is none."""
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
        QLocalServer.removeServer(self.name)  # a socket left by a crashed instance
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._accept)
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
