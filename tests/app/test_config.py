import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.config import SCHEMA, Config, ConfigError, parse_value, run_options
from tests.helpers import write_files

REPO = Path(__file__).resolve().parents[2]


# No deadline: a file write per example outlasts Hypothesis's 200 ms on a loaded machine.
@settings(deadline=None)
@given(st.lists(st.text(max_size=30), max_size=5), st.booleans(),
       st.integers(1, 4096), st.floats(0, 1))
def test_settings_round_trip_through_toml(tmp_path_factory, roots, hidden, mb, alpha):
    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    config = Config.load(path)
    config.set("roots", roots)
    config.set("include_hidden", hidden)
    config.set("max_file_mb", mb)
    config.set("alpha", alpha)
    config.save()
    again = Config.load(path)
    assert (again.get("roots"), again.get("include_hidden"), again.get("max_file_mb"),
            again.get("alpha")) == (roots, hidden, mb, alpha)


def test_control_characters_survive_the_file(tmp_path):
    config = Config.load(tmp_path / "c.toml")
    odd = ["del\x7fchar", "tab\there", 'quote"back\\slash', "nul\x00", "\U0001f600"]
    config.set("exclude", odd)
    config.save()
    assert Config.load(tmp_path / "c.toml").get("exclude") == odd


def test_defaults_and_type_checks(tmp_path):
    config = Config.load(tmp_path / "missing.toml")
    assert config.get("roots") == [] and config.get("alpha") == 0.7
    with pytest.raises(ConfigError, match="must be int"):
        config.set("threads", "four")
    with pytest.raises(ConfigError, match="unknown setting"):
        config.set("colour", "blue")
    (tmp_path / "bad.toml").write_text("roots = 3\n")
    with pytest.raises(ConfigError, match="list of strings"):
        Config.load(tmp_path / "bad.toml")
    (tmp_path / "broken.toml").write_text("roots = [\n")
    with pytest.raises(ConfigError, match="cannot read settings"):
        Config.load(tmp_path / "broken.toml")


def test_command_line_values_are_converted():
    assert parse_value("include_hidden", "yes") is True
    assert parse_value("exclude", "*.bak, Archive") == ["*.bak", "Archive"]
    with pytest.raises(ConfigError, match="wants a int"):
        parse_value("threads", "many")


def _cli(tmp_path, *args, check=True):
    env = {**os.environ, "DESKFIND_DATA_DIR": str(tmp_path / "data"),
           "DESKFIND_CONFIG": str(tmp_path / "config.toml"), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True,
                          text=True, env=env, stdin=subprocess.DEVNULL, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_config_command_lists_every_setting_with_its_meaning(tmp_path):
    out = _cli(tmp_path, "config").stdout
    for setting in SCHEMA:
        assert setting.key in out and setting.description in out
    _cli(tmp_path, "config", "threads", "2")
    assert "threads = 2" in (tmp_path / "config.toml").read_text()
    bad = _cli(tmp_path, "config", "threads", "lots", check=False)
    assert bad.returncode == 1 and "wants a int" in bad.stderr


def test_roots_add_list_remove(tmp_path):
    folder = tmp_path / "notes"
    write_files(folder, {"a.txt": "heron migration"})
    _cli(tmp_path, "roots", "add", str(folder))
    assert _cli(tmp_path, "roots", "list").stdout.strip() == str(folder)
    _cli(tmp_path, "index", str(folder))
    _cli(tmp_path, "roots", "remove", str(folder))
    assert _cli(tmp_path, "roots", "list").stdout.strip() == ""
    out = _cli(tmp_path, "search", "heron", "--mode", "lexical").stdout
    assert out.strip() == "no results"
    missing = _cli(tmp_path, "roots", "add", str(tmp_path / "nope"), check=False)
    assert missing.returncode == 2 and "not a folder" in missing.stderr


def test_include_and_exclude_patterns_shape_what_is_indexed(tmp_path):
    folder = tmp_path / "mixed"
    write_files(folder, {"keep.md": "puffin notes", "skip.txt": "puffin text",
                         "Archive/old.md": "puffin archive"})
    _cli(tmp_path, "config", "include", "*.md")
    _cli(tmp_path, "config", "exclude", "Archive")
    out = _cli(tmp_path, "index", str(folder)).stdout
    assert "indexed 1 files" in out
    found = _cli(tmp_path, "search", "puffin", "--mode", "lexical").stdout
    assert "keep.md" in found and "skip.txt" not in found and "old.md" not in found


def test_the_config_folder_is_private_under_umask_000(tmp_path):
    old = os.umask(0)
    try:
        config = Config.load(tmp_path / "fresh" / "deskfind" / "config.toml")
        config.set("alpha", 0.6)
        config.save()
    finally:
        os.umask(old)
    assert (tmp_path / "fresh" / "deskfind").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "fresh" / "deskfind" / "config.toml").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("key, value", [("alpha", 7.0), ("alpha", float("nan")),
                                        ("threads", -2), ("nice", 40), ("max_file_mb", 0),
                                        ("reconcile_minutes", 0)])
