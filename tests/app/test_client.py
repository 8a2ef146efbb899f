"""The client contract (app.client): the index opened here and the running service
answer the same questions with the same types and the same errors.

Every test runs twice: on a `LocalIndex`, and on a real `deskfind service` subprocess
on its own data directory and settings file (tests/app/test_service.py's `Running`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.client import Client, LocalIndex, ServiceClient, connect
from app.context import Options
from app.errors import UsageError
from app.values import SERVICE_RUNNING, Found, Hit, IndexStatus, Phase
from engine.errors import QueryError
from tests.app.test_service import Running
from tests.helpers import wait_until, write_files
from ui.command import main

FILES = {
    "garden/tomatoes.md": "# Growing tomatoes\n\nWater the tomatoes deeply twice a week. "
                          "Tomato plants need full sun and rich soil.",
    "garden/tomatoes-copy.md": "# Growing tomatoes\n\nWater the tomatoes deeply twice a "
                               "week. Tomato plants need full sun and rich soil.",
    "garden/roses.md": "Roses want sun, water at the roots and pruning in late winter.",
    "work/incident.txt": "Incident report\n\nThe backup job failed with error 0x80070005.",
    "work/broken.txt": b"\x00\xff\x00binary",
}
KINDS = ("local", "service")


@dataclass
class Index:
    kind: str
    root: Path
    data: Path
    config: Path

    @property
    def options(self) -> Options:
        return Options(data_dir=str(self.data))


@pytest.fixture(scope="module", params=KINDS)
def index(request, tmp_path_factory) -> Iterator[Index]:
    tmp = tmp_path_factory.mktemp(request.param)
    root = tmp / "root"
    write_files(root, FILES)
    running = Running(tmp, [root])
    if request.param == "service":
        running.start()
        wait_until(running.settled, timeout=180)
    else:
        LocalIndex(Options(data_dir=str(running.data))).index([root])
    try:
        yield Index(request.param, root, running.data, running.config)
    finally:
        running.stop()


@pytest.fixture
def client(index) -> Iterator[Client]:
    with connect(index.options) as opened:
        yield opened


def names(found: Found) -> list[str]:
    return [os.path.basename(h.display_path) for h in found.hits]


def test_connect_picks_the_service_when_one_runs_and_the_index_here_otherwise(index, client):
    assert client.is_service == (index.kind == "service")
    assert isinstance(client, ServiceClient if index.kind == "service" else LocalIndex)
    assert client.data_dir == index.data


def test_search_gives_hits_of_one_type(client):
    found = client.search("backup error 0x80070005", mode="lexical", limit=5)
    assert isinstance(found, Found) and all(isinstance(h, Hit) for h in found.hits)
    assert names(found)[0] == "incident.txt"
    assert found.relaxed is None
    top = found.hits[0]
    assert top.snippet.text[slice(*top.snippet.spans[0])].lower() in ("backup", "error",
                                                                      "0x80070005")
    assert Hit.from_json(top.to_json()).to_json() == top.to_json()


def test_copies_are_one_result(client):
    [hit] = [h for h in client.search("growing tomatoes sun", mode="lexical").hits
             if "tomatoes" in h.display_path]
    both = {os.path.basename(p.display_path) for p in (hit, *hit.copies)}
    assert both == {"tomatoes.md", "tomatoes-copy.md"}


def test_search_by_meaning_and_relaxing_work_alike(client):
    assert names(client.search("how often should I irrigate vegetables", mode="dense",
                               limit=2))[0].startswith("tomatoes")
    relaxed = client.search('"irrigate the tomatoes" water', mode="lexical")
    assert relaxed.relaxed and names(relaxed)
    assert client.search('"irrigate the tomatoes" water', mode="lexical",
                         strict=True).hits == []


def test_a_bad_query_is_a_query_error_from_either(client):
    with pytest.raises(QueryError, match="date"):
        client.search("roses after:soon")


def test_status_counts_are_the_same_type_and_names(index, client):
    status = client.status()
    assert isinstance(status, IndexStatus)
    assert (status.files, status.searchable, status.failed) == (5, 4, 1)
    assert status.passages == status.embedded > 0
    assert [os.path.basename(f.path) for f in status.failures] == ["broken.txt"]
    assert status.data_dir == str(index.data)
    if index.kind == "service":
        assert status.service == SERVICE_RUNNING and status.phase == Phase.IDLE
        assert [w.root for w in status.watch] == [str(index.root)]
    else:
        assert status.phase is None and status.watch == ()
    assert status.roots == (str(index.root),)
    assert IndexStatus.from_json(json.loads(json.dumps(status.to_json()))) == status


def test_sentences_related_files_and_duplicates(index, client):
    [hit] = client.search("backup job", mode="lexical", limit=1).hits
    assert client.best_sentences("which job failed", [hit.snippet.text, ""])[1] is None
    roses = os.fsencode(index.root / "garden/roses.md")
    related = client.related(roses, limit=3)
    assert related and all(r.path != roses for r in related)
    assert os.path.basename(related[0].display_path).startswith("tomatoes")
    [group] = client.duplicates()
    assert sorted(os.path.basename(f.display_path) for f in group.files) == [
        "tomatoes-copy.md", "tomatoes.md"]


def test_only_the_service_owns_writes_while_it_runs(index, client):
    if index.kind == "service":
        with pytest.raises(UsageError, match="roots add"):
            client.index([index.root])
        assert client.reload() is True
        assert client.forget_roots([b"/not/a/root"]) == 0
    else:
        assert client.index([index.root]).unchanged == 5
        assert client.reload() is False
        with pytest.raises(UsageError):
            client.pause(True)


def test_the_command_line_goes_through_the_same_door(index, monkeypatch, capsys):
    monkeypatch.setenv("DESKFIND_DATA_DIR", str(index.data))
    monkeypatch.setenv("DESKFIND_CONFIG", str(index.config))
    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["service"] == (index.kind == "service") and status["searchable"] == 4
    assert main(["search", "backup", "--json", "--mode", "lexical"]) == 0
    [result] = json.loads(capsys.readouterr().out)["results"]
    assert result["path"].endswith("incident.txt")
    assert main(["search", "roses", "after:soon"]) == 2  # QueryError: wrong input
    assert "date" in capsys.readouterr().err
    expected = 2 if index.kind == "service" else 0  # one writer: the service's UsageError
    assert main(["index", str(index.root)]) == expected
