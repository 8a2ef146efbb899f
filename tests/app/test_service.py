"""`deskfind service` as a real subprocess: watching, the queue, IPC, crashes."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app import ipc
from engine.store import Store
from indexer.walk import WalkRules, walk
from tests.helpers import wait_until, write_files

REPO = Path(__file__).resolve().parents[2]


class Running:
    """A service process on a temp data dir and config."""

    def __init__(self, tmp: Path, roots: list[Path]) -> None:
        self.data = tmp / "data"
        self.config = tmp / "config.toml"
        self.config.write_text("roots = [" + ", ".join(f'"{r}"' for r in roots) + "]\n"
                               "reconcile_minutes = 60\n")
        self.env = {**os.environ, "DESKFIND_DATA_DIR": str(self.data),
                    "DESKFIND_CONFIG": str(self.config), "PYTHONPATH": str(REPO)}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tmp / "service.log"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "app.cli", "service"],
                                         env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        wait_until(self._answers, timeout=60)

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"service exited: {self.log.read_text()}")
        try:
            ipc.call(self.data, {"op": "ping"}, timeout=5)
            return True
        except ipc.ServiceUnavailable:
            return False

    def status(self) -> dict:
        return ipc.call(self.data, {"op": "status"})

    def search(self, query: str, mode: str = "lexical") -> list[str]:
        reply = ipc.call(self.data, {"op": "search", "query": query, "mode": mode,
                                     "limit": 50})
        return [os.path.basename(r["path"]) for r in reply["results"]]

    def start_on(self, root: Path, files: dict[str, str | bytes]) -> None:
        """Write `files` under `root`, start, and wait until they are all indexed."""
        write_files(root, files)
        self.start()
        wait_until(self.settled, timeout=120)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def settled(self) -> dict | None:
        s = self.status()
        done = s["phase"] == "idle" and s["queue"] == 0 and s["embedded"] == s["passages"]
        return s if done else None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                ipc.call(self.data, {"op": "stop"})
                self.proc.wait(timeout=30)
            except (ipc.ServiceUnavailable, subprocess.TimeoutExpired):
                self.kill()


@pytest.fixture
def service(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    running = Running(tmp_path, [root])
    yield running, root
    running.stop()


def disk_files(root: Path) -> set[bytes]:
    return {f.path for f in walk(bytes(root), WalkRules())}


def index_files(data: Path) -> set[bytes]:
    store = Store.open(data / "index.sqlite3", readonly=True)
    try:
        return {bytes(r[0]) for r in store.conn.execute("SELECT path FROM files")}
    finally:
        store.close()


def test_changes_are_reflected_while_running(service):
    svc, root = service
    write_files(root, {"old.txt": "aardvark notes"})
    svc.start()
    wait_until(svc.settled)
    assert svc.search("aardvark") == ["old.txt"]

    write_files(root, {"new.md": "# Fresh\n\nwombat sighting"})
    wait_until(lambda: svc.search("wombat") == ["new.md"], timeout=30)

    (root / "new.md").write_text("# Fresh\n\nplatypus sighting")
    wait_until(lambda: svc.search("platypus") == ["new.md"], timeout=30)
    assert svc.search("wombat") == []

    (root / "old.txt").rename(root / "renamed.txt")
    wait_until(lambda: svc.search("aardvark") == ["renamed.txt"], timeout=30)

    write_files(root, {"dir/inner.txt": "quokka inside"})
    wait_until(lambda: svc.search("quokka") == ["inner.txt"], timeout=30)
    (root / "dir").rename(root / "moved")
    wait_until(lambda: bytes(root / "moved" / "inner.txt") in index_files(svc.data)
               and bytes(root / "dir" / "inner.txt") not in index_files(svc.data), timeout=30)

    (root / "renamed.txt").unlink()
    wait_until(lambda: svc.search("aardvark") == [], timeout=30)
    wait_until(svc.settled)
    assert index_files(svc.data) == disk_files(root)
    assert svc.search("platypus sighting", mode="hybrid")[0] == "new.md"


def test_a_burst_of_creates_renames_and_deletes_converges(service):
    svc, root = service
    svc.start()
    rng = random.Random(3)
    for i in range(1500):
        (root / f"f{i}.txt").write_text(f"burst file {i} token{i}")
    for i in rng.sample(range(1500), 500):
        os.rename(root / f"f{i}.txt", root / f"g{i}.txt")
    for i in rng.sample(range(1500), 300):
        for name in (f"f{i}.txt", f"g{i}.txt"):
            if (root / name).exists():
                (root / name).unlink()
    wait_until(lambda: svc.settled() and index_files(svc.data) == disk_files(root), timeout=300)


def test_an_unmounted_root_keeps_its_documents(service, tmp_path):
    svc, root = service
    write_files(root, {"keep.txt": "emu feathers"})
    svc.start()
    wait_until(lambda: svc.search("emu") == ["keep.txt"], timeout=30)
    root.rename(tmp_path / "elsewhere")  # the drive goes away
    wait_until(lambda: svc.settled(), timeout=30)
    svc.stop()
    svc.start()  # a restart rescans the roots: the missing one must not be emptied
    wait_until(svc.settled)
    assert svc.search("emu") == ["keep.txt"]
    assert svc.status()["watch"][str(root)]["mode"] == "offline"
    (tmp_path / "elsewhere").rename(root)  # the drive comes back
    write_files(root, {"new.txt": "cassowary eggs"})
    wait_until(lambda: svc.search("cassowary") == ["new.txt"], timeout=60)
    assert svc.status()["watch"][str(root)]["mode"] == "inotify"


def test_only_one_service_per_index_and_strangers_are_refused(service, tmp_path):
    svc, _ = service
    svc.start()
    second = subprocess.run([sys.executable, "-m", "app.cli", "service"], env=svc.env,
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 1 and "already running" in second.stderr
    from multiprocessing.connection import Client

    with pytest.raises(Exception):  # noqa: B017 - wrong key: AuthenticationError or EOF
        Client(str(ipc.socket_path(svc.data)), family="AF_UNIX", authkey=b"guess").close()
    assert svc.status()["phase"]  # still answering
    index = subprocess.run([sys.executable, "-m", "app.cli", "index", str(tmp_path)],
                           env=svc.env, capture_output=True, text=True, timeout=60)
    assert index.returncode == 2 and "deskfind roots add" in index.stderr


def test_kill_9_at_random_points_loses_nothing(service):
    svc, root = service
    rng = random.Random(11)
    write_files(root, {f"doc{i}.txt": f"document {i} version 0 token{i}v0" for i in range(120)})
    version = {i: 0 for i in range(120)}
    for _ in range(20):
        svc.start()
        # Let it work for a random moment, then pull the plug.
        with contextlib.suppress(AssertionError):
            wait_until(svc.settled, timeout=rng.uniform(0.05, 1.5))
        svc.kill()
        for i in rng.sample(sorted(version), 25):
            version[i] += 1
            (root / f"doc{i}.txt").write_text(f"document {i} version {version[i]} "
                                              f"token{i}v{version[i]}")
        new = max(version) + 1
        version[new] = 0
        (root / f"doc{new}.txt").write_text(f"document {new} version 0 token{new}v0")
        gone = rng.choice(sorted(version))
        (root / f"doc{gone}.txt").unlink()
        del version[gone]
    svc.start()
    wait_until(svc.settled, timeout=300)
    for i in rng.sample(sorted(version), 10):
        assert svc.search(f"token{i}v{version[i]}") == [f"doc{i}.txt"]
        if version[i]:
            assert svc.search(f"token{i}v{version[i] - 1}") == []
    svc.stop()
    assert index_files(svc.data) == disk_files(root)
    store = Store.open(svc.data / "index.sqlite3")
    try:
        assert store.integrity_problems() == []
        assert store.counts().embedded == store.counts().chunks == len(version)
    finally:
        store.close()


def test_the_service_marks_the_sentence_closest_in_meaning(service):
    svc, _ = service
    svc.start()
    passage = "The meeting moved to Thursday. The printer upstairs is jammed with paper."
    reply = ipc.call(svc.data, {"op": "best_sentences", "query": "copier paper stuck",
                                "passages": [passage, "One sentence only"]})
    (a, b), none = reply["spans"]
    assert "printer" in passage[a:b] and none is None


UTF7_PAGE = (b'<html><head><meta charset="utf-7"></head><body><p>Lone +2AA- half, '
             b"and the word quokka.</p></body></html>")


def test_a_page_that_once_stopped_the_service_at_every_start_is_indexed(service):
    svc, root = service
    svc.start_on(root, {"seven.html": UTF7_PAGE, "plain.txt": "plain wombat words"})
    assert svc.search("quokka") == ["seven.html"] and svc.search("wombat") == ["plain.txt"]
    write_files(root, {"later/seven.htm": UTF7_PAGE})  # and again, through the queue
    wait_until(lambda: len(svc.search("quokka")) == 2, timeout=60)
    assert svc.alive()


def test_the_service_waits_out_another_writer_instead_of_exiting(service):
    svc, root = service
    svc.start_on(root, {"first.txt": "first words"})
    other = sqlite3.connect(svc.data / "index.sqlite3", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # a long transaction of another writer
        write_files(root, {"second.txt": "the numbat arrived"})
        wait_until(lambda: svc.status()["phase"] == "waiting", timeout=120)
        other.execute("COMMIT")
    finally:
        other.close()
    wait_until(lambda: svc.search("numbat") == ["second.txt"], timeout=120)
    assert svc.alive()


def test_sigterm_stops_the_service_gracefully(service):
    svc, root = service
    svc.start_on(root, {"note.txt": "a note about bilbies"})
    assert svc.proc is not None
    svc.proc.send_signal(signal.SIGTERM)
    assert svc.proc.wait(timeout=60) == 0
    assert not ipc.socket_path(svc.data).exists()
    svc.start()  # the lock is free and the index intact
    assert svc.search("bilbies") == ["note.txt"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another user")
def test_another_user_cannot_reach_the_service(service, tmp_path):
    svc, root = service
    svc.start_on(root, {"note.txt": "the private narwhal memo"})
    os.chmod(tmp_path, 0o755)  # let the stranger see the folders, as a home dir might
    probe = ("import socket, sys\n"
             "s = socket.socket(socket.AF_UNIX)\n"
             "try:\n    s.connect(sys.argv[1])\nexcept OSError as e:\n"
             "    print('refused', e.errno)\nelse:\n    print('connected')\n"
             "try:\n    open(sys.argv[2], 'rb').read()\nexcept OSError as e:\n"
             "    print('no key', e.errno)\nelse:\n    print('key read')\n")
    run = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          sys.executable, "-c", probe, str(ipc.socket_path(svc.data)),
                          str(svc.data / ipc.KEY_FILE)],
                         capture_output=True, text=True, timeout=60, cwd="/")
    assert run.stdout.split("\n")[0].startswith("refused"), run.stdout + run.stderr
    assert run.stdout.split("\n")[1].startswith("no key"), run.stdout + run.stderr
    assert svc.search("narwhal") == ["note.txt"]  # and the owner is still served


def test_the_service_embeds_in_the_configured_precision_and_says_when_it_needs_a_restart(
        service):
    svc, root = service
    with svc.config.open("a") as fh:
        fh.write('embedding_precision = "int8"\n')
    svc.start_on(root, {"tides.txt": "The moon raises the sea twice a day."})
    store = Store.open(svc.data / "index.sqlite3", readonly=True)
    try:
        models = {m for (m,) in store.conn.execute("SELECT DISTINCT model_id FROM vectors")}
    finally:
        store.close()
    assert len(models) == 1 and "int8" in models.pop()
    changed = subprocess.run([sys.executable, "-m", "app.cli", "config",
                              "embedding_precision", "fp32"], env=svc.env, text=True,
                             capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    assert changed.returncode == 0, changed.stderr
    assert "reads this when it starts" in changed.stdout


def test_a_restarted_service_loads_the_vector_index_before_the_first_query(service):
    svc, root = service
    svc.start_on(root, {"a.txt": "the kettle whistles at dawn", "b.txt": "tides and moons"})
    svc.stop()
    svc.start()
    # No search has been made: the service itself loaded the vectors (at scale it
    # would be building the graph now, answering from a scan meanwhile).
    wait_until(lambda: svc.status()["vector_index"] == "exact", timeout=60)
    assert svc.search("boiling water in the morning", mode="dense")[0] == "a.txt"
