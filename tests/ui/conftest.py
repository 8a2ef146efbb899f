"""GUI test fixtures: a real index built once, sessions over it, and a settings file of
the test's own (the user's real config is never read or written)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from app.backend import Backend  # noqa: E402
from app.config import CONFIG_ENV  # noqa: E402
from app.context import Deskfind, Options  # noqa: E402
from tests.helpers import write_files  # noqa: E402

PDF_PAGES = (
    "Annual report\n\nThis document collects the figures of the year.",
    "Finance\n\nQuarterly revenue grew by twelve percent, driven by the new subscription plans.",
    "Outlook\n\nNext year we expect steady growth.",
)


def make_pdf(path: Path) -> None:
    import pymupdf

    doc = pymupdf.open()
    for text in PDF_PAGES:
        page = doc.new_page()
        page.insert_textbox(pymupdf.Rect(72, 72, 520, 760), text, fontsize=12)
    doc.save(path)
    doc.close()


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> tuple[Path, Path]:
    """Files indexed through the real pipeline: (folder, data dir)."""
    root = tmp_path_factory.mktemp("home") / "docs"
    write_files(root, {
        "garden/tomatoes.md": "# Growing tomatoes\n\nWater the tomatoes deeply twice a week "
                              "and pinch out side shoots.\n\nLater, tomatoes ripen on the vine.",
        "work/incident.txt": "Incident report\n\nThe backup job failed with error 0x80070005 "
                             "(access denied) on the file server at 02:00.",
        "code/cache.py": "def lru(capacity):\n    '''Evict the least recently used entry "
                         "when the cache is full.'''\n",
        "work/broken.txt": b"\x00\xff\x00binary",
    })
    make_pdf(root / "report.pdf")
    data = tmp_path_factory.mktemp("data")
    with Deskfind(Options(data_dir=str(data))) as df:
        df.index([root])
    return root, data


@pytest.fixture(scope="session", autouse=True)
def isolated_config(tmp_path_factory) -> Iterator[None]:
    """Point DESKFIND_CONFIG away from the user's settings for the whole run."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CONFIG_ENV, str(tmp_path_factory.mktemp("config") / "config.toml"))
        yield


@pytest.fixture(autouse=True)
def config_file(tmp_path, monkeypatch) -> Path:
    """Each test's own (initially absent) settings file, also as DESKFIND_CONFIG."""
    path = tmp_path / "config" / "config.toml"
    monkeypatch.setenv(CONFIG_ENV, str(path))
    return path


@pytest.fixture(scope="session")
def backend(corpus, tmp_path_factory) -> Iterator[Backend]:
    """The corpus index; its roots move from the index into a fresh settings file."""
    config = tmp_path_factory.mktemp("corpus-config") / "config.toml"
    b = Backend(Options(data_dir=str(corpus[1])), config)
    yield b
    b.close()


@pytest.fixture
def make_session(qtbot):
    """Build Sessions whose task runner is drained before the test's widgets go."""
    from ui.session import Session
    from ui.tasks import TaskRunner

    runners = []

    sessions = []

    def make(backend, **kw) -> Session:
        runner = TaskRunner()
        runners.append(runner)
        sessions.append(Session(backend, runner, **kw))
        return sessions[-1]

    yield make
    for session in sessions:
        session.stop_polling()
    for runner in runners:
        runner.wait(20_000)


@pytest.fixture
def ipc_ops(monkeypatch) -> list[str]:
    """The requests the backend sends to the service, by op."""
    from app import backend as backend_module

    sent: list[str] = []
    real = backend_module.ipc.call

    def spy(data_dir, request, timeout=60.0):
        sent.append(request["op"])
        return real(data_dir, request, timeout)

    monkeypatch.setattr(backend_module.ipc, "call", spy)
    return sent


@pytest.fixture
def recorded(monkeypatch) -> list[tuple[str, bytes]]:
    """What the window asked the desktop to open or show in its folder, instead of it."""
    opened: list[tuple[str, bytes]] = []
    monkeypatch.setattr("ui.desktop.open_file", lambda p, page=None: opened.append(("open", p)))
    monkeypatch.setattr("ui.desktop.reveal_file", lambda p: opened.append(("reveal", p)))
    return opened
