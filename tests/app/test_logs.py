"""Log files, crash reports and `--version`."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from importlib import metadata
from pathlib import Path

import pytest

from app import logs
from app.config import Config
from app.context import Options
from app.paths import LOG_DIR_ENV
from app.service import Service
from tests.helpers import wait_until

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def log_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "logs"
    monkeypatch.setenv(LOG_DIR_ENV, str(folder))
    return folder


def reports(folder: Path) -> list[Path]:
    return sorted(folder.glob("crash-*.txt")) if folder.exists() else []


def test_version_comes_from_the_package_metadata():
    run = subprocess.run([sys.executable, "-m", "app.cli", "--version"], cwd=REPO,
                         capture_output=True, text=True, check=True)
    assert run.stdout.strip() == f"deskfind {metadata.version('deskfind')}"


def test_the_log_file_is_private_and_replaced_not_doubled(log_dir):
    try:
        first = logs.setup_logging("cli", verbose=True, to_file=True)
        path = logs.setup_logging("cli", verbose=True, to_file=True)  # again: one handler
        assert first == path == log_dir / "cli.log"
        logging.getLogger("deskfind.test").warning("cannot read %s", "/tmp/x.pdf")
        assert path.read_text().count("cannot read /tmp/x.pdf") == 1
        assert path.stat().st_mode & 0o777 == 0o600
        assert log_dir.stat().st_mode & 0o777 == 0o700
    finally:
        logs.setup_logging("cli", verbose=False, to_file=False)


def test_a_bug_in_the_service_loop_writes_one_report_and_the_loop_goes_on(
        tmp_path, log_dir, monkeypatch):
    failures = []

    def broken_work(self, indexer):
        failures.append(1)
        raise RuntimeError("injected failure in the service loop")

    monkeypatch.setattr(Service, "_work", broken_work)
    service = Service(Options(data_dir=str(tmp_path / "data")),
                      Config(tmp_path / "config.toml", {}))
    thread = threading.Thread(target=service.run)
    thread.start()
    try:
        wait_until(lambda: len(failures) >= 2, timeout=60)  # retried after the report
    finally:
        service.stop_event.set()
        service.wake.set()
        thread.join(60)
    assert not thread.is_alive()
    [report] = reports(log_dir)
    text = report.read_text()
    assert "RuntimeError: injected failure in the service loop" in text
    assert "in broken_work" in text
    assert f"Deskfind {logs.version()} (service)" in text and "Platform " in text
    assert report.stat().st_mode & 0o777 == 0o600


def test_an_uncaught_exception_in_a_service_process_writes_a_report(tmp_path, log_dir):
    code = ("import app.service\n"
            "def boom(self):\n"
            "    raise ZeroDivisionError('injected at start')\n"
            "app.service.Service.run = boom\n"
            "from app.cli import main\n"
            "raise SystemExit(main(['service']))\n")
    env = {**os.environ, LOG_DIR_ENV: str(log_dir), "DESKFIND_DATA_DIR": str(tmp_path / "d"),
           "DESKFIND_CONFIG": str(tmp_path / "config.toml"), "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 1
    [report] = reports(log_dir)
    assert "ZeroDivisionError: injected at start" in report.read_text()
    assert f"crash report: {report}" in run.stderr
    assert "ZeroDivisionError: injected at start" in (log_dir / "service.log").read_text()
