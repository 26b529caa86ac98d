"""The residents' web chat page in headless Chromium: privacy notice on first
use, a conversation with citation cards that expand to the whole article, a
button, hostile markup shown as text, and a handoff with the mediator's reply
arriving live. Screenshots at phone and desktop widths go to reports/screenshots."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from knowledge_base.chinese_numerals import parse_chinese_number
from knowledge_base.corpus.article_store import ArticleStore
from tests.bot.conftest import SHOTS
from tests.helpers.console import Console, add_staff


def test_a_whole_conversation_in_the_web_page(browser, stack, gateway_url) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 390, "height": 844})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{gateway_url}/chat")
    expect(page.locator("#privacy")).to_be_visible()
    page.screenshot(path=str(SHOTS / "chat-privacy-phone.png"))
    page.click("#privacy-ok")
    expect(page.locator("#privacy")).to_be_hidden()
    assert page.is_visible("#human")

    page.fill("#text", "我住华洲，老板拖欠我三个月工资不给")
    page.press("#text", "Enter")
    card = page.locator(".bubble.bot .card").first
    expect(card).to_be_visible(timeout=30000)
    citation = card.locator(".cite").inner_text()
    law, label = re.match(r"[①②③]《(.+?)》(第.+条)", citation).groups()
    article = ArticleStore(stack.settings.index_dir).in_force(law, parse_chinese_number(label[1:-1]), label)
    card.locator("button", has_text="展开全文").click()
    expect(card.locator(".body")).to_have_text(article.text)
    assert "现行有效" in card.locator(".status").inner_text()
    page.screenshot(path=str(SHOTS / "chat-answer-phone.png"), full_page=True)

    page.locator(".choices button", has_text="找调解员").last.click()
    expect(page.locator(".bubble.bot").last).to_contain_text("【找调解员】", timeout=30000)

    page.fill("#text", '<img src=x onerror="alert(1)"><script>alert(2)</script>')
    page.press("#text", "Enter")
    expect(page.locator(".bubble.me").last).to_have_text('<img src=x onerror="alert(1)"><script>alert(2)</script>')
    expect(page.locator(".bubble.bot")).not_to_have_count(0)

    page.click("#human")
    expect(page.locator(".bubble.bot").last).to_contain_text("排在第", timeout=30000)
    add_staff(stack.settings, "chat-med")
    console = Console(gateway_url, "chat-med")
    case = next(c for c in console.http.get("/console/api/queue", params={"street": "华洲"}).json()["waiting"])
    assert console.post(f"/console/api/cases/{case['id']}/claim").status_code == 200
    assert (
        console.post(f"/console/api/cases/{case['id']}/messages", {"text": "您好，我是调解员，马上帮您。"}).status_code
        == 200
    )
    expect(page.locator(".bubble.mediator")).to_contain_text("您好，我是调解员，马上帮您。", timeout=10000)
    assert page.locator("main img, main script").count() == 0 and dialogs == []
    page.screenshot(path=str(SHOTS / "chat-handoff-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path=str(SHOTS / "chat-handoff-desktop.png"), full_page=True)
    page.close()


def test_the_page_speaks_as_the_resident_the_gateway_issued(browser, gateway_url) -> None:
    """#13: the page chose its own id, and any id was accepted. Now it asks the gateway for
    an identity, keeps the token across visits, and gets a new one when its token is refused."""
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{gateway_url}/chat")
    page.click("#privacy-ok")

    def ask(text: str) -> dict:
        """Sends `text` on a freshly loaded page and waits for the answer after the greeting."""
        page.fill("#text", text)
        page.press("#text", "Enter")
        expect(page.locator(".bubble.bot").nth(1)).to_be_visible(timeout=30000)
        return page.evaluate("JSON.parse(localStorage.getItem('haizhu-resident-token'))")

    first = ask("你好")
    assert first["user_id"].startswith("web:") and first["token"]
    page.reload()
    assert ask("谢谢") == first  # the same resident on the next visit

    page.evaluate("localStorage.setItem('haizhu-resident-token', JSON.stringify({user_id: 'web:x', token: 'forged'}))")
    page.reload()
    renewed = ask("你好")  # refused with 401, then sent again as a new resident
    assert renewed["user_id"].startswith("web:") and renewed["user_id"] not in (first["user_id"], "web:x")
    assert page.locator(".bubble.system").count() == 0
    page.close()


def test_a_message_kept_while_the_assistant_was_away_is_answered_in_the_page(browser, gateway_behind_proxy) -> None:
    """The gateway keeps a message Rasa could not take and answers it once Rasa is back
    (tests/ops/test_rasa_down.py); the page told the resident it was kept and never showed
    that late reply. Now it fetches it and shows it once, in order, unasked."""
    url, proxy = gateway_behind_proxy  # Rasa unreachable until the proxy is enabled
    page = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        page.goto(f"{url}/chat")
        page.click("#privacy-ok")
        page.fill("#text", "老板拖欠我三个月工资不给")
        page.press("#text", "Enter")
        expect(page.locator(".bubble.system").last).to_contain_text("保存", timeout=30000)
        assert page.evaluate("JSON.parse(localStorage.getItem('haizhu-kept')).length") == 1
        page.wait_for_timeout(2500)  # a round of fetching while the message still waits: nothing shown
        expect(page.locator(".bubble.bot")).to_have_count(1)  # the greeting only

        proxy.enable()
        expect(page.locator(".bubble.bot").nth(1)).to_contain_text("工资", timeout=60000)
        page.wait_for_timeout(500)  # the rest of that answer's replies
        shown = page.locator(".bubble.bot").count()
        page.wait_for_timeout(2500)  # later rounds show it once
        expect(page.locator(".bubble.bot")).to_have_count(shown)
        assert page.evaluate("JSON.parse(localStorage.getItem('haizhu-kept')).length") == 0
        page.screenshot(path=str(SHOTS / "chat-kept-answered-phone.png"), full_page=True)
    finally:
        page.close()


def test_a_message_whose_answer_was_lost_on_the_way_is_answered_once(browser, gateway_url) -> None:
    """#15: the gateway took the message and answered, and the connection broke before the
    answer arrived (a gateway killed under the balancer, a phone between cells). The page
    sends it again with the same Idempotency-Key and shows the one answer, which the gateway
    gives from the message it kept: no second question. The break is made in the browser
    (Playwright's routing), the gateway is the real one."""
    page = browser.new_page(viewport={"width": 390, "height": 844})
    keys: list[str | None] = []
    first_answer: dict = {}

    def lose_the_first_answer(route) -> None:
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) > 1:
            route.continue_()
            return
        first_answer.update(route.fetch().json())  # the gateway takes it and answers...
        route.abort("connectionreset")  # ...and the answer never reaches the page

    page.route("**/api/v1/messages", lose_the_first_answer)
    with page.expect_response("**/api/v1/messages") as resent:
        page.goto(f"{gateway_url}/chat")
        page.click("#privacy-ok")
        page.fill("#text", "老板拖欠我三个月工资不给")
        page.press("#text", "Enter")
    expect(page.locator(".bubble.bot .card").first).to_be_visible(timeout=30000)
    answer = resent.value.json()
    assert len(keys) == 2 and keys[0] == keys[1] and len(keys[0] or "") == 32, keys
    assert answer["message_id"] == first_answer["message_id"] and answer["replies"] == first_answer["replies"]
    assert page.locator(".bubble.system").count() == 0  # no "network down" shown: it was answered
    page.close()
