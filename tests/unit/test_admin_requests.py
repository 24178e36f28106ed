"""Request-level tests of the admin console: Flask's test client on a real SQLite database.

The pages that search (sandbox, previews, promotion) are exercised against the real node in
tests/integration/test_admin_console.py, in a real browser; here the guards: login, roles, CSRF,
validation, escaping.
"""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from admin.app import create_app
from core.access import users
from core.db import migrate
from core.db.models import ApiKey, AuditEntry, ConsoleUser, Judgment, SearchTuningVersion, TaskRun, utcnow
from core.db.session import session_scope
from core.settings import Settings
from evaluation.judgments import split_of
from storefront.tuning import SearchTuning
from storefront.tuning_store import LiveTuning

PASSWORD = "correct horse battery"
UNREACHABLE = "http://127.0.0.1:9"  # nothing listens: pages that need the node must say so, not hang


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    migrate.upgrade(url)
    with session_scope(url) as session:
        for name, role in (("ada", "admin"), ("tess", "tuner"), ("vic", "viewer")):
            users.create_user(session, name, PASSWORD, role)
    settings = Settings(database_url=url, state_dir=tmp_path, opensearch_url=UNREACHABLE, search_timeout_s=0.5)
    return create_app(settings)


class FixedResults:
    """The storefront service as the grading page uses it: the same three products for every query."""

    def search(self, request, record=True, tuning=None, rerank=True):  # type: ignore[no-untyped-def]
        return SimpleNamespace(results=[{"position": i, "id": f"p{i}", "title": f"Drill {i}"} for i in (1, 2, 3)])


def path_of(rule) -> str:  # type: ignore[no-untyped-def]
    """A concrete path for a URL rule: ``1`` for an int argument, ``x`` for any other."""
    return re.sub(r"<(?:int:)?(\w+)>", lambda m: "1" if "int:" in m.group(0) else "x", rule.rule)


def db_url(app: Flask) -> str:
    return app.config["SHELFRANK_SETTINGS"].effective_database_url


def count(app: Flask, model) -> int:  # type: ignore[no-untyped-def]
    with session_scope(db_url(app)) as session:
        return session.scalar(select(func.count()).select_from(model))


def token(client: FlaskClient, path: str = "/login") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def logged_in(app: Flask, username: str) -> tuple[FlaskClient, str]:
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token(client)})
    assert response.status_code == 302, response.text
    return client, token(client, "/tuning")


