"""`deskfind desktop install|uninstall`: valid entries, exact undo, spec quoting."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app import cli, desktop
from app.desktop import DesktopDirs, exec_value
from tests.helpers import wait_until

VALIDATE = shutil.which("desktop-file-validate")
needs_validator = pytest.mark.skipif(VALIDATE is None,
                                     reason="desktop-file-validate (desktop-file-utils)")


def parse_exec(value: str) -> list[str]:
    """An Exec value read back as the Desktop Entry Specification says: the string
    escapes first, then the quoting, then %% (written independently of app.desktop)."""
    text, i = "", 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            text += {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}[value[i + 1]]
            i += 2
        else:
            text += value[i]
            i += 1
    args, word, quoted, in_word, i = [], "", False, False, 0
    while i < len(text):
        c = text[i]
        if quoted:
            if c == "\\":
                assert text[i + 1] in '"`$\\', f"bad escape in {text!r}"
                word += text[i + 1]
                i += 1
            elif c == '"':
                quoted = False
            else:
                word += c
        elif c == " ":
            if in_word:
                args.append(word)
            word, in_word = "", False
        elif c == '"':
            quoted = in_word = True
        else:
            assert c not in desktop._RESERVED, f"unquoted reserved {c!r} in {text!r}"
            word += c
            in_word = True
        i += 1
    assert not quoted
    if in_word:
        args.append(word)
    return [a.replace("%%", "%") for a in args]


def exec_lines(entry: str) -> list[str]:
    return [line[len("Exec="):] for line in entry.splitlines() if line.startswith("Exec=")]


def tree(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every path under `root` with its mode and (for files) contents."""
    found = {}
    for folder, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(folder, name)
            st_ = path.lstat()
            found[str(path.relative_to(root))] = (
                st_.st_mode, path.read_bytes() if path.is_file() else None)
    return found


@pytest.fixture
def xdg(tmp_path, monkeypatch) -> DesktopDirs:
    home = tmp_path / "home"
    (home / ".local" / "share" / "applications").mkdir(parents=True)
    (home / ".config").mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    return DesktopDirs.from_environment()


ODD = ['/opt/My Apps/deskfind', '/tmp/a"b/$HOME/`id`/x\\y/100%/deskfind',
       "/tmp/it's (here) & <there>; #1 ~/*?|/deskfind", "/tmp/tab\there/new\nline/deskfind",
       "/tmp/plain/deskfind", "/tmp/ünïcødé/deskfind"]


@pytest.mark.parametrize("program", ODD)
def test_exec_lines_quote_odd_paths_by_the_desktop_entry_rules(program):
    entry = desktop.application_entry([program])
    lines = exec_lines(entry)
    assert [parse_exec(v) for v in lines] == [[program, "gui"], [program, "gui", "--quick"]]
    assert "\n" not in lines[0] and "\t" not in lines[0]


@given(st.lists(st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))),
                min_size=1, max_size=4))
def test_any_argv_survives_the_exec_quoting(argv):
    assert parse_exec(exec_value(argv)) == argv


def test_control_characters_are_refused_not_written():
    with pytest.raises(desktop.DesktopError):
        exec_value(["/tmp/bell\x07/deskfind"])


@needs_validator
@pytest.mark.parametrize("program", ODD[:3])
def test_written_entries_validate(xdg, program):
    desktop.install(xdg, [program], "service")
    for entry in (xdg.applications / "deskfind.desktop", xdg.autostart / "deskfind.desktop"):
        run = subprocess.run([VALIDATE, str(entry)], capture_output=True, text=True)
        assert run.returncode == 0 and "error" not in run.stdout, run.stdout
    tray = xdg.autostart / "deskfind.desktop"
    desktop.set_autostart(xdg.autostart, "tray", [program])
    assert subprocess.run([VALIDATE, str(tray)], capture_output=True).returncode == 0


@pytest.mark.skipif(shutil.which("gio") is None, reason="GLib's gio (libglib2.0-bin)")
def test_glib_launches_the_entry_with_the_exact_argv(xdg, tmp_path):
    # GLib expands %% before unquoting, against the specification, so no % here.
    folder = tmp_path / 'odd dir $HOME "q" `x` \\back (1)'
    folder.mkdir()
    out = tmp_path / "argv"
    program = folder / "deskfind"
    # The file appears whole (renamed into place): gio starts the program and returns.
    program.write_text(f'#!/bin/sh\nfor a in "$0" "$@"; do printf "%s\\n" "$a"; done '
                       f'> {out}.tmp && mv {out}.tmp {out}\n')
    program.chmod(0o755)
    desktop.install(xdg, [str(program)], None)
    subprocess.run(["gio", "launch", str(xdg.applications / "deskfind.desktop")],
                   check=True, timeout=30, env={**os.environ, "DISPLAY": ""})
    assert wait_until(out.exists, timeout=30)
    assert out.read_text().splitlines() == [str(program), "gui"]


