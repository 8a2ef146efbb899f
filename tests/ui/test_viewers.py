"""Opening a PDF at its page: argv for each known viewer, hostile names kept inert."""

import pytest

from ui.viewers import desktop_exec, page_argv

HOSTILE = "/home/u/-rf $(touch x);\nname.pdf"


@pytest.mark.parametrize("exec_line, expected", [
    ("evince %U", ["evince", "--page-label=7", "--", HOSTILE]),
    ("/usr/bin/okular %U", ["/usr/bin/okular", "-p", "7", "--", HOSTILE]),
    ("zathura %U", ["zathura", "--page=7", "--", HOSTILE]),
    ("atril %U", ["atril", "--page-label=7", "--", HOSTILE]),
    ("env GDK_BACKEND=x11 xreader %U", ["xreader", "--page-label=7", "--", HOSTILE]),
    ("qpdfview --unique %F", ["qpdfview", f"{HOSTILE}#7"]),
    ("mupdf %f", ["mupdf", HOSTILE, "7"]),
])
def test_known_viewers_get_the_page_and_the_path_as_one_argument(exec_line, expected):
    assert page_argv(exec_line, HOSTILE, 7) == expected


@pytest.mark.parametrize("exec_line, path, page", [
    ("firefox %u", "/a.pdf", 3),  # no page flag known: the caller falls back
    ("evince %U", "relative.pdf", 3),  # never pass a path that could look like an option
    ("evince %U", "/a.pdf", 0),
    ('evince "unbalanced', "/a.pdf", 3),
    ("", "/a.pdf", 3),
    ("qpdfview %F", "/notes#2.pdf", 3),  # its page suffix would be ambiguous
])
def test_anything_else_falls_back_to_the_desktop(exec_line, path, page):
    assert page_argv(exec_line, path, page) is None


def test_the_exec_line_is_read_from_the_first_matching_data_dir(tmp_path):
    first, second = tmp_path / "home", tmp_path / "usr"
    (second / "applications").mkdir(parents=True)
    (second / "applications" / "org.gnome.Evince.desktop").write_text(
        "[Desktop Entry]\nName=Document Viewer\nExec=evince %U\n"
        "[Desktop Action new-window]\nExec=evince --new-window\n")
    assert desktop_exec("org.gnome.Evince.desktop", [first, second]) == "evince %U"
    assert desktop_exec("missing.desktop", [first, second]) is None


def test_open_file_launches_the_viewer_without_a_shell_or_falls_back(monkeypatch):
    from ui import desktop

    started, urls = [], []
    monkeypatch.setattr(desktop.QProcess, "startDetached",
                        lambda prog, args: started.append([prog, *args]) or (True, 1))
    monkeypatch.setattr(desktop.QDesktopServices, "openUrl",
                        lambda url: urls.append(url.toLocalFile()) or True)
    monkeypatch.setattr(desktop, "default_pdf_exec", lambda: "okular %U")
    assert desktop.open_file(HOSTILE.encode(), 4)
    assert started == [["okular", "-p", "4", "--", HOSTILE]] and urls == []
    assert desktop.open_file(b"/home/u/notes.txt", 4)  # not a PDF: the desktop opens it
    assert desktop.open_file(b"/home/u/a.pdf", None)  # no page: the desktop opens it
    monkeypatch.setattr(desktop, "default_pdf_exec", lambda: "firefox %u")
    assert desktop.open_file(b"/home/u/a.pdf", 4)
    assert len(started) == 1
    assert urls == ["/home/u/notes.txt", "/home/u/a.pdf", "/home/u/a.pdf"]
