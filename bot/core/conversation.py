"""The gateway core every channel uses: keep the message, ask Rasa, keep the answer.

Messages of one resident are handled one at a time and in the order they were
sent: a message that arrives while older ones are still pending (Rasa was
down) waits until those have been answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bot.core.citation_guard import CitationGuard
from bot.core.payloads import INTENT_PREFIX, RECENT_REPLIES, offered_payloads, screen
from bot.core.rasa_client import RasaClient, RasaUnavailable
from bot.core.reminders import DeadlineReminders
from bot.core.text_input import storable_text
from bot.core.turn_gate import GatewayBusy, TurnGate
from bot.core.workers import every
from bot.store.drafts import DraftStore
from bot.store.handoff_cases import WAITING, HandoffCaseStore, HandoffCaseView
from bot.store.handoff_messages import MessageView
from bot.store.legal_aid_applications import ApplicationStore
from bot.store.messages import ANSWERED, HANDED_OFF, HELD, PENDING, UNANSWERED, MessageStore, StoredMessage

log = logging.getLogger(__name__)

TRUNCATION_NOTICE = "您的消息超过{limit}字，我只读取了前{limit}字。如果重要内容在后面，请分几次发送。"
END_HANDOFF = {"结束人工", "结束人工服务", "退出人工", "返回智能助手", "/end_handoff"}
QUEUED_TEXT = (
    "已为您转接人工调解员，目前排在第{position}位。调解员接手后会在这里回复您，您可以继续留言；"
    "发送「结束人工」可以回到智能助手。"
)
FORWARDED_WAITING = "您的留言已记下，会转给接手的调解员（目前排在第{position}位）。发送「结束人工」可以回到智能助手。"
FORWARDED_CLAIMED = "您的留言已送达调解员，请稍候回复。发送「结束人工」可以回到智能助手。"
WAIT_NOTICE = (
    "抱歉，调解员暂时都在忙，您的案件还没有人接手。您可以继续等待，我们会尽快回复；"
    "着急的话请拨打12348公共法律服务热线。"
)
ENDED_TEXT = "已结束人工服务，智能助手继续为您服务。请直接说说您的问题。"
NO_ANSWER_TEXT = "抱歉，系统暂时没能生成回答。您的消息已经保存，并转给了工作人员；急事请拨打12348公共法律服务热线。"
NO_ANSWER = "no_answer"  # case reason: every part was up, yet nothing came back (an action failed)
# reasons that reach a person whatever the case budget: danger, and our own failures
ALWAYS_OPENED = frozenset({NO_ANSWER, "urgent", "emergency"})
CASE_LIMIT_TEXT = (
    "您近期已经多次申请人工服务，这次没有再新建转接。调解员会处理您之前的申请；"
    "急事请拨打12348公共法律服务热线，遇到危险请拨打110。"
)


DRAFT_TEXT = (
    "申请书草稿已生成，请下载后逐项核对，补全标有【请填写】的地方，签名后提交：\n"
    "PDF（打印用）：{pdf}\nWord（可修改）：{docx}\n链接只发给了您，{days}天内有效；内容随您的其他数据按期删除。"
)


def draft_reply(links: dict[str, str]) -> dict[str, Any]:
    """`links`: the signed pdf and docx links and for how many days they work."""
    return {"text": DRAFT_TEXT.format(**links), "buttons": []}


def answered_here(message: StoredMessage, reply: dict[str, Any], intent: str, category: str) -> dict[str, Any]:
    """A result the gateway gives itself, without Rasa, in the shape Rasa's results have."""
    return {
        "replies": [reply],
        "intent": intent,
        "category": category,
        "confidence": 1.0,
        "entities": [],
        "truncated": message.truncated,
    }


def channel_of(user_id: str) -> str:
    """Channels prefix their residents' ids (tg:123, wx:abc); plain ids came through the HTTP API."""
    prefix = user_id.split(":", 1)[0] if ":" in user_id else ""
    return {"tg": "telegram", "wx": "wechat", "web": "web"}.get(prefix, "api")


