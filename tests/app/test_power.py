"""Manners while indexing: the battery pause (through an injected power source), the
power state read from sysfs, and the idle I/O priority."""

from __future__ import annotations

import platform
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app import cli
from app.config import CONFIG_ENV, Config
from app.context import Options
from app.power import SysfsPower
from app.service import Service
from tests.helpers import wait_until, write_files

REPO = Path(__file__).resolve().parents[2]


def supplies(root: Path, **entries: dict[str, str]) -> Path:
    for name, attributes in entries.items():
        for key, value in attributes.items():
            (root / name).mkdir(parents=True, exist_ok=True)
            (root / name / key).write_text(value + "\n")
    return root


@pytest.mark.parametrize(("entries", "battery"), [
    ({"AC": {"type": "Mains", "online": "0"},
      "BAT0": {"type": "Battery", "status": "Discharging"}}, True),
    ({"AC": {"type": "Mains", "online": "1"},
      "BAT0": {"type": "Battery", "status": "Charging"}}, False),
    ({"ucsi-source-psy-1": {"type": "USB", "online": "1"},
      "BAT1": {"type": "Battery", "status": "Discharging"}}, False),  # USB-C charger
    ({"BAT0": {"type": "Battery", "status": "Full"}}, False),
    ({"hidpp_battery_0": {"type": "Battery", "status": "Discharging", "scope": "Device"}},
     False),  # a wireless mouse's battery says nothing about the computer
    ({}, False),  # a desktop or a virtual machine
])
def test_sysfs_power_tells_battery_from_mains(tmp_path, entries, battery):
    root = supplies(tmp_path / "power_supply", **entries)
    root.mkdir(exist_ok=True)
    assert SysfsPower(root).on_battery() is battery


def test_no_sysfs_means_mains(tmp_path):
    assert SysfsPower(tmp_path / "missing").on_battery() is False


@pytest.mark.skipif(platform.system() != "Linux"
                    or platform.machine() not in ("x86_64", "aarch64"),
                    reason="ioprio_set on Linux")
def test_the_service_priority_call_puts_the_process_in_the_idle_io_class():
    code = ("from app.power import io_priority_class, set_idle_io_priority\n"
            "before = io_priority_class()\n"
            "assert set_idle_io_priority()\n"
            "import subprocess, sys\n"  # a worker started later inherits the class
            "child = subprocess.run([sys.executable, '-c', 'from app.power import "
            "io_priority_class; print(io_priority_class())'], capture_output=True, "
            "text=True, check=True).stdout.strip()\n"
            "print(before, io_priority_class(), child)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[0] != "3" and out[1:] == ["3", "3"]


class FakePower:
    def __init__(self, battery: bool) -> None:
        self.battery = battery

    def on_battery(self) -> bool:
        return self.battery


def test_embedding_waits_on_battery_and_status_says_why(tmp_path, monkeypatch, capsys):
    root = tmp_path / "notes"
    write_files(root, {"coffee.txt": "Sour coffee comes from under-extraction.",
                       "tea.md": "# Tea\n\nGreen tea wants water below boiling."})
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'roots = ["{root}"]\n')
    monkeypatch.setenv(CONFIG_ENV, str(config_file))
    data = tmp_path / "data"
    power = FakePower(battery=True)
    service = Service(Options(data_dir=str(data)), Config.load(config_file), power)
    thread = threading.Thread(target=service.run)
    thread.start()
    try:
        def waiting_on_battery():
            status = service.status() if hasattr(service, "reader") else None
            return status if status and status["searchable"] == 2 \
                and status["embedding_paused"] and status["queue"] == 0 else None

        status = wait_until(waiting_on_battery, timeout=120)
        assert status["embedding_paused"] == "on battery power"
        assert status["passages"] > 0 and status["embedded"] == 0
        assert cli.main(["status", "--data-dir", str(data)]) == 0
        assert "embedding: paused, on battery power" in capsys.readouterr().out
        # Keyword search works meanwhile.
        with service._search_lock:
            found = service.reader.searcher().query("coffee", mode="lexical").results
        assert [r.title for r in found] and "coffee" in found[0].path.decode()

        power.battery = False  # plugged in: embedding resumes by itself
        done = wait_until(lambda: (s := service.status())["embedded"] == s["passages"]
                          and not s["embedding_paused"] and s, timeout=120)
        assert done["embedded"] > 0
    finally:
        service.stop_event.set()
        service.wake.set()
        thread.join(120)
    assert not thread.is_alive()


def test_pause_on_battery_can_be_switched_off(tmp_path):
    config = Config(tmp_path / "config.toml", {"pause_on_battery": False})
    service = Service(Options(data_dir=str(tmp_path / "data")), config, FakePower(True))
    assert service._embedding_pause_reason() == ""
    config.set("pause_on_battery", True)
    assert service._embedding_pause_reason() == "on battery power"


def test_indexing_in_the_gui_process_holds_embedding_on_battery(tmp_path):
    """Without a service the GUI's backend indexes itself: on battery it writes the text
    (keyword search works) and no vectors, its status says why, and plugged in the next
    run embeds.  The rule is the service's (`embedding_pause_reason`)."""
    from app.backend import Backend

    root = tmp_path / "notes"
    write_files(root, {"coffee.txt": "Sour coffee comes from under-extraction."})
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'roots = ["{root}"]\n')
    power = FakePower(battery=True)
    backend = Backend(Options(data_dir=str(tmp_path / "data")), config_file, power)
    try:
        report = backend.index_now()
        assert report is not None and report.added == 1
        assert report.embedding_paused == "on battery power" and report.chunks_embedded == 0
        status = backend.status()
        assert status.embedded == 0 and status.passages > 0
        assert status.embedding_paused == "on battery power"
        assert [h.title for h in backend.search("coffee", "lexical").hits]

        power.battery = False
        assert backend.status().embedding_paused == ""  # read afresh, not remembered
        report = backend.index_now()
        assert report is not None and not report.embedding_paused
        status = backend.status()
        assert status.embedded == status.passages > 0
    finally:
        backend.close()


def test_the_gui_process_embeds_on_battery_when_told_to(tmp_path):
    from app.backend import Backend

    root = tmp_path / "notes"
    write_files(root, {"tea.md": "# Tea\n\nGreen tea wants water below boiling."})
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'roots = ["{root}"]\npause_on_battery = false\n')
    backend = Backend(Options(data_dir=str(tmp_path / "data")), config_file,
                      FakePower(battery=True))
    try:
        report = backend.index_now()
        assert report is not None and not report.embedding_paused
        assert report.chunks_embedded > 0
        assert backend.status().embedding_paused == ""
    finally:
        backend.close()
