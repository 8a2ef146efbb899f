"""`deskfind` on a shared PostgreSQL index, driven as a subprocess as a user would: chosen
by `--database` or by the `database` setting, and the same answers as on SQLite."""

import json
from pathlib import Path

import pytest

from tests.app.test_cli import deskfind
from tests.helpers import write_files

FILES = {
    "garden/tomatoes.md": "# Growing tomatoes\n\nWater deeply twice a week and pinch out "
                          "side shoots so the plant puts its energy into fruit.",
    "work/incident.txt": "Incident report\n\nThe backup job failed with error 0x80070005 "
                         "(access denied) on the file server at 02:00.",
    "work/notes.md": "Meeting notes: the server room needs a new backup drive.",
}


@pytest.fixture
def shared(postgres_database, tmp_path) -> tuple[Path, Path, str]:
    docs = tmp_path / "docs"
    write_files(docs, FILES)
    data = tmp_path / "data"
    out = deskfind("index", str(docs), "--database", postgres_database, data=data)
    assert "3 new" in out.stdout
    return docs, data, postgres_database


def test_index_search_and_status_on_postgresql(shared, tmp_path):
    docs, data, database = shared
    meaning = json.loads(deskfind("search", "how do I look after my vegetable plants",
                                  "--json", "--database", database, data=data).stdout)
    assert meaning["results"][0]["path"].endswith("tomatoes.md")
    exact = json.loads(deskfind("search", "0x80070005", "--json", "--mode", "lexical",
                                "--database", database, data=data).stdout)
    assert [Path(r["path"]).name for r in exact["results"]] == ["incident.txt"]
    filtered = json.loads(deskfind("search", "backup ext:md", "--json", "--database",
                                   database, data=data).stdout)
    assert [Path(r["path"]).name for r in filtered["results"]] == ["notes.md"]
    status = json.loads(deskfind("status", "--json", "--database", database,
                                 data=data).stdout)
    assert status["files"] == 3 and status["embedded"] == status["passages"] > 0
    assert status["database"].startswith("postgresql database t_")
    # Another desktop (its own data folder, nothing indexed there) sees the same index.
    other = tmp_path / "other-desktop"
    again = json.loads(deskfind("search", "0x80070005", "--json", "--mode", "lexical",
                                "--database", database, data=other).stdout)
    assert again["results"] == exact["results"]
    local = deskfind("search", "0x80070005", "--mode", "lexical", data=other, check=False)
    assert local.returncode != 0  # without --database that desktop has no index


def test_the_database_setting_chooses_postgresql_for_every_command(shared):
    docs, data, database = shared
    Path(f"{data}.config.toml").write_text(f'database = "{database}"\n', encoding="utf-8")
    (docs / "garden" / "beans.md").write_text("Runner beans climb any pole you give them.",
                                              encoding="utf-8")
    assert "1 new" in deskfind("index", str(docs), data=data).stdout
    found = json.loads(deskfind("search", "beans", "--json", "--mode", "lexical",
                                data=data).stdout)
    assert [Path(r["path"]).name for r in found["results"]] == ["beans.md"]


def test_a_wrong_database_is_one_line_and_a_failure(tmp_path):
    for database in ("mysql://db.example/index", f"postgresql://nobody@/x?host={tmp_path}"):
        proc = deskfind("status", "--database", database, data=tmp_path / "d", check=False)
        assert proc.returncode != 0
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "Traceback" not in proc.stderr