class ClientKeyReused(ValueError):
    """A resident's key for one message came again with another text: refused, not guessed."""


@dataclass
class Outcome:
    message: StoredMessage
    result: dict[str, Any] | None  # None: Rasa unavailable, message kept


class Conversations:
    def __init__(
        self,
        store: MessageStore,
        rasa: RasaClient,
        max_chars: int,
        guard: CitationGuard,
        cases: HandoffCaseStore,
        applications: ApplicationStore,
        gate: TurnGate,
        case_budget: Callable[[str, str | None], Awaitable[bool]] | None = None,
        lease_s: float = 30.0,
        reminders: DeadlineReminders | None = None,
        drafts: DraftStore | None = None,
        draft_links: Callable[[str], dict[str, str]] | None = None,
        instance: str = "",
    ) -> None:
        self.store = store
        # how many Rasa turns at once, and how long a resident's message waits for one
        self.gate = gate
        self.reminders = reminders
        self.drafts = drafts
        self.draft_links = draft_links  # a draft's public id → its signed pdf and docx links
        # how long a claim on a message lasts unless renewed; renewed while it is delivered here
        self.lease_s = lease_s
        # this gateway process, as the holder of its claims: the instance it serves (`instance`,
        # its host and port, hashed to fit the column), then this run. The next run of the same
        # instance gives back what this one held if it died (release_earlier_claims)
        self.instance = hashlib.sha256(instance.encode()).hexdigest()[:12] if instance else ""
        self.owner = (self.instance + uuid.uuid4().hex)[:32]
        # the messages this process is delivering now: their claims are renewed (renew_forever),
        # and only theirs: a claim an error left behind runs out and the retry worker takes it
        self._held: set[str] = set()
        # whether a resident (from an address, when known) may open another case now
        self.case_budget = case_budget
        self.applications = applications
        self.rasa = rasa
        self.guard = guard
        self.cases = cases
        # channel -> coroutine(user_id, result) that delivers a reply produced after the request ended
        self.late_reply_handlers: dict[str, Any] = {}
        self.max_chars = max_chars
        # one lock per resident with messages in flight; dropped when unused
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock_for(self, user_id: str) -> asyncio.Lock:
        lock = self._locks.get(user_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[user_id] = lock
        return lock

    def prepare(self, text: str) -> tuple[str, bool]:
        """Normalise line endings, drop what no store can hold (every channel comes
        through here) and cut over-long text (with a notice later)."""
        text = storable_text(text.replace("\r\n", "\n").replace("\r", "\n")).strip() or "\ufffd"
        if len(text) > self.max_chars:
            return text[: self.max_chars], True
        return text, False

    async def handle(
        self, user_id: str, text: str, address: str | None = None, client_key: str | None = None
    ) -> Outcome:
        """The message's outcome. `client_key` (the API's Idempotency-Key): a message sent again
        with it is the one sent first, answered with its reply, or delivered if still kept."""
        deadline = self.gate.deadline()  # for a Rasa turn; past it the message is kept
        text, truncated = self.prepare(text)
        sent = text
        if text.startswith(INTENT_PREFIX):  # a button press only if it is one we offered (bot/core/payloads.py)
            recent = await self.store.history(user_id, limit=RECENT_REPLIES)
            text = screen(text, offered_payloads(m.result for m in recent))
        # stored already claimed by this gateway: no other gateway's retry worker takes it meanwhile
        stored, fresh = await self.store.add(
            user_id, text, truncated, lease_s=self.lease_s, owner=self.owner, client_key=client_key
        )
        if not fresh:
            if stored.text not in (text, sent):  # a button press may have been screened since
                raise ClientKeyReused(client_key)
            if stored.status != PENDING:
                return Outcome(stored, stored.result)
        with self._holding(stored.public_id if fresh else None):
            return await self._in_order(stored, fresh, address, deadline)

    async def _in_order(self, stored: StoredMessage, fresh: bool, address: str | None, deadline: float) -> Outcome:
        """The resident's older kept messages first, then this one (one request of a resident
        at a time in this process)."""
        user_id = stored.user_id
        async with self._lock_for(user_id):
            waiting = await self.store.pending(user_id)
            if all(m.public_id != stored.public_id for m in waiting):
                # not pending any more: a concurrent request of the same resident already
                # delivered it in order (read alone only then: one query a message fewer)
                current = await self.store.get(stored.public_id)
                if current is not None and current.status != PENDING:
                    return Outcome(current, current.result)
            for older in waiting:
                if older.public_id == stored.public_id:
                    break
                if await self._deliver(older, deadline=deadline) is None:
                    if fresh:  # kept: any gateway sends it, in order (a resent one is not this call's claim)
                        await self.store.release(stored.public_id)
                    return Outcome(stored, None)
            return Outcome(stored, await self._deliver(stored, address, fresh=fresh, deadline=deadline))

    async def _deliver(
        self,
        message: StoredMessage,
        address: str | None = None,
        fresh: bool = False,
        deadline: float | None = None,
    ) -> dict[str, Any] | None:
        """The message's result, or None when it stays pending: Rasa was unavailable, no
        Rasa turn came free before `deadline` (None: the retry worker, which waits), or
        another gateway is delivering it (its claim decides; the reply is stored there).
        `fresh`: stored by this request and claimed with it, so Rasa cannot have seen it."""
        seen_before = False
        if not fresh:
            claimed = await self.store.claim(message.public_id, self.lease_s, self.owner)
            if claimed is None:
                log.info("message %s is being delivered elsewhere", message.public_id)
                return None
            seen_before = claimed.attempts > 0
        with self._holding(None if fresh else message.public_id):
            return await self._claimed(message, address, seen_before, deadline)

    @contextlib.contextmanager
    def _holding(self, public_id: str | None) -> Iterator[None]:
        """While the block runs, this process delivers the message: its claim is renewed."""
        if public_id is None:
            yield
            return
        self._held.add(public_id)
        try:
            yield
        finally:
            self._held.discard(public_id)

    async def release_earlier_claims(self) -> int:
        """At start, give back the claims an earlier run of this instance still held: it was
        killed while delivering them. Otherwise that resident's messages wait until the claim
        runs out (GATEWAY_LEASE_S) while systemd has this gateway back in a few seconds."""
        if not self.instance:  # no stable address: nothing to tell an earlier run by
            return 0
        return await self.store.release_earlier(self.instance, self.owner)

    async def renew_forever(self) -> None:
        """Renew the claims on the messages this process is delivering, every quarter of a
        claim's life: a Rasa turn may take longer than a claim (RASA_TIMEOUT_S 20 s against
        GATEWAY_LEASE_S 10 s), and a claim must outlive it while this process lives. Before,
        each claim was as long as the longest delivery (33 s), and a gateway killed during a
        resident's message kept that resident's later messages waiting that long."""

        async def one_round() -> None:
            await self.store.renew(sorted(self._held), self.lease_s, self.owner)

        await every(max(self.lease_s / 4, 0.1), one_round, "claim renewal")

    async def _claimed(
        self, message: StoredMessage, address: str | None, seen_before: bool, deadline: float | None
    ) -> dict[str, Any] | None:
        """_deliver's work once the message is this process's to deliver."""
        if self.reminders is not None and self.reminders.is_cancel(message.text):  # 「退订」: Rasa up or not
            cancelled = answered_here(
                message, await self.reminders.cancel(message.user_id), "cancel_reminders", "chitchat"
            )
            await self.store.finish(message.public_id, ANSWERED, cancelled)
            return cancelled
        case = await self.cases.open_case_of(message.user_id)
        if case is not None:  # a person has the conversation: Rasa is not asked
            return await self._to_case(message, case)
        try:
            # a message claimed before may have reached Rasa: Rasa then answers from its
            # tracker instead of taking it a second time (nlu/gateway_channel.py)
            async with self.gate.turn(deadline):
                turn = await self.rasa.send(
                    message.user_id, message.text, message_id=message.public_id, seen_before=seen_before
                )
        except GatewayBusy as exc:
            await self.store.release(message.public_id)
            log.warning(
                "gateway busy, message %s kept (%s; %d waiting, %d kept since start)",
                message.public_id,
                exc,
                self.gate.waiting,
                self.gate.shed,
            )
            return None
        except RasaUnavailable as exc:
            await self.store.release(message.public_id)
            log.warning("rasa unavailable, message %s kept (%s)", message.public_id, exc)
            return None
        result = turn.as_dict()
        result["replies"], blocked = self.guard.screen(result["replies"])
        if blocked:
            await self.store.hold(message.public_id, message.user_id, blocked)
        if message.truncated:
            result["replies"].insert(0, {"text": TRUNCATION_NOTICE.format(limit=self.max_chars), "buttons": []})
        status = ANSWERED
        if not turn.replies:
            # Rasa and the action server are up (else RasaUnavailable), yet no reply:
            # a bug, not an outage, so retrying would fail again; a person answers
            status = UNANSWERED
            result["replies"].append({"text": NO_ANSWER_TEXT, "buttons": []})
            log.error("message %s got no reply (intent=%s): handed to a person", message.public_id, turn.intent)
            if turn.handoff is None:
                turn.handoff = {"reason": NO_ANSWER, "category": turn.category, "intent": turn.intent}
        elif blocked:
            status = HELD
        result["truncated"] = message.truncated
        if turn.intake is not None:
            application = await self.applications.create(message.user_id, turn.intake)
            result["application_id"] = application.public_id
            log.info(
                "message %s submitted legal-aid application %s (%s)",
                message.public_id,
                application.public_id,
                application.outcome,
            )
        if self.reminders is not None:
            # due ones first (web and API residents see theirs on their next visit), then one just asked for
            result["replies"][:0] = await self.reminders.due_for(message.user_id)
            if turn.reminder is not None:
                result["replies"].append(await self.reminders.asked(message.user_id, turn.reminder))
        if turn.draft is not None and self.drafts is not None and self.draft_links is not None:
            draft = await self.drafts.create(message.user_id, turn.draft)
            result["draft_id"] = draft.public_id
            result["replies"].append(draft_reply(self.draft_links(draft.public_id)))
        if turn.handoff is not None and not await self._may_open_case(message, turn.handoff, address):
            turn.handoff = None
            result["replies"].append({"text": CASE_LIMIT_TEXT, "buttons": []})
            log.warning(
                "message %s: case not opened, the resident's or address's case budget is spent", message.public_id
            )
        if turn.handoff is not None:
            case = await self._open_case(message, turn.handoff, result)
            position = await self.cases.queue_position(case)
            result["replies"].append({"text": QUEUED_TEXT.format(position=position), "buttons": []})
            result["case_id"] = case.public_id
        await self.store.finish(message.public_id, status, result)
        log.info("message %s %s intent=%s category=%s", message.public_id, status, turn.intent, turn.category)
        return result

    async def _may_open_case(self, message: StoredMessage, handoff: dict[str, Any], address: str | None) -> bool:
        """Urgent cases and answers that failed always reach a person; others within the budget."""
        if self.case_budget is None or str(handoff.get("reason")) in ALWAYS_OPENED:
            return True
        return await self.case_budget(message.user_id, address)

    async def _open_case(
        self, message: StoredMessage, handoff: dict[str, Any], result: dict[str, Any]
    ) -> HandoffCaseView:
        """A case with what the mediator needs: the structured summary the action sent and the transcript."""
        transcript = []
        for earlier in await self.store.history(message.user_id):
            transcript.append({"from": "resident", "text": earlier.text, "at": earlier.created_at})
            replies = (result if earlier.public_id == message.public_id else earlier.result or {}).get("replies", [])
            transcript += [{"from": "assistant", "text": r.get("text", ""), "at": earlier.created_at} for r in replies]
        summary = {**handoff, "entities_last_message": result.get("entities", []), "transcript": transcript}
        case = await self.cases.create(
            message.user_id,
            str(handoff.get("reason") or "asks_for_person"),
            summary,
            channel=channel_of(message.user_id),
            category=handoff.get("category") or result.get("category"),
            intent=handoff.get("intent"),
            street=handoff.get("street"),
        )
        log.info("message %s opened case %s (%s)", message.public_id, case.public_id, case.reason)
        return case

    async def _to_case(self, message: StoredMessage, case: HandoffCaseView) -> dict[str, Any]:
        if message.text.strip().strip("。.!！ ") in END_HANDOFF:
            await self.cases.return_to_bot(case.id, actor="resident")
            text = ENDED_TEXT
        else:
            await self.cases.add_message(case.id, "resident", message.text)
            if case.status == WAITING:
                text = FORWARDED_WAITING.format(position=await self.cases.queue_position(case))
            else:
                text = FORWARDED_CLAIMED
        result = {
            **answered_here(message, {"text": text, "buttons": []}, "handoff", case.category or "other_legal"),
            "case_id": case.public_id,
        }
        await self.store.finish(message.public_id, HANDED_OFF, result)
        log.info("message %s went to case %s", message.public_id, case.public_id)
        return result

    async def retry_pending(self) -> int:
        """Send kept messages, oldest first per resident; stop at the first failure."""
        if not await self.rasa.is_ready():
            return 0
        delivered = 0
        waiting: set[str] = set()  # residents whose older message another gateway is delivering
        for message in await self.store.pending():
            if message.user_id in waiting:
                continue
            async with self._lock_for(message.user_id):
                current = await self.store.get(message.public_id)
                if current is None or current.status != PENDING:
                    continue
                if current.leased:
                    waiting.add(current.user_id)
                    continue
                result = await self._deliver(current)
                if result is None:
                    if (await self.store.get(current.public_id) or current).leased:
                        waiting.add(current.user_id)  # taken by another gateway meanwhile
                        continue
                    return delivered
                delivered += 1
                handler = self.late_reply_handlers.get(channel_of(current.user_id))
                if handler is not None:
                    try:
                        await handler(current.user_id, result)
                    except Exception:  # the reply is stored; the resident can still fetch it
                        log.exception("late reply to message %s could not be pushed", current.public_id)
        return delivered

    async def notify_overdue(self, wait_notice_s: float) -> int:
        """Tell residents whose case nobody claimed in time, once, and offer 12348."""
        cases = await self.cases.overdue(wait_notice_s)
        for case in cases:
            await self.cases.add_message(case.id, "system", WAIT_NOTICE)
            log.info("case %s unclaimed for %.0f s: resident told", case.public_id, wait_notice_s)
        return len(cases)

    async def push_forever(
        self, channel: str, send: Callable[[str, MessageView], Awaitable[None]], interval_s: float
    ) -> None:
        """Push mediators' and system messages of `channel`'s cases with `send(resident_id, message)`.

        Each message is marked delivered as it is taken (once, however many gateways
        run); a send that fails puts it back for the next round."""

        async def one_round() -> None:
            for resident, message in await self.cases.take_undelivered(channel):
                try:
                    await send(resident, message)
                except Exception as exc:  # the channel's API failed: keep it for the next round
                    log.warning(
                        "push of case message %s to %s failed (%s); retrying",
                        message.id,
                        channel,
                        type(exc).__name__,
                    )
                    await self.cases.undeliver(message.id)

        await every(interval_s, one_round, f"{channel} push")

    async def retry_forever(self, interval_s: float, wait_notice_s: float = 600.0) -> None:
        async def one_round() -> None:
            count = await self.retry_pending()
            if count:
                log.info("delivered %d kept message(s)", count)
            await self.notify_overdue(wait_notice_s)

        await every(interval_s, one_round, "retry")
