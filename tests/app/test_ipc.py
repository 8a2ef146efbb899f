"""The service channel: stalled peers, the connection bound, the private socket folder."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from app import ipc
from app.errors import ProtocolError, UsageError
from engine.errors import DeskfindError, EngineError, QueryError
from tests.helpers import wait_until

REPO = Path(__file__).resolve().parents[2]
GUARD = 10.0  # a socket timeout that only turns a hang into a failure


def echo(request: dict[str, Any]) -> dict[str, Any]:
    if request["op"] == "bad query":
        raise QueryError("unbalanced quote")
    if request["op"] == "refused":
        raise UsageError("not a root: /x")
    if request["op"] == "bug":
        raise KeyError("oops")
    return {"echo": request["op"]}


@contextmanager
def running_server(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    server = ipc.Server(data, echo)
    try:
        yield data
    finally:
        server.close()


def silent_peer(data: Path) -> socket.socket:
    """A connection that never says a word."""
    peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    peer.settimeout(GUARD)
    peer.connect(str(ipc.socket_path(data)))
    return peer


def answers(data: Path) -> bool:
    try:
        return ipc.call(data, {"op": "ping"}, timeout=5) == {"echo": "ping"}
    except ipc.ServiceUnavailable:
        return False


# -- stalled peers ----------------------------------------------------------------------


def test_a_silent_peer_does_not_block_other_clients(tmp_path):
    with running_server(tmp_path) as data:
        peer = silent_peer(data)
        try:
            assert ipc.call(data, {"op": "ping"}, timeout=5) == {"echo": "ping"}
        finally:
            peer.close()


def test_a_peer_that_does_not_authenticate_is_hung_up_on(tmp_path, monkeypatch):
    monkeypatch.setattr(ipc, "AUTH_SECONDS", 0.2)
    with running_server(tmp_path) as data:
        peer = silent_peer(data)
        with peer:
            assert peer.recv(1024)  # the challenge
            assert peer.recv(1024) == b""  # no answer before the deadline: closed


def test_connections_over_the_bound_are_closed_at_once(tmp_path, monkeypatch):
    monkeypatch.setattr(ipc, "MAX_CONNECTIONS", 2)
    monkeypatch.setattr(ipc, "AUTH_SECONDS", 600.0)  # the held peers keep their slots
    with running_server(tmp_path) as data:
        held = [silent_peer(data) for _ in range(2)]
        try:
            for peer in held:
                assert peer.recv(1024)  # served: a challenge came
            with silent_peer(data) as extra:
                assert extra.recv(1024) == b""  # over the bound: closed, no challenge
            held.pop().close()
            wait_until(lambda: answers(data), timeout=GUARD)  # a freed slot serves again
        finally:
            for peer in held:
                peer.close()


def test_an_authenticated_connection_serves_many_requests(tmp_path):
    with running_server(tmp_path) as data, ipc._connect(data, GUARD) as conn:
        for op in ("ping", "status"):
            conn.send_bytes(f'{{"v": {ipc.PROTOCOL}, "op": "{op}"}}'.encode())
            assert json.loads(conn.recv_bytes()) == {"v": ipc.PROTOCOL, "ok": {"echo": op}}


def test_an_idle_authenticated_connection_is_closed(tmp_path, monkeypatch):
    monkeypatch.setattr(ipc, "IDLE_SECONDS", 0.2)
    with (running_server(tmp_path) as data, ipc._connect(data, GUARD) as conn,
          pytest.raises(EOFError)):
        conn.recv_bytes()  # the server hangs up once the connection idled too long


def test_close_stops_accepting_and_removes_the_socket(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    server = ipc.Server(data, echo)
    server.close()
    server.thread.join(GUARD)
    assert not server.thread.is_alive()
    assert not ipc.socket_path(data).exists()


# -- the private socket folder ----------------------------------------------------------


@pytest.fixture
def base() -> Iterator[Path]:
    """A folder with a short path, like the real temp and runtime dirs (tmp_path is too
    long to hold a socket)."""
    folder = Path(tempfile.mkdtemp(prefix="df-"))
    yield folder
    shutil.rmtree(folder)


@pytest.fixture
def long_data_dir(base, tmp_path, monkeypatch) -> Path:
    """A data dir whose socket path is too long, with the temp dir moved into `base`."""
    temp = base / "tmp"
    temp.mkdir()
    monkeypatch.setattr(ipc.tempfile, "gettempdir", lambda: str(temp))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    data = tmp_path / ("d" * 120)
    data.mkdir(mode=0o700)
    return data


def temp_folder(base: Path, uid: int | None = None) -> Path:
    return base / "tmp" / f"deskfind-{os.getuid() if uid is None else uid}"


def private_dir(path: Path, mode: int = 0o700) -> Path:
    path.mkdir()
    os.chmod(path, mode)
    return path


def test_the_temp_folder_is_made_private(base, long_data_dir):
    folder = temp_folder(base)
    private_dir(folder, 0o755)  # ours, but left open
    assert ipc.socket_path(long_data_dir).parent == folder
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_planted_link_is_never_followed(base, long_data_dir):
    elsewhere = private_dir(base / "elsewhere")
    temp_folder(base).symlink_to(elsewhere)
    with pytest.raises(EngineError, match="is a link; set XDG_RUNTIME_DIR"):
        ipc.socket_path(long_data_dir)


def test_a_folder_of_another_user_is_never_used(base, long_data_dir, monkeypatch):
    stranger = os.getuid() + 1
    private_dir(temp_folder(base, stranger))  # made by us, so not the stranger's
    monkeypatch.setattr(ipc.os, "getuid", lambda: stranger)
    with pytest.raises(EngineError, match="belongs to another user"):
        ipc.socket_path(long_data_dir)


def test_the_runtime_dir_stands_in_for_a_taken_temp_folder(base, long_data_dir,
                                                            monkeypatch):
    temp_folder(base).symlink_to(private_dir(base / "elsewhere"))
    runtime = private_dir(base / "run")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert ipc.socket_path(long_data_dir).parent == runtime


def test_an_open_runtime_dir_is_not_used(base, long_data_dir, monkeypatch):
    temp_folder(base).symlink_to(private_dir(base / "elsewhere"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(private_dir(base / "run", 0o755)))
    with pytest.raises(EngineError, match="is a link"):
        ipc.socket_path(long_data_dir)


def test_every_environment_finds_the_same_socket(base, long_data_dir, monkeypatch):
    """A CLI run from cron or ssh often lacks XDG_RUNTIME_DIR: it must still find the
    service the desktop session started, or it runs as a second writer."""
    without = ipc.socket_path(long_data_dir)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(private_dir(base / "run")))
    assert ipc.socket_path(long_data_dir) == without


def test_the_service_refuses_a_taken_folder_in_one_line(base, long_data_dir):
    temp_folder(base).symlink_to(private_dir(base / "elsewhere"))
    root = private_dir(base / "root")
    config = base / "config.toml"
    config.write_text(f'roots = ["{root}"]\n')
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    env |= {"DESKFIND_DATA_DIR": str(long_data_dir), "DESKFIND_CONFIG": str(config),
            "TMPDIR": str(base / "tmp"), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "app.cli", "service"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"deskfind: error: cannot make a private socket folder: {temp_folder(base)} is a "
        "link; set XDG_RUNTIME_DIR or use a shorter data dir"]


# -- versions and errors that travel ------------------------------------------------------


def test_a_failed_request_raises_the_same_error_class_in_the_client(tmp_path):
    with running_server(tmp_path) as data:
        with pytest.raises(QueryError, match="^unbalanced quote$"):
            ipc.call(data, {"op": "bad query"}, timeout=GUARD)
        with pytest.raises(UsageError, match="^not a root: /x$"):
            ipc.call(data, {"op": "refused"}, timeout=GUARD)
        with pytest.raises(DeskfindError, match="internal error") as bug:
            ipc.call(data, {"op": "bug"}, timeout=GUARD)
        assert type(bug.value) is DeskfindError  # a bug's own type is not re-raised
        assert ipc.call(data, {"op": "ping"}, timeout=GUARD) == {"echo": "ping"}


def test_a_peer_naming_an_unknown_or_foreign_error_gets_the_base_class():
    for name in ("SystemExit", "KeyboardInterrupt", "NoSuchError", ""):
        with pytest.raises(DeskfindError) as raised:
            ipc._result({"v": ipc.PROTOCOL, "error": {"type": name, "message": "m"}})
        assert type(raised.value) is DeskfindError and str(raised.value) == "m"


def test_a_client_of_another_protocol_version_gets_a_clear_error(tmp_path):
    with running_server(tmp_path) as data, ipc._connect(data, GUARD) as conn:
        conn.send_bytes(b'{"op": "ping"}')  # an older client: no version at all
        reply = json.loads(conn.recv_bytes())
        assert reply["error"]["type"] == "ProtocolError"
        assert "protocol" in reply["error"]["message"]
        conn.send_bytes(json.dumps({"v": ipc.PROTOCOL + 1, "op": "ping"}).encode())
        assert json.loads(conn.recv_bytes())["error"]["type"] == "ProtocolError"


@pytest.mark.parametrize("reply", [{"ok": {}}, {"error": "old style"}, [1], {"v": 99, "ok": {}}])
def test_a_service_of_another_protocol_version_gets_a_clear_error(reply):
    with pytest.raises(ProtocolError, match="protocol .* restart the service"):
        ipc._result(reply)
