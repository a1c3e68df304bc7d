"""The dashboard's HTTP API over FastAPI's TestClient: reads need nothing, steering a study needs
that study's own token (never the master's, never another study's, so a captured request cannot
be replayed elsewhere), unknown studies are 404, bad events 422, and the store is read without
locking it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the dashboard extra is not installed")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (the dev extra)")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:fastapi.testclient")

from fastapi.testclient import TestClient  # noqa: E402

from nasforge.errors import ConfigError  # noqa: E402
from nasforge.report.dashboard import Dashboard, Studies, study_token  # noqa: E402
from nasforge.report.dashboard._app import create_app  # noqa: E402
from tests.report.dashboard.studies import evil_study, make_study  # noqa: E402

TOKEN = "s3cret-token"
"""The master secret: it gets a study's token and steers nothing itself."""
AUTH = {"Authorization": f"Bearer {study_token(TOKEN, 'one')}"}
"""Steers study ``one`` (only)."""


@pytest.fixture
def client(tmp_path: Path, table: Path) -> TestClient:
    make_study(tmp_path, table, "one")
    make_study(tmp_path, table, "two", objectives=[
        {"metric": "val_accuracy", "direction": "max"}, {"metric": "params", "direction": "min"}])
    return TestClient(create_app(Studies(tmp_path), TOKEN))


