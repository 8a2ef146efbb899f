"""Every entry point runs with the same options: the command line's over config.toml's.

Run in-process through `main(argv)`; each test has its own settings file and index."""

import pytest

from app import cli_admin
from app.backend import Backend
from app.config import Config, run_options
from app.context import Options
from tests.helpers import write_files
from ui.command import main

MISSING_MODEL = "/nonexistent/deskfind-model"


@pytest.fixture
def home(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    monkeypatch.setenv("DESKFIND_CONFIG", str(config))
    monkeypatch.setenv("DESKFIND_DATA_DIR", str(tmp_path / "data"))
    write_files(tmp_path / "docs", {"note.txt": "Sourdough needs a long, cool rise."})
    return tmp_path, config


def _configure(config_file, **values):
    config = Config.load(config_file)
    for key, value in values.items():
        config.set(key, value)
    config.save()


def test_command_line_wins_over_settings_and_settings_over_defaults(tmp_path):
    config = Config.load(tmp_path / "config.toml")
    config.set("model_dir", "/models/a")
    config.set("threads", 3)
    config.set("alpha", 0.4)
    config.set("embedding_precision", "int8")
    assert run_options(config) == Options(model_dir="/models/a", threads=3, alpha=0.4,
                                          precision="int8")
    given = run_options(config, data_dir="/d", model_dir="/models/b", threads=1, alpha=0.9,
                        precision="fp32")
    assert given == Options(data_dir="/d", model_dir="/models/b", threads=1, alpha=0.9,
                            precision="fp32")
    assert run_options(Config.load(tmp_path / "none.toml")) == Options(precision="auto")


def test_index_embeds_with_the_model_in_settings(home, capsys):
    tmp_path, config = home
    _configure(config, model_dir=MISSING_MODEL)
    assert main(["index", str(tmp_path / "docs")]) == 1
    err = capsys.readouterr().err
    assert MISSING_MODEL in err and str(config) in err  # says where the choice came from
    assert not (tmp_path / "data").exists()  # failed before indexing anything
    # Back to the bundled model, the same command indexes.
    _configure(config, model_dir="")
    assert main(["index", str(tmp_path / "docs")]) == 0


def test_search_uses_the_model_in_settings(home, capsys):
    tmp_path, config = home
    assert main(["index", str(tmp_path / "docs")]) == 0
    _configure(config, model_dir=MISSING_MODEL)
    capsys.readouterr()
    assert main(["search", "bread dough"]) == 1
    assert MISSING_MODEL in capsys.readouterr().err
    assert main(["search", "--mode", "lexical", "sourdough"]) == 0  # keywords need no model
    assert "note.txt" in capsys.readouterr().out


def test_status_reads_the_index_the_settings_point_to(home, capsys):
    tmp_path, config = home
    assert main(["index", str(tmp_path / "docs")]) == 0
    _configure(config, model_dir=MISSING_MODEL)  # status never needs the model
    capsys.readouterr()
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "data") in out and "1 embedded" in out


def test_service_runs_with_the_settings(home, monkeypatch):
    _, config = home
    _configure(config, model_dir=MISSING_MODEL, threads=2, alpha=0.55)
    started = []

    class Recorder:
        def __init__(self, options, config):
            started.append(options)

        def run(self):
            return 0

    monkeypatch.setattr("app.service.Service", Recorder)
    assert main(["service"]) == 0
    (options,) = started
    assert (options.model_dir, options.threads, options.alpha) == (MISSING_MODEL, 2, 0.55)
    assert cli_admin._options(
        cli_admin.argparse.Namespace(data_dir=None, model_dir="/x", threads=0, precision=None),
        Config.load(config)).model_dir == "/x"


def test_gui_merges_the_settings_itself_and_again_when_they_change(home, monkeypatch):
    tmp_path, config = home
    _configure(config, alpha=0.55, threads=2)
    given = []
    monkeypatch.setattr("ui.launch.run_gui", lambda options, **kw: given.append(options) or 0)
    assert main(["gui"]) == 0
    (options,) = given
    assert options == Options()  # the command line's alone: settings may change later
    backend = Backend(options, config)
    try:
        assert (backend.options.alpha, backend.options.threads) == (0.55, 2)
    finally:
        backend.close()