def test_every_route_refuses_an_anonymous_request(app: Flask) -> None:
    client = app.test_client()
    csrf = token(client)  # an anonymous session with a valid token still gets nothing
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("auth.login", "static"):
            continue
        if rule.endpoint == "health":  # public on purpose (the health check), and it tells nothing else
            assert client.get("/health").get_json() == {"status": "ok"} and rule.methods - {"HEAD", "OPTIONS"} == {"GET"}
            continue
        path = path_of(rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(path, method=method, data={"csrf_token": csrf} if method == "POST" else None)
            checked += 1
            if rule.endpoint == "auth.logout":
                assert response.status_code == 302 and "/login" in response.headers["Location"]
                continue
            assert response.status_code == 302, (method, path, response.status_code)
            assert response.headers["Location"].startswith("/login"), (method, path)
    assert checked >= 20
    assert count(app, ApiKey) == 0 and count(app, SearchTuningVersion) == 0


def test_login_sets_a_hardened_session_cookie_and_logout_ends_it(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/login", data={"username": "ada", "password": PASSWORD, "csrf_token": token(client)})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
    assert client.get("/").status_code == 200
    assert "default-src 'self'" in client.get("/").headers["Content-Security-Policy"]
    client.post("/logout", data={"csrf_token": token(client, "/tuning")})
    assert client.get("/").status_code == 302


def test_a_state_change_without_the_csrf_token_is_rejected(app: Flask) -> None:
    client, _csrf = logged_in(app, "ada")
    assert client.post("/keys", data={"name": "frontend"}).status_code == 400
    assert client.post("/keys", data={"name": "frontend", "csrf_token": "forged"}).status_code == 400
    assert client.post("/login", data={"username": "ada", "password": PASSWORD}).status_code == 400
    assert count(app, ApiKey) == 0
    # Every POST route, as an admin (whom no role check stops): refused before the view runs.
    posts = [rule for rule in app.url_map.iter_rules() if "POST" in rule.methods]
    for rule in posts:
        for data in ({"confirm": "yes"}, {"confirm": "yes", "csrf_token": "forged"}):
            response = client.post(path_of(rule), data=data)
            assert response.status_code == 400, (rule.rule, response.status_code)
            assert "security token" in response.text, rule.rule
    assert len(posts) >= 12
    assert client.get("/").status_code == 200  # still logged in: the refused logout did nothing
    assert count(app, ApiKey) == 0 and count(app, ConsoleUser) == 3 and count(app, Judgment) == 0


def test_a_viewer_changes_nothing_and_only_an_admin_manages(app: Flask) -> None:
    viewer, csrf = logged_in(app, "vic")
    for path, data in (("/tuning", {"vector_weight": "0.5"}), ("/keys", {"name": "x"}),
                       ("/users", {"username": "eve", "password": PASSWORD, "role": "admin"}),
                       ("/models/rollback", {"confirm": "yes"}), ("/models/m1/promote", {"confirm": "yes"}),
                       ("/judgments/grade", {"q": "drill", "product_id": "1", "grade": "2"}),
                       ("/tuning/1/activate", {})):
        response = viewer.post(path, data={**data, "csrf_token": csrf})
        assert response.status_code == 403, path
        assert "needs the" in response.text
    tuner, csrf = logged_in(app, "tess")
    assert tuner.post("/keys", data={"name": "x", "csrf_token": csrf}).status_code == 403
    assert tuner.get("/users").status_code == 403
    assert tuner.post("/models/rollback", data={"confirm": "yes", "csrf_token": csrf}).status_code == 403
    assert count(app, ApiKey) == 0 and count(app, ConsoleUser) == 3 and count(app, Judgment) == 0
    assert viewer.get("/tuning").status_code == 200 and "needs the tuner role" in viewer.get("/tuning").text


def test_failed_logins_are_audited_and_rate_limited(app: Flask) -> None:
    client = app.test_client()
    csrf = token(client)
    for _ in range(app.config["SHELFRANK_SETTINGS"].admin_login_max_failures):
        assert client.post("/login", data={"username": "ada", "password": "wrong password!", "csrf_token": csrf}
                           ).status_code == 401
    # Even the right password is refused now: the limit holds whoever guesses.
    response = client.post("/login", data={"username": "ada", "password": PASSWORD, "csrf_token": csrf})
    assert response.status_code == 429 and "Too many failed logins" in response.text
    with session_scope(db_url(app)) as session:
        failures = session.scalars(select(AuditEntry).where(AuditEntry.action == "login.failed")).all()
        assert len(failures) == 5 and {f.target for f in failures} == {"ada"}
    # Another user from another address is not locked out by ada's attacker.
    other = app.test_client()
    assert other.post("/login", data={"username": "tess", "password": PASSWORD, "csrf_token": token(other)},
                      environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 302


def test_one_address_is_throttled_past_its_limit_whatever_usernames_it_tries(app: Flask) -> None:
    limit = 4 * app.config["SHELFRANK_SETTINGS"].admin_login_max_failures  # per address
    attacker = app.test_client()
    csrf = token(attacker)
    here = {"REMOTE_ADDR": "10.1.1.1"}
    for i in range(limit):  # one failure per username: no username reaches its own limit
        assert attacker.post("/login", data={"username": f"guess{i}", "password": "wrong password!",
                                             "csrf_token": csrf}, environ_base=here).status_code == 401
    for username, password in (("guess-next", "wrong password!"), ("ada", PASSWORD)):
        response = attacker.post("/login", data={"username": username, "password": password, "csrf_token": csrf},
                                 environ_base=here)
        assert response.status_code == 429 and "Too many failed logins" in response.text, username
    elsewhere = app.test_client()
    assert elsewhere.post("/login", data={"username": "ada", "password": PASSWORD, "csrf_token": token(elsewhere)},
                          environ_base={"REMOTE_ADDR": "10.2.2.2"}).status_code == 302


def test_login_never_redirects_off_site(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/login", data={"username": "ada", "password": PASSWORD, "csrf_token": token(client),
                                           "next": "//evil.example/phish"})
    assert response.headers["Location"] == "/"


def test_bad_tuning_input_is_named_and_nothing_is_saved(app: Flask) -> None:
    client, csrf = logged_in(app, "tess")
    cases = {"vector_weight": ("2", "must be from 0 to 1"), "candidates": ("ten", "must be an integer"),
             "boosts.title": ("-1", "must be from 0 to 100"),
             "synonyms": ("fridge", "a group needs at least two terms"),
             "config": ("<b>x</b>", "must be one of"),
             "vector_ef_search": ("10", "must be at least the k-NN candidates (30)")}
    for field, (value, message) in cases.items():
        response = client.post("/tuning", data={field: value, "csrf_token": csrf})
        assert response.status_code == 400, field
        assert message in response.text, (field, response.text[:300])
        assert f'id="error-{field.replace(".", "-")}"' in response.text, field  # next to its field
        assert "<b>x</b>" not in response.text
    assert count(app, SearchTuningVersion) == 0


def test_tuning_versions_go_live_and_roll_back_and_the_storefront_follows(app: Flask) -> None:
    """Without judged queries the preview is skipped; versions still save, go live and roll back."""
    client, csrf = logged_in(app, "tess")
    live = LiveTuning(db_url(app), fallback=SearchTuning(),
                      refresh_s=0)
    assert live.current().version is None
    assert client.post("/tuning", data={"vector_weight": "0.6", "synonyms": "fridge, refrigerator",
                                        "csrf_token": csrf}).status_code == 302
    assert client.post("/tuning", data={"vector_weight": "0.2", "csrf_token": csrf}).status_code == 302
    assert client.post("/tuning/1/activate", data={"csrf_token": csrf}).status_code == 302
    served = live.current()
    assert served.version == 1 and served.configs["hybrid-minmax"].vector_weight == 0.6
    assert served.configs["bm25"].synonyms == (("fridge", "refrigerator"),)
    client.post("/tuning/2/activate", data={"csrf_token": csrf})
    assert live.current().version == 2 and live.current().configs["hybrid-minmax"].vector_weight == 0.2
    page = client.get("/tuning/1").text
    assert "Roll back to version 1" in page
    client.post("/tuning/1/activate", data={"csrf_token": csrf})
    assert live.current().version == 1
    with session_scope(db_url(app)) as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions.count("tuning.save") == 2 and "tuning.rollback" in actions and "tuning.activate" in actions


def test_the_knn_depth_is_a_versioned_setting_the_storefront_serves(app: Flask) -> None:
    """Empty is the engine's default (k); a depth saved, put live and served, then cleared again."""
    client, csrf = logged_in(app, "tess")
    live = LiveTuning(db_url(app), fallback=SearchTuning(), refresh_s=0)
    page = client.get("/tuning").text
    assert 'name="vector_ef_search" id="vector_ef_search" value=""' in page and "ef_search" in page
    assert client.post("/tuning", data={"vector_ef_search": "", "csrf_token": csrf}).status_code == 400  # no change
    assert client.post("/tuning", data={"vector_ef_search": "150", "csrf_token": csrf}).status_code == 302
    assert "<td>vector_ef_search</td><td>default</td><td>150</td>" in client.get("/tuning/1").text
    client.post("/tuning/1/activate", data={"csrf_token": csrf})
    served = live.current()
    assert served.configs["hybrid-minmax"].ef_search == 150 and served.configs["bm25"].ef_search is None
    assert 'id="vector_ef_search" value="150"' in client.get("/tuning").text
    assert client.post("/tuning", data={"vector_ef_search": " ", "csrf_token": csrf}).status_code == 302
    client.post("/tuning/2/activate", data={"csrf_token": csrf})
    assert live.current().version == 2 and live.current().configs["hybrid-minmax"].ef_search is None
    with session_scope(db_url(app)) as session:
        stored = [v.values["vector_ef_search"] for v in session.scalars(
            select(SearchTuningVersion).order_by(SearchTuningVersion.id))]
    assert stored == [150, None]


def test_admins_manage_users_and_keys_with_validation(app: Flask) -> None:
    client, csrf = logged_in(app, "ada")
    short = client.post("/users", data={"username": "eve", "password": "short", "role": "viewer", "csrf_token": csrf})
    assert short.status_code == 400 and "at least 12 characters" in short.text
    assert count(app, ConsoleUser) == 3
    assert client.post("/users", data={"username": "eve", "password": PASSWORD, "role": "viewer",
                                       "csrf_token": csrf}).status_code == 302
    page = client.post("/keys", data={"name": "storefront", "csrf_token": csrf})
    key = re.search(r'id="new-key">(srk_[^<]+)<', page.text).group(1)
    assert key not in client.get("/keys").text  # shown once, never again
    with session_scope(db_url(app)) as session:
        admin = session.scalar(select(ConsoleUser).where(ConsoleUser.username == "ada"))
        admin_id = admin.id
    demoted = client.post(f"/users/{admin_id}", data={"role": "viewer", "csrf_token": csrf})
    assert demoted.status_code == 400 and "last enabled admin" in demoted.text


def test_judgment_uploads_are_validated_and_bounded(app: Flask, tmp_path: Path) -> None:
    client, csrf = logged_in(app, "tess")
    wrong = client.post("/judgments/import", data={"format": "csv", "csrf_token": csrf,
                                                   "file": (io.BytesIO(b"q,pid,score\nx,1,2\n"), "j.csv")},
                        content_type="multipart/form-data")
    assert wrong.status_code == 400 and "missing column(s) grade, product_id, query" in wrong.text
    assert str(tmp_path) not in wrong.text
    big = b"query,product_id,grade\n" + b"drill,1,2\n" * (1024 * 1024)  # 10 MB
    too_large = client.post("/judgments/import", data={"format": "csv", "csrf_token": csrf,
                                                       "file": (io.BytesIO(big), "big.csv")},
                            content_type="multipart/form-data")
    assert too_large.status_code == 413
    ok = client.post("/judgments/import", data={"format": "csv", "csrf_token": csrf, "file": (
        io.BytesIO(b"query,product_id,grade\nCordless Drill,p1,2\ncordless drill,p2,0\n"), "ok.csv")},
        content_type="multipart/form-data")
    assert ok.status_code == 200 and "Imported 2 judgments for 1 queries" in ok.text
    assert count(app, Judgment) == 2
    assert client.get("/judgments/export.csv").text.splitlines()[1:] == ["cordless drill,p1,2.0",
                                                                        "cordless drill,p2,0.0"]


def test_a_query_with_html_is_escaped_and_a_huge_one_refused(app: Flask) -> None:
    client, _csrf = logged_in(app, "vic")
    response = client.get("/sandbox", query_string={"q": "<script>alert(1)</script> drill"})
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    huge = client.get("/sandbox", query_string={"q": "x" * 5000})
    assert huge.status_code == 400 and "at most 500 characters" in huge.text


def test_queueing_a_task_with_the_broker_down_says_so_and_records_nothing(app: Flask) -> None:
    app.config["SHELFRANK_SETTINGS"] = app.config["SHELFRANK_SETTINGS"].model_copy(
        update={"broker_url": "redis://127.0.0.1:9/0"})
    client, csrf = logged_in(app, "ada")
    response = client.post("/tasks/run", data={"task": "retrain", "csrf_token": csrf})
    assert response.status_code == 503 and "shelfrank redis start" in response.text
    with session_scope(db_url(app)) as session:
        assert not session.scalars(select(AuditEntry).where(AuditEntry.action == "task.run")).all()


def test_the_overview_plots_recorded_evaluations(app: Flask) -> None:
    from core.db.models import EvaluationRun, utcnow

    client, _csrf = logged_in(app, "vic")
    assert 'id="quality-plot"' not in client.get("/").text
    with session_scope(db_url(app)) as session:
        at = utcnow()
        for ranking, ndcg in (("served", 0.42), ("hybrid", 0.39)):
            session.add(EvaluationRun(at=at, ranking=ranking, config="hybrid-minmax", split="test", queries=10,
                                      metrics={"ndcg@10": ndcg}, started_by="beat"))
    page = client.get("/")
    assert page.status_code == 200 and 'id="quality-plot"' in page.text
    assert "OpenSearch is unavailable" in page.text  # the node is down here; the page still renders


def test_every_state_changing_route_declares_the_role_it_needs(app: Flask) -> None:
    """Besides logging in and out, no POST route is left without a role check (viewers change nothing)."""
    unguarded = [rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods
                 and rule.endpoint not in ("auth.login", "auth.logout")
                 and not hasattr(app.view_functions[rule.endpoint], "required_role")]
    assert unguarded == []
    roles = {rule.endpoint: app.view_functions[rule.endpoint].required_role for rule in app.url_map.iter_rules()
             if hasattr(app.view_functions[rule.endpoint], "required_role")}
    assert {roles[e] for e in ("models.promote", "models.rollback", "people.create_user", "people.create_key",
                               "people.revoke_key", "people.change_user", "tasks.run")} == {"admin"}
    assert {roles[e] for e in ("tuning.save", "tuning.activate", "judgments.upload", "judgments.grade")} == {"tuner"}


def test_an_empty_username_cannot_lock_everyone_out(app: Flask) -> None:
    attacker = app.test_client()
    csrf = token(attacker)
    for _ in range(30):
        attacker.post("/login", data={"username": "", "password": "x", "csrf_token": csrf},
                      environ_base={"REMOTE_ADDR": "10.6.6.6"})
    someone = app.test_client()
    response = someone.post("/login", data={"username": "ada", "password": PASSWORD, "csrf_token": token(someone)},
                            environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert response.status_code == 302


def upload(client: FlaskClient, csrf: str, fmt: str, **files: tuple[bytes, str]):  # type: ignore[no-untyped-def]
    return client.post("/judgments/import", data={"format": fmt, "csrf_token": csrf, **{
        field: (io.BytesIO(content), name) for field, (content, name) in files.items()}},
        content_type="multipart/form-data")


def test_a_judged_query_longer_than_the_storefront_searches_is_refused_and_nothing_saved(app: Flask) -> None:
    client, csrf = logged_in(app, "tess")
    long_query = "drill " * 1000  # 6,000 characters: on PostgreSQL it would overflow the unique index
    csv_file = f"query,product_id,grade\ncordless drill,p1,2\n{long_query},p2,1\n".encode()
    refused = upload(client, csrf, "csv", file=(csv_file, "mine.csv"))
    assert refused.status_code == 400
    assert "mine.csv:3: query must be at most 500 characters" in refused.text  # their file and row, no temp path
    topics = f"1\tcordless drill\n2\t{long_query}\n".encode()
    refused = upload(client, csrf, "trec", file=(b"1 0 p1 2\n2 0 p2 1\n", "mine.qrels"), topics=(topics, "mine.topics"))
    assert refused.status_code == 400 and "mine.topics:2: query must be at most 500 characters" in refused.text
    refused = upload(client, csrf, "trec", file=(b"1 0 " + b"p" * 600 + b" 2\n", "ids.qrels"),
                     topics=(b"1\tcordless drill\n", "t.tsv"))
    assert refused.status_code == 400 and "ids.qrels:1: product_id must be at most 512 characters" in refused.text
    app.extensions["shelfrank_search"] = FixedResults()
    forged = client.post("/judgments/grade", data={"q": long_query, "product_id": "p1", "grade": "2",
                                                  "csrf_token": csrf})
    assert forged.status_code == 400 and "at most 500 characters" in forged.text
    assert count(app, Judgment) == 0
    with session_scope(db_url(app)) as session:
        assert not session.scalars(select(AuditEntry).where(AuditEntry.action.startswith("judgments."))).all()


def test_a_bad_grade_is_named_next_to_its_field_and_nothing_saved(app: Flask) -> None:
    app.extensions["shelfrank_search"] = FixedResults()
    client, csrf = logged_in(app, "tess")
    for entered, message in (("lots", "must be a number"), ("-1", "must be from 0 to 100"),
                             ("nan", "must be from 0 to 100"), ("1e400", "must be from 0 to 100")):
        response = client.post("/judgments/grade", data={"q": "Cordless  Drill", "product_id": "p2", "grade": entered,
                                                        "csrf_token": csrf})
        assert response.status_code == 400, entered
        row = re.search(r'<tr><td>2</td>.*?</tr>', response.text, re.S).group(0)  # p2's row holds the message
        assert f'value="{entered}"' in row and 'id="error-grade"' in row and message in row, entered
        assert 'id="grading"' in response.text and "error.html" not in response.text
    outside = client.post("/judgments/grade", data={"q": "drill", "product_id": "p9", "grade": "-1",
                                                   "csrf_token": csrf})
    assert outside.status_code == 400 and "Not graded: grade must be from 0 to 100" in outside.text
    assert count(app, Judgment) == 0


def test_grading_in_the_console_shows_in_the_coverage_row(app: Flask) -> None:
    app.extensions["shelfrank_search"] = FixedResults()
    client, csrf = logged_in(app, "tess")
    page = client.get("/judgments/grade", query_string={"q": "Cordless Drill"})
    assert page.status_code == 200 and page.text.count('name="grade"') == 3
    for product, grade in (("p1", "2"), ("p2", "0"), ("p1", "1.5")):  # p1 graded twice: the last grade holds
        saved = client.post("/judgments/grade", data={"q": "Cordless Drill", "product_id": product, "grade": grade,
                                                     "csrf_token": csrf})
        assert saved.status_code == 302 and "q=cordless+drill" in saved.headers["Location"]
    assert 'value="1.5"' in client.get("/judgments/grade", query_string={"q": "cordless drill"}).text
    coverage = client.get("/judgments", query_string={"search": "cordless"}).text
    row = re.search(r'<tr><td><a href="[^"]*">cordless drill</a></td>.*?</tr>', coverage, re.S)
    assert row, coverage[:2000]
    assert re.findall(r"<td>([^<]*)</td>", row.group(0)) == [split_of("cordless drill"), "2", "1"]  # judged, relevant
    viewer, _csrf = logged_in(app, "vic")
    assert 'name="grade"' not in viewer.get("/judgments/grade", query_string={"q": "cordless drill"}).text
    with session_scope(db_url(app)) as session:
        grades = session.scalars(select(AuditEntry).where(AuditEntry.action == "judgments.grade")).all()
        assert [(e.actor, e.target, e.detail["grade"]) for e in grades] == [
            ("tess", "cordless drill / p1", 2.0), ("tess", "cordless drill / p2", 0.0),
            ("tess", "cordless drill / p1", 1.5)]


def test_trec_qrels_are_imported_and_exported_through_the_console(app: Flask) -> None:
    client, csrf = logged_in(app, "tess")
    qrels, topics = b"7 0 p1 2\n7 0 p2 0\n9 0 p3 1\n", b"7\tCordless  Drill\n9\thammer\n"
    missing = upload(client, csrf, "trec", file=(qrels, "run.qrels"))
    assert missing.status_code == 400 and "need the topics file" in missing.text and count(app, Judgment) == 0
    imported = upload(client, csrf, "trec", file=(qrels, "run.qrels"), topics=(topics, "run.topics"))
    assert imported.status_code == 200 and "Imported 3 judgments for 2 queries from run.qrels" in imported.text
    exported_qrels = client.get("/judgments/export.qrels")
    assert exported_qrels.headers["Content-Disposition"] == "attachment; filename=judgments.qrels"
    # Query ids are renumbered in query order; the texts are the normalised queries.
    assert exported_qrels.text == "1 0 p1 2\n1 0 p2 0\n2 0 p3 1\n"
    assert client.get("/judgments/export.topics").text == "1\tcordless drill\n2\thammer\n"
    # What was exported imports again (replacing everything) to the same judgments.
    again = upload(client, csrf, "trec", file=(exported_qrels.data, "judgments.qrels"),
                   topics=(client.get("/judgments/export.topics").data, "topics.tsv"))
    assert again.status_code == 200 and count(app, Judgment) == 3
    assert client.get("/judgments/export.csv").text.splitlines() == [
        "query,product_id,grade", "cordless drill,p1,2.0", "cordless drill,p2,0.0", "hammer,p3,1.0"]
    with session_scope(db_url(app)) as session:
        imports = session.scalars(select(AuditEntry).where(AuditEntry.action == "judgments.import")).all()
        assert [(e.target, e.detail["pairs"]) for e in imports] == [("run.qrels", 3), ("judgments.qrels", 3)]


def test_the_events_page_plots_the_fitted_click_models_propensities(app: Flask) -> None:
    client, _csrf = logged_in(app, "vic")
    assert 'id="no-fit"' in client.get("/events").text
    fit = app.config["SHELFRANK_SETTINGS"].state_dir / "clickmodels" / "20240101-pbm"
    fit.mkdir(parents=True)
    # The shape ltr.click_labels.ClickModelFit.summary() saves; a position never shown is null.
    (fit / "summary.json").write_text(json.dumps({
        "model": "pbm", "examination": [1.0, 0.61, 0.42, None], "sessions": 1234, "labelled_pairs": 87}))
    page = client.get("/events")
    assert page.status_code == 200 and 'id="no-fit"' not in page.text
    plot = re.search(r'<img class="plot" id="propensity-plot" alt="[^"]+" src="data:image/svg\+xml;base64,([^"]+)"',
                     page.text)
    assert plot, page.text[:2000]
    svg = base64.b64decode(plot.group(1)).decode()
    assert svg.lstrip().startswith("<?xml") and "P(examined) by position (pbm, 1234 searches)" in svg
    assert "pbm chosen on held-out log-likelihood over\n  1234 searches (87 labelled pairs)" in page.text


def test_a_task_run_has_its_own_page_linked_from_the_list(app: Flask) -> None:
    with session_scope(db_url(app)) as session:
        run = TaskRun(task="retrain", status="failed", started_at=utcnow(), started_by="console:ada",
                      params={"labels": "clickmodel", "days": 28.0}, detail="training on 28 days", progress=0.8,
                      task_id="c0ffee", error="Traceback (most recent call last):\n  ...\nNotEnoughClicks: <none>")
        session.add(run)
        session.flush()
        run_id = run.id
    client, _csrf = logged_in(app, "vic")  # any role may look
    listing = client.get("/tasks").text
    assert f'href="/tasks/{run_id}"' in listing
    page = client.get(f"/tasks/{run_id}")
    assert page.status_code == 200
    for shown in ('id="run-status">failed', "console:ada", "c0ffee", "80%", "training on 28 days",
                  '"labels": "clickmodel"',
                  "NotEnoughClicks: &lt;none&gt;", "Traceback (most recent call last):\n  ...\n"):
        assert shown in page.text, shown
    assert client.get("/tasks/999").status_code == 404
    assert app.test_client().get(f"/tasks/{run_id}").status_code == 302  # anonymous: to the login form


def test_a_version_that_measured_worse_than_live_needs_a_confirmation_to_go_live(app: Flask) -> None:
    from storefront import tuning_store

    def report(before: float, after: float, against: int | None) -> dict:
        return {"queries": 25, "ndcg@10_before": before, "ndcg@10_after": after, "better": [],
                "worse": [{"query": "drill", "before": 0.5, "after": 0.1}], "unchanged": 24,
                "against_version": against}

    with session_scope(db_url(app)) as session:
        tuning_store.save_version(session, SearchTuning(vector_weight=0.3), "tess", "", report(0.40, 0.42, None))
        tuning_store.save_version(session, SearchTuning(vector_weight=0.9), "tess", "", report(0.42, 0.35, 1))
        tuning_store.save_version(session, SearchTuning(vector_weight=0.8), "tess", "", report(0.40, 0.30, None))
    client, csrf = logged_in(app, "tess")
    assert client.post("/tuning/1/activate", data={"csrf_token": csrf}).status_code == 302  # better: no question
    page = client.get("/tuning/2").text
    assert 'id="measured-worse"' in page and "nDCG@10 0.4200 -&gt; 0.3500" in page and 'id="confirm-worse"' in page
    refused = client.post("/tuning/2/activate", data={"csrf_token": csrf})
    assert refused.status_code == 409 and "ranked the 25 judged train queries worse" in refused.text
    with session_scope(db_url(app)) as session:
        assert tuning_store.live_version(session).id == 1  # nothing changed
    assert client.post("/tuning/2/activate", data={"csrf_token": csrf, "confirm_worse": "yes"}).status_code == 302
    with session_scope(db_url(app)) as session:
        assert tuning_store.live_version(session).id == 2
    # Version 3 was previewed against the defaults, not against version 2: stale, said so, and not blocked.
    page = client.get("/tuning/3").text
    assert 'id="preview-stale"' in page and 'id="measured-worse"' not in page
    assert client.post("/tuning/3/activate", data={"csrf_token": csrf}).status_code == 302
    # Rolling back to version 1 (previewed against the defaults) is never held up either.
    assert client.post("/tuning/1/activate", data={"csrf_token": csrf}).status_code == 302
