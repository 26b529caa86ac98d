"""The last check before any reply leaves the gateway: its statute citations.

Every channel's replies pass through bot/core/conversation.py, so this is the one
place that sees every outgoing message. A reply citing an article that is not
in the indexed corpus (or citing repealed law as if current) is not sent:
the resident gets a polite notice instead, the blocked text stays in the
message store for staff, and an error is logged (citations only, no
personal data).
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any

from knowledge_base.chinese_numerals import NUMERAL_CHARS, parse_chinese_number
from knowledge_base.corpus.article_store import ArticleStore
from knowledge_base.corpus.citations import problems

log = logging.getLogger(__name__)

BLOCKED_TEXT = (
    "抱歉，这条回答引用的法条未能通过核对，为避免误导，我没有发送它，已记录下来交工作人员核查。"
    "您可以换个说法再问，或拨打12348公共法律服务热线咨询。"
)


class ArticleLookup:
    """The index's article store, opened on first use (the index may be built after
    the gateway starts); shared by the citation guard and the web page's citation cards."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self._store: ArticleStore | None = None
        self._lock = threading.Lock()

    def versions(self, law: str, number: int) -> list:
        """Every stored version of 《law》第number条; none while there is no index."""
        with self._lock:
            if self._store is None:
                try:
                    self._store = ArticleStore(self.index_dir)
                except FileNotFoundError:
                    log.error("no article store at %s: every citation is blocked", self.index_dir)
                    return []
        return self._store.versions(law, number)

    def find(self, law: str, label: str):
        """The in-force article printed as `label` (第三十条, 第六十七条之一), or None."""
        match = re.fullmatch(rf"第([{NUMERAL_CHARS}\d]+)条(之[{NUMERAL_CHARS}]+)?", label or "")
        if not match:
            return None
        try:
            number = parse_chinese_number(match.group(1))
        except ValueError:
            return None
        return next((a for a in self.versions(law, number) if a.status == "现行有效" and a.label == label), None)


class CitationGuard:
    def __init__(self, articles: ArticleLookup) -> None:
        self.articles = articles

    def screen(self, replies: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(replies to send, replies blocked with the reasons)."""
        send: list[dict[str, Any]] = []
        blocked: list[dict[str, Any]] = []
        for reply in replies:
            text = reply.get("text") or ""
            found = problems(text, self.articles.versions) if "第" in text else []  # every citation has 第
            if found:
                log.error("citation guard blocked a reply: %s", "; ".join(found))
                blocked.append({**reply, "blocked_because": found})
                if not any(r.get("text") == BLOCKED_TEXT for r in send):
                    send.append({"text": BLOCKED_TEXT, "buttons": []})
            else:
                send.append(reply)
        return send, blocked
