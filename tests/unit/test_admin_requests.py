"""Request-level tests of the admin console: Flask's test client on a real SQLite database.

The pages that search (sandbox, previews, promotion) are exercised against the real node in
tests/integration/test_admin_console.py, in a real browser; here the guards: login, roles, CSRF,
validation, escaping.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from admin.app import create_app
from core.access import users
from core.db import migrate
from core.db.models import ApiKey, AuditEntry, ConsoleUser, Judgment, SearchTuningVersion
from core.db.session import session_scope
from core.settings import Settings
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
        path = re.sub(r"<(?:int:)?(\w+)>", lambda m: "1" if "int:" in m.group(0) else "x", rule.rule)
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
             "config": ("<b>x</b>", "must be one of")}
    for field, (value, message) in cases.items():
        response = client.post("/tuning", data={field: value, "csrf_token": csrf})
        assert response.status_code == 400, field
        assert message in response.text, (field, response.text[:300])
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
