"""Whether the machine runs on battery (and so whether embedding waits), and lowering
the service's I/O priority.

Both read or ask the Linux kernel directly (sysfs, the ioprio_set system call): no
dependency, and elsewhere they answer "mains" and "not lowered".
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
from pathlib import Path
from typing import Protocol

SYSFS_POWER = Path("/sys/class/power_supply")
# Supplies that mean "plugged in" when online (the kernel's POWER_SUPPLY_TYPE names).
_EXTERNAL = frozenset({"Mains", "USB", "USB_C", "USB_PD", "USB_PD_DRP", "Wireless"})


class PowerSource(Protocol):
    def on_battery(self) -> bool:
        """True when the machine runs on its battery alone."""
        ...


ON_BATTERY = "on battery power"


def embedding_pause_reason(pause_on_battery: bool, power: PowerSource) -> str:
    """Why embedding should wait right now ("" when it should run): the one rule, for
    the service and for indexing in the GUI's process alike."""
    return ON_BATTERY if pause_on_battery and power.on_battery() else ""


class SysfsPower:
    """Power state read from /sys/class/power_supply/*/{type,online,status,scope}."""

    def __init__(self, root: Path = SYSFS_POWER) -> None:
        self.root = root

    def on_battery(self) -> bool:
        try:
            supplies = list(self.root.iterdir())
        except OSError:  # no such folder: not Linux, or a container without sysfs
            return False
        discharging = False
        for supply in supplies:
            kind = _read(supply / "type")
            if _read(supply / "scope") == "Device":  # a mouse's or a headset's battery
                continue
            if kind in _EXTERNAL and _read(supply / "online") == "1":
                return False
            if kind == "Battery" and _read(supply / "status") == "Discharging":
                discharging = True
        return discharging


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return ""


# ioprio_set(2): which = IOPRIO_WHO_PROCESS, the class in the top bits of the value.
_IOPRIO_WHO_PROCESS = 1
_IOPRIO_CLASS_SHIFT = 13
IOPRIO_CLASS_IDLE = 3
_SYSCALLS = {"x86_64": (251, 252), "aarch64": (30, 31), "i686": (289, 290),
             "armv7l": (314, 315), "riscv64": (30, 31), "ppc64le": (273, 274)}


def _ioprio_call(index: int, *args: int) -> int:
    numbers = _SYSCALLS.get(platform.machine())
    if platform.system() != "Linux" or numbers is None:
        return -1
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    return int(libc.syscall(numbers[index], *args))


def set_idle_io_priority(pid: int = 0) -> bool:
    """Put process `pid` (0: this one, and the workers it starts later) in the idle I/O
    class, where the disk serves it only when nothing else asks; False if not possible."""
    return _ioprio_call(0, _IOPRIO_WHO_PROCESS, pid,
                        IOPRIO_CLASS_IDLE << _IOPRIO_CLASS_SHIFT) == 0


def io_priority_class(pid: int = 0) -> int | None:
    """The I/O scheduling class of process `pid` (3: idle), None where unknown."""
    value = _ioprio_call(1, _IOPRIO_WHO_PROCESS, pid)
    return None if value < 0 else value >> _IOPRIO_CLASS_SHIFT
