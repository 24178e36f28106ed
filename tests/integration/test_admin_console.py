"""The admin console in a real browser: Debian's headless Chromium driven by Selenium, against a real
console server, the real node (a Home Depot sample with the LTR plugin) and a real trained model.

Screenshots of each scenario are saved under test-artifacts/console/ (git-ignored).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select
from werkzeug.serving import make_server

from admin.app import create_app
from core.access import users
from core.db import migrate
from core.db.models import AuditEntry, Impression, Interaction, Search, utcnow
from core.db.session import session_scope
from core.settings import Settings
from encoders.bert import BertEncoder
from encoders.cache import QueryVectorCache
from evaluation import judgment_store
from ltr import registry
from ltr.ranker.extract import EngineFeatureLogger, FeatureExtractor
from ltr.ranker.featureset import SHOP_FEATURES
from ltr.ranker.job import TrainingRequest, train_and_register
from ltr.ranker.train import TrainParams
from storefront.retrieval import default_configs
from storefront.service import SearchService

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
CHROMIUM, DRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, settings: Settings, os_client, sample_index: str,  # type: ignore[no-untyped-def]
            bert_encoder: BertEncoder, judged_queries: dict[str, dict[str, float]]) -> Iterator[tuple[str, str]]:
    """A console server on a free port over a fresh database: three users, the judged sample queries
    imported, and one model trained on their judgments (a candidate, not yet served)."""
    folder = tmp_path_factory.mktemp("console")
    url = f"sqlite:///{folder / 'console.db'}"
    migrate.upgrade(url)
    shop = SearchService(os_client, sample_index, QueryVectorCache(bert_encoder), default_configs(candidates=50),
                         "hybrid-minmax")
    with session_scope(url) as session:
        for name, role in (("ada", "admin"), ("vic", "viewer")):
            users.create_user(session, name, PASSWORD, role)
        judgment_store.import_judgments(session, judged_queries, "test", "test")
        # A little traffic, so the overview has something to plot.
        session.add_all([Search(search_id=f"s{i}", query="drill", normalized_query="drill", config="hybrid-minmax")
                         for i in range(3)])
        session.flush()
        session.add_all([Impression(search_id="s0", product_id="p1", position=1),
                         Interaction(type="click", search_id="s0", product_id="p1", position=1, occurred_at=utcnow())])
        extractor = FeatureExtractor(SHOP_FEATURES, EngineFeatureLogger(os_client, sample_index))
        request = TrainingRequest(labels="judgments", judgments=judged_queries, window=50, name="console-model-1",
                                  params=TrainParams(max_rounds=40, min_data_in_leaf=5))
        train_and_register(session, request, shop.candidates, extractor, folder / "models")
    console_settings = settings.model_copy(update={
        "database_url": url, "default_index": sample_index, "state_dir": folder, "search_candidates": 50,
        "rerank_window": 50, "rerank_model_refresh_seconds": 0.0, "tuning_refresh_seconds": 0.0,
        "tuning_preview_queries": 25})
    server = make_server("127.0.0.1", 0, create_app(console_settings), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # "localhost": browsers accept the console's Secure session cookie from it over plain HTTP.
    yield f"http://localhost:{server.server_port}", url
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1600,1200"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.implicitly_wait(0)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def _replaced(page):  # type: ignore[no-untyped-def]
    """Selenium's ``staleness_of``, also for Chromium builds that report a node of the page just unloaded as
    an inspector error ("Node with given id does not belong to the document") instead of a stale element."""
    def check(driver: WebDriver) -> bool:
        try:
            page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False
    return check


def click(driver: WebDriver, element_id: str) -> None:
    """Click something that loads a page, and wait until the new page has replaced the old one."""
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, element_id).click()
    WebDriverWait(driver, 60).until(_replaced(page))


def shot(driver: WebDriver, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def log_in(driver: WebDriver, base: str, username: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{base}/login")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    click(driver, "login")
    assert driver.find_element(By.ID, "whoami").text.startswith(username)


def text(driver: WebDriver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def test_log_in_see_the_overview_and_log_out(console, browser: WebDriver, sample_index: str) -> None:  # type: ignore[no-untyped-def]
    base, _url = console
    browser.get(f"{base}/models")
    assert "/login" in browser.current_url  # anonymous: sent to the login form
    browser.find_element(By.ID, "username").send_keys("ada")
    browser.find_element(By.ID, "password").send_keys("not the password")
    click(browser, "login")
    assert "Wrong username or password" in text(browser, "login-error")
    log_in(browser, base, "ada")
    status = text(browser, "index-status")
    assert sample_index in status and "Documents" in status
    assert browser.find_elements(By.CSS_SELECTOR, "img.plot")
    shot(browser, "overview")
    click(browser, "logout")
    assert "/login" in browser.current_url
    browser.get(f"{base}/")
    assert "/login" in browser.current_url


def test_promote_compare_three_lists_and_roll_back_as_admin(console, browser: WebDriver) -> None:  # type: ignore[no-untyped-def]
    base, url = console
    log_in(browser, base, "ada")
    browser.get(f"{base}/models/console-model-1")
    click(browser, "promote")
    assert "Tick the confirmation box" in text(browser, "error-message")  # nothing happens unconfirmed
    browser.get(f"{base}/models/console-model-1")
    browser.find_element(By.ID, "confirm-promote").click()
    click(browser, "promote")
    assert text(browser, "model-status") == "active"
    assert "gate passed" in text(browser, "notes") or "passed" in text(browser, "notes")

    browser.get(f"{base}/sandbox")
    browser.find_element(By.ID, "q").send_keys("cordless drill")
    click(browser, "run")
    lists = {name: browser.find_elements(By.CSS_SELECTOR, f"#list-{name} > ol > li") for name in ("bm25", "hybrid", "ltr")}
    assert all(len(items) == 10 for items in lists.values()), {k: len(v) for k, v in lists.items()}
    assert "console-model-1" in text(browser, "sandbox-summary")
    contributions = browser.find_elements(By.CSS_SELECTOR, "#list-ltr .why li")
    assert contributions and "base" in contributions[-1].text  # each learned result says why
    assert browser.find_elements(By.CSS_SELECTOR, "#list-ltr .moved")
    shot(browser, "sandbox")

    browser.get(f"{base}/models")
    browser.find_element(By.ID, "confirm-rollback").click()
    click(browser, "rollback")
    assert text(browser, "active-name") == "none"
    with session_scope(url) as session:
        assert registry.active_model(session) is None
        actions = [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.actor == "ada"))]
    assert "model.promote" in actions and "model.rollback" in actions
    browser.get(f"{base}/audit")
    assert "model.rollback" in text(browser, "audit")
    shot(browser, "audit")


def test_a_tuning_change_is_previewed_before_it_goes_live(console, browser: WebDriver) -> None:  # type: ignore[no-untyped-def]
    base, _url = console
    log_in(browser, base, "ada")
    browser.get(f"{base}/tuning")
    weight = browser.find_element(By.ID, "vector_weight")
    weight.clear()
    weight.send_keys("1.5")
    click(browser, "preview")
    assert "must be from 0 to 1" in text(browser, "error-vector_weight")  # named next to the field
    weight = browser.find_element(By.ID, "vector_weight")
    weight.clear()
    weight.send_keys("0.9")
    browser.find_element(By.ID, "note").send_keys("mostly vectors")
    click(browser, "preview")
    summary = text(browser, "preview-summary")
    assert "nDCG@10 on 25 judged train queries" in summary
    assert text(browser, "version-status") == "draft"
    assert "vector_weight" in text(browser, "changes")
    shot(browser, "tuning-preview")
    before, after = (float(x) for x in browser.execute_script(
        "return Array.from(document.querySelectorAll('#preview-summary b')).map(b => b.textContent)"))
    warned = browser.find_elements(By.ID, "measured-worse")
    assert bool(warned) == (after < before)  # a version that ranks worse than live asks first
    if warned:
        browser.find_element(By.ID, "confirm-worse").click()  # a checkbox: no page loads
    click(browser, "go-live")
    assert text(browser, "version-status") == "live"


def test_a_viewer_sees_but_cannot_promote_or_tune(console, browser: WebDriver) -> None:  # type: ignore[no-untyped-def]
    base, url = console
    log_in(browser, base, "vic")
    browser.get(f"{base}/models/console-model-1")
    assert not browser.find_elements(By.ID, "promote")
    browser.get(f"{base}/tuning")
    assert not browser.find_elements(By.ID, "tuning-form")
    browser.get(f"{base}/users")
    assert "needs the admin role" in text(browser, "error-message")
    # Forged forms posted from the viewer's own session (with its valid token) are refused by the server,
    # not just hidden: a promotion and a rollback.
    for action in ("models/console-model-1/promote", "models/rollback"):
        browser.get(f"{base}/models")
        token = browser.execute_script("return document.querySelector('input[name=csrf_token]').value")
        page = browser.find_element(By.TAG_NAME, "html")
        browser.execute_script(
            "const f = document.createElement('form'); f.method = 'post'; f.action = arguments[0];"
            "for (const [k, v] of Object.entries(arguments[1])) { const i = document.createElement('input');"
            " i.name = k; i.value = v; f.appendChild(i); } document.body.appendChild(f); f.submit();",
            f"{base}/{action}", {"confirm": "yes", "csrf_token": token})
        WebDriverWait(browser, 60).until(_replaced(page))
        status = browser.execute_script("return performance.getEntriesByType('navigation')[0].responseStatus")
        assert status == 403 and "needs the admin role" in text(browser, "error-message"), (action, status)
    shot(browser, "viewer-refused")
    with session_scope(url) as session:
        assert registry.active_model(session) is None
        assert not session.scalars(select(AuditEntry).where(AuditEntry.actor == "vic",
                                                            AuditEntry.action.startswith("model."))).all()
