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
    assert status["embedding"]["precision"] == "fp32"  # auto: the same on every machine
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


@pytest.fixture
def alice(postgres_database):
    """A role that may log in and select, and nothing more (row-level security applies
    to it); dropped after."""
    import psycopg

    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS alice")
        conn.execute("CREATE ROLE alice LOGIN")
        conn.execute("GRANT USAGE ON SCHEMA public TO alice")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO alice")
    yield postgres_database.replace("postgresql://postgres:@", "postgresql://alice@", 1)
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute("DROP OWNED BY alice")
        conn.execute("DROP ROLE alice")


def test_readers_grants_and_revokes_who_may_read_a_root(shared, alice, tmp_path):
    docs, data, database = shared
    desk = tmp_path / "alice-desktop"

    def alice_finds() -> list[str]:
        out = deskfind("search", "backup", "--json", "--mode", "lexical",
                       "--database", alice, data=desk).stdout
        return sorted(Path(r["path"]).name for r in json.loads(out)["results"])

    assert alice_finds() == []  # a root nobody was granted: hidden from alice
    granted = deskfind("readers", str(docs), "alice", "--database", database, data=data)
    assert granted.stdout.strip() == f"{docs}: alice"
    assert alice_finds() == ["incident.txt", "notes.md"]
    listed = deskfind("readers", str(docs), "--database", database, data=data)
    assert listed.stdout == granted.stdout
    revoked = deskfind("readers", str(docs), "alice", "--revoke", "--database", database,
                       data=data)
    assert revoked.stdout.strip() == f"{docs}: no readers"
    assert alice_finds() == []


@pytest.mark.parametrize("args", [
    ("DOCS", "nosuchrole"),              # a role the server does not know
    ("OTHER", "alice"),                  # a folder that is not an indexed root
    ("DOCS", "--revoke"),                # revoke whom?
    ("DOCS", "alice", "--no-database"),  # the local SQLite index has no readers
])
def test_readers_refuses_wrong_input_in_one_line(shared, alice, tmp_path, args):
    docs, data, database = shared
    words = [str(docs) if a == "DOCS" else str(tmp_path) if a == "OTHER" else a
             for a in args if a != "--no-database"]
    if "--no-database" not in args:
        words += ["--database", database]
    proc = deskfind("readers", *words, data=data, check=False)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
