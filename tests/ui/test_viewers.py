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