def test_install_writes_the_menu_entry_icons_action_and_autostart(xdg):
    written = desktop.install(xdg, ["/usr/bin/deskfind"], "service")
    entry = (xdg.applications / "deskfind.desktop").read_text()
    assert "Actions=quick-search;" in entry and "Icon=deskfind" in entry
    assert "[Desktop Action quick-search]\nName=Quick Search\n" \
           "Exec=/usr/bin/deskfind gui --quick\n" in entry
    svg = xdg.data_home / "icons/hicolor/scalable/apps/deskfind.svg"
    png = xdg.data_home / "icons/hicolor/256x256/apps/deskfind.png"
    assert svg.read_bytes().startswith(b"<svg")
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(header[16:20]) == int.from_bytes(header[20:24]) == 256
    autostart = (xdg.autostart / "deskfind.desktop").read_text()
    assert "Exec=/usr/bin/deskfind service\n" in autostart
    assert set(written) == {xdg.applications / "deskfind.desktop", svg, png,
                            xdg.autostart / "deskfind.desktop"}


def test_uninstall_leaves_the_trees_exactly_as_they_were(xdg):
    data_home, config_home = xdg.data_home, xdg.config_home
    (data_home / "applications" / "other.desktop").write_text("[Desktop Entry]\n")
    before = tree(data_home), tree(config_home)
    desktop.install(xdg, ["/usr/bin/deskfind"], "service")
    desktop.install(xdg, ["/usr/local/bin/deskfind"], "tray")  # again: still one undo
    assert tree(data_home) != before[0]
    removed = desktop.uninstall(xdg)
    assert len(removed) == 4
    assert (tree(data_home), tree(config_home)) == before
    assert desktop.uninstall(xdg) == []  # a second uninstall has nothing left to do


def test_an_autostart_entry_that_was_there_is_replaced_then_put_back(xdg):
    old = "[Desktop Entry]\nType=Application\nName=Deskfind\nExec=deskfind gui --hidden\n"
    xdg.autostart.mkdir()
    (xdg.autostart / "deskfind.desktop").write_text(old)
    (xdg.autostart / "deskfind.desktop").chmod(0o640)
    before = tree(xdg.config_home)
    desktop.install(xdg, ["/usr/bin/deskfind"], "service")
    assert sorted(p.name for p in xdg.autostart.iterdir()) == ["deskfind.desktop"]
    assert "deskfind service" in (xdg.autostart / "deskfind.desktop").read_text()
    desktop.uninstall(xdg)
    assert tree(xdg.config_home) == before


def test_the_cli_installs_for_this_python_and_uninstalls(xdg, capsys):
    assert cli.main(["desktop", "install", "--autostart", "tray"]) == 0
    entry = (xdg.applications / "deskfind.desktop").read_text()
    program = parse_exec(exec_lines(entry)[0])[0]
    assert program in (str(Path(sys.executable).parent / "deskfind"), sys.executable) \
        or os.path.basename(program) == "deskfind"
    assert "gui --hidden" in (xdg.autostart / "deskfind.desktop").read_text()
    assert "wrote" in capsys.readouterr().out
    assert cli.main(["desktop", "uninstall"]) == 0
    assert not (xdg.applications / "deskfind.desktop").exists()
    assert not (xdg.autostart).exists()


def test_from_the_bundle_entries_start_the_bundle(monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert desktop.launch_argv() == [sys.executable]


def test_a_menu_folder_that_cannot_be_written_is_a_one_line_error(xdg, capsys):
    (xdg.applications / "deskfind.desktop").mkdir()  # in the way of the entry
    assert cli.main(["desktop", "install"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("deskfind: error: cannot write ") and err.count("\n") == 1
    assert "deskfind.desktop" in err and "Traceback" not in err
    # What was written before the failure is recorded, so uninstall takes it back.
    assert cli.main(["desktop", "uninstall"]) == 0
    assert (xdg.applications / "deskfind.desktop").is_dir()
    assert not (xdg.data_home / "icons").exists()


def test_an_entry_from_a_system_package_counts_as_installed(xdg, tmp_path, monkeypatch):
    system = tmp_path / "usr-share"
    monkeypatch.setenv("XDG_DATA_DIRS", f"{tmp_path / 'none'}:{system}")
    dirs = DesktopDirs.from_environment()
    assert not desktop.entry_installed(dirs)
    (system / "applications").mkdir(parents=True)
    (system / "applications" / "deskfind.desktop").write_text("[Desktop Entry]\n")
    assert desktop.entry_installed(dirs)


def test_install_this_writes_what_the_cli_writes(xdg):
    written = desktop.install_this(xdg)
    assert desktop.entry_installed(xdg)
    assert xdg.autostart / "deskfind.desktop" in written  # the service at login, as the CLI
    assert "service" in parse_exec(exec_lines(
        (xdg.autostart / "deskfind.desktop").read_text())[0])