def test_numbers_outside_their_range_are_refused_from_the_file_and_the_command(
        tmp_path, key, value):
    config = Config.load(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match=f"{key} must be between"):
        config.set(key, value)
    (tmp_path / "bad.toml").write_text(f"{key} = {value}\n")
    with pytest.raises(ConfigError, match=f"{key} must be between"):
        Config.load(tmp_path / "bad.toml")


def test_a_number_out_of_range_is_one_line_from_the_config_command(tmp_path):
    done = _cli(tmp_path, "config", "alpha", "7", check=False)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "deskfind: error: alpha must be between 0 and 1, got 7.0"]
    assert Config.load(tmp_path / "config.toml").get("alpha") == 0.7


def test_embedding_precision_takes_only_known_values(tmp_path):
    config = Config.load(tmp_path / "missing.toml")
    assert config.get("embedding_precision") == "auto"
    config.set("embedding_precision", "int8")
    with pytest.raises(ConfigError, match="one of auto, fp32, int8"):
        config.set("embedding_precision", "fp16")
    (tmp_path / "bad.toml").write_text('embedding_precision = "half"\n')
    with pytest.raises(ConfigError, match="one of auto, fp32, int8"):
        Config.load(tmp_path / "bad.toml")


def test_the_command_line_wins_over_the_settings_file(tmp_path):
    config = Config.load(tmp_path / "missing.toml")
    for key, value in (("embedding_precision", "int8"), ("threads", 3),
                       ("model_dir", "/models/mine")):
        config.set(key, value)
    from_file = run_options(config)
    assert (from_file.precision, from_file.threads, from_file.model_dir) == (
        "int8", 3, "/models/mine")
    chosen = run_options(config, precision="fp32", threads=1, model_dir="/elsewhere")
    assert (chosen.precision, chosen.threads, chosen.model_dir) == ("fp32", 1, "/elsewhere")
    assert run_options(Config.load(tmp_path / "missing.toml")).precision == "auto"


def test_the_database_setting_is_chosen_overridden_and_never_holds_a_password(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('database = "postgresql://team@db.example/index"\n', encoding="utf-8")
    config = Config.load(path)
    assert run_options(config).database == "postgresql://team@db.example/index"
    assert run_options(config, database="postgresql://me@/other").database == \
        "postgresql://me@/other"
    assert run_options(Config.load(tmp_path / "none.toml")).database is None
    for secret in ("postgresql://team:hunter2@db.example/index",
                   "host=db.example dbname=index password=hunter2"):
        path.write_text(f'database = "{secret}"\n', encoding="utf-8")
        with pytest.raises(ConfigError, match="pgpass"):
            Config.load(path)
        with pytest.raises(ConfigError, match="pgpass"):
            config.set("database", secret)
    config.set("database", "service=deskfind")  # a libpq service file names the rest
    assert run_options(config).database == "service=deskfind"
