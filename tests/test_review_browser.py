"""The review page in a real browser (Debian's chromium + chromium-driver through Selenium, never skipped): the
token opens a session, the batch shows, approving some and rejecting one changes the outbox; no token → 401."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from reactivation.review.web import ReviewConfigError, create_app
from reactivation.warehouse import Warehouse

from .test_review import REVIEWED, plan_and_queue, review_env, rows  # noqa: F401 - the fixture is reused

TOKEN = "t0k-" + "x" * 28
DOCS = Path(__file__).resolve().parents[1] / "docs"
# set to 1, the test also writes its screenshot to docs/review.png; otherwise only to its own folder, so a test
# run leaves the working tree as it was
UPDATE_DOCS_ENV = "REACTIVATION_UPDATE_DOCS_SCREENSHOTS"


@pytest.fixture
def engine() -> str:
    return "duckdb"  # the model and CLI tests cover both engines; the page is the same on either


@pytest.fixture
def server(settings, review_env) -> Iterator[str]:  # noqa: F811 - pytest fixture by name
    """The review app on a free loopback port, in this process (uvicorn in a thread), until the test ends."""
    plan_and_queue(settings)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(TOKEN, settings), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:  # uvicorn's own readiness flag
        assert time.monotonic() < deadline and thread.is_alive(), "the review server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(10)


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, (
        "install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    yield chrome
    chrome.quit()


def status_of(url: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def notice(browser: webdriver.Chrome) -> str:
    """The message the page shows after an action (waits for the redirect back to the page)."""
    return WebDriverWait(browser, 20).until(expected_conditions.presence_of_element_located((By.ID, "notice"))).text


def test_the_page_refuses_without_the_token_and_to_start_without_one(server, monkeypatch) -> None:
    assert status_of(server + "/") == 401
    assert status_of(server + "/?token=wrong") == 401
    assert status_of(server + f"/?company={REVIEWED}", {"Authorization": f"Bearer {TOKEN}"}) == 200
    assert status_of(server + "/approve", data=f"company={REVIEWED}&scope=all".encode()) == 401
    # a cross-site form post with a valid bearer but no CSRF token of the session is refused
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert status_of(server + "/approve", bearer, f"company={REVIEWED}&scope=all".encode()) == 403
    monkeypatch.delenv("REACTIVATION_REVIEW_TOKEN", raising=False)
    with pytest.raises(ReviewConfigError, match="REACTIVATION_REVIEW_TOKEN"):
        create_app()


def test_approving_and_rejecting_in_the_browser_changes_the_outbox(server, browser, settings, tmp_path) -> None:
    browser.set_window_size(390, 844)  # a phone
    browser.get(f"{server}/?company={REVIEWED}&token={TOKEN}")
    assert "token=" not in browser.current_url  # redirected without the token, the session in a cookie
    cookie = browser.get_cookie("review_session")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    waiting = [r for r in rows(settings, REVIEWED) if r["status"] == "awaiting_review"]
    cards = browser.find_elements(By.CSS_SELECTOR, "article.card")
    assert len(cards) == len(waiting) > 3
    shown = {c.get_attribute("data-key") for c in cards}
    assert shown == {r["message_key"] for r in waiting}  # holdout rows never shown
    page = browser.page_source
    for row in waiting:
        digits = "".join(ch for ch in row["phone"] if ch.isdigit())
        assert digits not in page and digits[-4:] in page  # masked but the last four digits
    assert browser.find_element(By.ID, "summary").text.count("\n") >= 5
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    shots = [tmp_path / "review-phone.png"]
    browser.save_screenshot(str(shots[0]))

    # untick all but the first two, approve the selection
    boxes = browser.find_elements(By.CSS_SELECTOR, "input[name=key]")
    for box in boxes[2:]:
        browser.execute_script("arguments[0].click()", box)
    assert browser.find_element(By.ID, "count").text == "2"
    approved = [b.get_attribute("value") for b in boxes[:2]]
    browser.execute_script("arguments[0].click()", browser.find_element(By.ID, "approve-selected"))
    assert "approved 2" in notice(browser)
    browser.get(f"{server}/?company={REVIEWED}")  # a fresh page: the next notice is the reject's

    # reject one of the rest, with a reason
    boxes = browser.find_elements(By.CSS_SELECTOR, "input[name=key]")
    for box in boxes[1:]:
        browser.execute_script("arguments[0].click()", box)
    rejected = boxes[0].get_attribute("value")
    browser.find_element(By.NAME, "reason").send_keys("Клиентка просила паузу")
    browser.execute_script("arguments[0].click()", browser.find_element(By.ID, "reject-selected"))
    assert "rejected 1" in notice(browser)

    states = {r["message_key"]: r for r in rows(settings, REVIEWED)}
    assert {states[k]["status"] for k in approved} == {"pending"}
    assert all(states[k]["scheduled_at"] is not None for k in approved)
    assert states[rejected]["status"] == "rejected" and states[rejected]["review_note"] == "Клиентка просила паузу"
    left = len(waiting) - 3
    assert sum(r["status"] == "awaiting_review" for r in states.values()) == left
    assert len(browser.find_elements(By.CSS_SELECTOR, "article.card")) == left

    browser.set_window_size(1280, 900)  # a desktop
    shots.append(tmp_path / "review-desktop.png")
    browser.save_screenshot(str(shots[1]))
    _side_by_side(shots, tmp_path / "review.png")
    if os.environ.get(UPDATE_DOCS_ENV) == "1":  # the README's picture, refreshed when asked: `make screenshots`
        shutil.copyfile(tmp_path / "review.png", DOCS / "review.png")


def _side_by_side(shots: list[Path], target: Path) -> None:
    """Phone and desktop screenshots in one image (docs/review.png)."""
    from PIL import Image

    images = [Image.open(s).convert("RGB") for s in shots]
    height = max(i.height for i in images)
    canvas = Image.new("RGB", (sum(i.width for i in images) + 24 * (len(images) - 1), height), "white")
    x = 0
    for image in images:
        canvas.paste(image, (x, 0))
        x += image.width + 24
    canvas.save(target, optimize=True)


def test_approving_everything_on_the_page_matches_the_command_line(server, browser, settings) -> None:
    browser.get(f"{server}/?company={REVIEWED}&token={TOKEN}")
    count = len(browser.find_elements(By.CSS_SELECTOR, "article.card"))
    browser.execute_script("arguments[0].click()", browser.find_element(By.ID, "approve-all"))
    assert f"approved {count}" in notice(browser)
    treated = [r for r in rows(settings, REVIEWED) if not r["is_holdout"]]
    assert {r["status"] for r in treated} == {"pending"}
    with Warehouse.connect(settings) as wh:
        assert wh.fetchone("select count(*) from reactivation_messages where status = 'awaiting_review'")[0] == 0
    assert json.dumps(browser.find_elements(By.CSS_SELECTOR, "article.card")) == "[]"