def test_reads_need_no_token(client: TestClient) -> None:
    studies = client.get("/api/studies").json()
    assert [s["name"] for s in studies] == ["one", "two"]
    one = studies[0]
    assert one["n_trials"] == 6 and one["budget"] == {"trials": 6}
    assert one["status"] == "finished" and one["counts"] == {"COMPLETE": 6}
    assert one["best"]["arch"].startswith("|") and one["best"]["value"] is not None
    trials = client.get("/api/studies/one/trials").json()
    assert [t["number"] for t in trials] == [5, 4, 3, 2, 1, 0]
    assert client.get("/api/studies/one/trials?limit=2").json() == trials[:2]
    detail = client.get("/api/studies/one").json()
    assert len(detail["trajectory"]) == 6 and detail["front"]["points"] == []
    best = [p["best"] for p in detail["trajectory"]]
    assert best == sorted(best)  # val_accuracy is maximised
    front = client.get("/api/studies/two").json()["front"]
    assert front["objectives"] == ["val_accuracy", "params"]
    assert any(p["front"] for p in front["points"]) and len(front["points"]) == 6
    page = client.get("/")
    assert page.status_code == 200 and "nasforge dashboard" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_steering_needs_the_studys_own_token(client: TestClient) -> None:
    event = {"kind": "forbid", "op": "avg_pool_3x3"}
    missing = client.post("/api/studies/one/events", json=event)
    assert missing.status_code == 401 and "Bearer" in missing.headers["www-authenticate"]
    empty = client.post("/api/studies/one/events", json=event, headers={"Authorization": "Bearer "})
    assert empty.status_code == 401
    wrong = client.post("/api/studies/one/events", json=event,
                        headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and "wrong token" in wrong.json()["detail"]
    assert client.get("/api/studies/one/events").json() == []
    made = client.post("/api/studies/one/events", json=event, headers=AUTH)
    assert made.status_code == 201 and made.json()["kind"] == "forbid"
    (stored,) = client.get("/api/studies/one/events").json()
    assert stored["kind"] == "forbid" and stored["payload"] == {"op": "avg_pool_3x3"}
    assert stored["handled"] is False
    stop = client.post("/api/studies/one/events", json={"kind": "stop"}, headers=AUTH)
    assert stop.status_code == 201


@pytest.mark.parametrize(
    ("event", "detail"),
    [
        ({"kind": "forbid", "op": "max_pool"}, "no decision of the space offers 'max_pool'"),
        ({"kind": "pin", "decision": "cell.edge_9_0", "value": "none"},
         "the space has no decision 'cell.edge_9_0'"),
        ({"kind": "budget", "trials": 0}, "greater than or equal to 1"),
        ({"kind": "explode"}, "unknown event kind 'explode'"),
        ({"op": "none"}, 'give the event\'s "kind"'),
    ],
)
def test_bad_events_are_422_with_the_reason(client: TestClient, event: dict[str, object],
                                            detail: str) -> None:
    response = client.post("/api/studies/one/events", json=event, headers=AUTH)
    assert response.status_code == 422 and detail in response.json()["detail"]


def test_unknown_study_is_404(client: TestClient) -> None:
    assert client.get("/api/studies/nope").status_code == 404
    assert client.get("/api/studies/nope/trials").status_code == 404
    response = client.post("/api/studies/nope/events", json={"kind": "stop"},
                           headers={"Authorization": f"Bearer {study_token(TOKEN, 'nope')}"})
    assert response.status_code == 404
    assert client.get("/api/studies/nope/token",
                      headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_a_forbid_that_empties_a_decision_says_which(client: TestClient) -> None:
    pin = {"kind": "pin", "decision": "cell.edge_3_2", "value": "none"}
    assert client.post("/api/studies/one/events", json=pin, headers=AUTH).status_code == 201
    response = client.post("/api/studies/one/events", json={"kind": "forbid", "op": "none"},
                           headers=AUTH)
    assert response.status_code == 422
    assert "leaves decision 'cell.edge_3_2' with no option" in response.json()["detail"]


def test_a_study_folder_alone_and_new_studies_under_a_root(tmp_path: Path, table: Path) -> None:
    make_study(tmp_path, table, "first", trials=2)
    alone = TestClient(create_app(Studies(tmp_path / "first"), TOKEN))
    assert [s["name"] for s in alone.get("/api/studies").json()] == ["first"]
    root = TestClient(create_app(Studies(tmp_path), TOKEN))
    assert len(root.get("/api/studies").json()) == 1
    make_study(tmp_path, table, "later", trials=2)  # started after the dashboard
    assert [s["name"] for s in root.get("/api/studies").json()] == ["first", "later"]


def test_a_script_in_an_error_or_a_name_is_data_not_markup(tmp_path: Path, table: Path) -> None:
    """The API returns the text as it is; the page (see test_browser) shows it as text."""
    evil = evil_study(tmp_path, table)
    client = TestClient(create_app(Studies(tmp_path), TOKEN))
    assert client.get("/api/studies").json()[0]["name"] == evil
    trials = client.get(f"/api/studies/{evil}/trials").json()
    assert trials[0]["reason"] == f"boom {evil}"
    assert evil not in client.get("/").text  # the page carries no data of its own


def test_a_study_that_cannot_be_read_is_left_out(tmp_path: Path, table: Path) -> None:
    import sqlite3

    make_study(tmp_path, table, "good", trials=1)
    make_study(tmp_path, table, "bad", trials=1)
    with sqlite3.connect(tmp_path / "bad" / "study.db") as conn:
        conn.execute("UPDATE studies SET spec='{\"budget\": 5}'")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "study.db").write_text("not sqlite")
    client = TestClient(create_app(Studies(tmp_path), TOKEN))
    assert [s["name"] for s in client.get("/api/studies").json()] == ["good"]


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such folder"):
        Dashboard(tmp_path / "nowhere")


def test_a_store_of_a_newer_nasforge_is_refused_by_name(tmp_path: Path, table: Path) -> None:
    import sqlite3

    from nasforge.store.sqlite import SCHEMA_VERSION, StoreError

    make_study(tmp_path, table, "new", trials=1)
    with sqlite3.connect(tmp_path / "new" / "study.db") as conn:
        conn.execute("UPDATE meta SET value=? WHERE key='schema_version'",
                     (str(SCHEMA_VERSION + 1),))
    with pytest.raises(StoreError, match="written by a newer nasforge"):
        Studies(tmp_path / "new")
    assert Studies(tmp_path).names() == []  # under a root: left out, with a warning


def test_reading_while_a_study_writes_never_fails(tmp_path: Path, table: Path) -> None:
    """The dashboard survives a study being written while it reads (each read is a whole
    committed transaction; the reader takes no lock)."""
    import threading

    study = make_study(tmp_path, table, "busy", trials=300, run=False)
    client = TestClient(create_app(Studies(tmp_path), TOKEN))
    errors: list[BaseException] = []
    seen: list[int] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                response = client.get("/api/studies/busy")
                assert response.status_code == 200, response.text
                seen.append(response.json()["n_trials"])
        except BaseException as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        study.run()
    finally:
        done.set()
        reader.join(timeout=30)
    assert not errors and seen == sorted(seen) and len(set(seen)) > 1
    assert client.get("/api/studies/busy").json()["n_trials"] == 300




def test_a_body_holding_an_infinity_is_a_422_not_a_500(client: TestClient) -> None:
    """Found by benchmarks/fuzz.py: ``1e999`` parses as inf and FastAPI's echo of it failed."""
    response = client.post("/api/studies/one/events", content=b"1e999",
                           headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"]


def test_a_study_token_is_an_hmac_of_its_name_under_the_master() -> None:
    import base64
    import hashlib
    import hmac

    mac = hmac.new(TOKEN.encode(), b"one", hashlib.sha256).digest()
    assert study_token(TOKEN, "one") == base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    assert len({study_token(TOKEN, "one"), study_token(TOKEN, "two"),
                study_token("other", "one"), TOKEN}) == 4
    board = Dashboard.__new__(Dashboard)  # token_for needs no server
    board.token = TOKEN
    assert board.token_for("two") == study_token(TOKEN, "two")


def test_another_studys_token_or_the_master_changes_nothing(client: TestClient) -> None:
    event = {"kind": "stop"}
    other = client.post("/api/studies/two/events", json=event, headers=AUTH)  # one's token
    assert other.status_code == 403
    assert "this token is for another study, not 'two'" in other.json()["detail"]
    master = client.post("/api/studies/one/events", json=event,
                         headers={"Authorization": f"Bearer {TOKEN}"})
    assert master.status_code == 403 and "master token" in master.json()["detail"]
    wrong = client.post("/api/studies/two/events", json=event,
                        headers={"Authorization": "Bearer " + study_token("guess", "two")})
    assert wrong.status_code == 403 and "wrong token" in wrong.json()["detail"]
    assert client.get("/api/studies/one/events").json() == []
    assert client.get("/api/studies/two/events").json() == []
    own = client.post("/api/studies/two/events", json=event,
                      headers={"Authorization": f"Bearer {study_token(TOKEN, 'two')}"})
    assert own.status_code == 201
    assert [e["kind"] for e in client.get("/api/studies/two/events").json()] == ["stop"]
    assert client.get("/api/studies/one/events").json() == []


def test_a_captured_request_replayed_to_another_study_is_refused(client: TestClient) -> None:
    """The exact bytes of an accepted write (headers and body), sent again to study two."""
    body = b'{"kind": "forbid", "op": "avg_pool_3x3"}'
    headers = {**AUTH, "Content-Type": "application/json", "Content-Length": str(len(body))}
    first = client.post("/api/studies/one/events", content=body, headers=headers)
    assert first.status_code == 201
    replayed = client.post("/api/studies/two/events", content=body, headers=headers)
    assert replayed.status_code == 403
    assert client.get("/api/studies/two/events").json() == []
    assert len(client.get("/api/studies/one/events").json()) == 1


def test_the_token_endpoint_needs_the_master(client: TestClient) -> None:
    url = "/api/studies/two/token"
    missing = client.get(url)
    assert missing.status_code == 401 and "Bearer" in missing.headers["www-authenticate"]
    for given in ("nope", study_token(TOKEN, "two"), study_token(TOKEN, "one")):
        refused = client.get(url, headers={"Authorization": f"Bearer {given}"})
        assert refused.status_code == 403 and "wrong token" in refused.json()["detail"]
        assert "token" not in refused.json()
    basic = client.get(url, headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 403
    given = client.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
    assert given.status_code == 200 and given.json() == {"token": study_token(TOKEN, "two")}
    assert given.headers["cache-control"] == "no-store"
