"""Starting and stopping the background service on behalf of the GUI.

The service is `deskfind service`, started detached (it outlives the window that
started it) with its output in `service.log` in the data directory.  What the launcher
knows of it is `state`: running (it answers), stopped, or unavailable (starting one
failed, and `error` says why).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from app import ipc, paths
from app.client import ServiceClient
from app.context import Options
from app.service import ServiceLock
from app.values import SERVICE_RUNNING, SERVICE_STOPPED, SERVICE_UNAVAILABLE
from engine.errors import DeskfindError

log = logging.getLogger("deskfind.launcher")

SERVICE_LOG = "service.log"
SERVICE_LOG_MAX = 1 << 20  # started over when larger; the service has no log rotation
SOURCE_ROOT = Path(__file__).resolve().parents[1]  # where `app` is importable from
PING_SECONDS = 2.0  # the GUI asks often; a service slower than this counts as gone


class ServiceLauncher:
    """The service of one data directory and settings file, as the GUI sees it."""

    def __init__(self, options: Options, config_file: Path) -> None:
        """`options`: what the GUI's own command line chose (passed on to the service)."""
        self.options = options
        self.config_file = config_file
        self.client = ServiceClient(options)
        self.data_dir = self.client.data_dir
        self.state = SERVICE_STOPPED
        self.error = ""
        self.child: subprocess.Popen[bytes] | None = None

    def answers(self) -> bool:
        """Whether a service answers now (noting it, if it does)."""
        if self.client.running(PING_SECONDS):
            self.state, self.error = SERVICE_RUNNING, ""
            return True
        return False

    def lost(self) -> None:
        """The service stopped answering a request."""
        if self.state == SERVICE_RUNNING:
            self.state = SERVICE_STOPPED

    def ensure(self, want: bool, timeout: float = 60.0) -> str:
        """Use a running service, or start one if `want` (there are folders to watch).
        Returns the new state; `error` says why when it is not running."""
        if not self.answers() and want:
            self._start(timeout)
        return self.state

    def _start(self, timeout: float) -> None:
        """Start `deskfind service` detached (it outlives the GUI) and wait for it."""
        log_path = self.data_dir / SERVICE_LOG
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(SOURCE_ROOT), os.environ.get("PYTHONPATH", "")) if p)}
        try:
            # A shared PostgreSQL index keeps nothing here before the service first runs.
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            if log_path.exists() and log_path.stat().st_size > SERVICE_LOG_MAX:
                log_path.unlink()
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "ab") as out:
                child = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        except OSError as exc:
            self._failed(f"cannot start the background service: {exc}")
            return
        self.child = child
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.answers():
                return
            if child.poll() is not None:
                self.child = None
                self._failed("the background service stopped: "
                             + _last_line(log_path, f"exit status {child.returncode}"))
                return
            time.sleep(0.1)  # a worker thread waiting for another process
        self._failed("the background service did not answer in time")

    def argv(self) -> list[str]:
        """The command that starts the service on this index and settings file."""
        bundle = paths.frozen_executable()
        program = [bundle] if bundle else [sys.executable, "-m", "app.cli"]
        argv = [*program, "service", "--config",
                str(self.config_file), "--data-dir", str(self.data_dir)]
        if self.options.model_dir:  # chosen on the command line: passed on
            argv += ["--model-dir", self.options.model_dir]
        if self.options.precision:
            argv += ["--precision", self.options.precision]
        if self.options.database:
            argv += ["--database", self.options.database]
        if self.options.threads:
            argv += ["--threads", str(self.options.threads)]
        return argv

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the service to stop and wait until it has let go of the index."""
        with contextlib.suppress(ipc.ServiceUnavailable):
            self.client.stop()
        self.state = SERVICE_STOPPED
        child, self.child = self.child, None
        if child is not None:
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # started elsewhere: wait for its lock
            try:
                with ServiceLock(self.data_dir):
                    return
            except DeskfindError:
                time.sleep(0.1)

    def reap(self) -> None:
        """Collect a service we started that has exited (no zombie is left behind)."""
        child = self.child
        if child is not None and child.poll() is not None:
            self.child = None
            log.warning("the background service exited with status %s", child.returncode)

    def _failed(self, why: str) -> None:
        log.warning("%s", why)
        self.state, self.error = SERVICE_UNAVAILABLE, why


def _last_line(path: Path, default: str) -> str:
    try:
        lines: Iterable[str] = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return default
    found = [line.strip() for line in lines if line.strip()]
    return found[-1] if found else default
