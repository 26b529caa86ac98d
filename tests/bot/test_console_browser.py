"""The mediator console in headless Chromium (Playwright driving Debian's
chromium): log in, filter the queue, claim, read a transcript with hostile
markup shown as text, send a quick reply that reaches the resident, close;
the admin page's chart. Screenshots at desktop and phone widths go to
reports/screenshots (git-ignored)."""

from __future__ import annotations

import time
import uuid

import httpx
from playwright.sync_api import expect

from tests.bot.conftest import SHOTS
from tests.helpers.console import PASSWORD, add_staff, say

HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/console")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#queue-view:not([hidden])")


def test_mediator_claims_replies_and_closes_in_the_browser(browser, stack, client, gateway_url) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    add_staff(stack.settings, "web-med")
    resident = f"web-{uuid.uuid4().hex[:8]}"
    say(client, resident, "我住官洲")
    say(client, resident, f"老板拖欠工资 {HOSTILE}")
    assert say(client, resident, "我要转人工")["case_id"]

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    login(page, gateway_url, "web-med")
    page.select_option("#filter-street", "官洲")
    expect(page.locator("#waiting tbody tr")).to_have_count(1)
    assert "官洲" in page.inner_text("#waiting tbody tr")
    page.screenshot(path=str(SHOTS / "console-queue-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / "console-queue-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})

    page.click("#waiting tbody tr button")
    page.wait_for_selector("#case-view:not([hidden])")
    transcript = page.inner_text("#transcript")
    assert HOSTILE in transcript and "老板拖欠工资" in transcript
    assert page.locator("#transcript img, #transcript script").count() == 0 and dialogs == []

    quick = page.locator("#quick-replies button").first
    quick_text = quick.inner_text()
    quick.click()
    page.click("#reply-form button[type=submit]")
    expect(page.locator("#messages li.mediator")).to_have_count(1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        inbox = client.get(f"/api/v1/conversations/{resident}/messages").json()["messages"]
        if any(m["text"] == quick_text for m in inbox):
            break
        time.sleep(0.3)
    else:
        raise AssertionError("the mediator's reply did not reach the resident")
    page.screenshot(path=str(SHOTS / "console-case-desktop.png"), full_page=True)

    page.select_option("#outcome", "调解成功")
    page.click("#close-case")
    page.wait_for_selector("#queue-view:not([hidden])")
    assert any(
        "调解成功" in m["text"] for m in client.get(f"/api/v1/conversations/{resident}/messages").json()["messages"]
    )
    headers = httpx.get(f"{gateway_url}/console").headers
    assert "default-src 'self'" in headers["content-security-policy"]
    page.close()


def test_admin_page_draws_cases_per_day(browser, stack, gateway_url) -> None:
    add_staff(stack.settings, "web-admin", role="admin")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    login(page, gateway_url, "web-admin")
    assert page.is_visible("#admin-link")
    page.click("#admin-link")
    page.wait_for_selector("#per-day rect")
    assert int(page.inner_text("#total")) >= 1
    page.screenshot(path=str(SHOTS / "console-admin-desktop.png"), full_page=True)
    page.close()


def test_wrong_password_shows_a_chinese_error(browser, gateway_url) -> None:
    page = browser.new_page()
    page.goto(f"{gateway_url}/console")
    page.fill("#username", "nobody")
    page.fill("#password", "wrong password")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("用户名或密码不正确")
    page.close()
