"""Every table of the gateway's database, in one metadata for Alembic.

Messages residents sent (and the replies they got), replies the citation
guard held, and the case store of the handoff to mediators: cases, their
messages, status history, staff accounts and the audit log of every view
and action by staff. SQLite by default, PostgreSQL by URL; the schema is
created and upgraded by the migrations in bot/store/migrations (bot/store/migrate.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class InboundMessage(Base):
    __tablename__ = "inbound_messages"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    text: Mapped[str] = mapped_column(Text)
    truncated: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), index=True, default="pending")
    # how many times a gateway claimed it for delivery (more than one: Rasa may have seen it)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    # a gateway is delivering it until then (bot/store/messages.py claim); none: free to take
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # the resident's own key for it (the API's Idempotency-Key): sent again, the same message
    client_key: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (Index("ix_inbound_messages_user_client_key", "user_id", "client_key", unique=True),)


class HeldReply(Base):
    """A reply the citation guard stopped: kept for staff, never shown to the resident."""

    __tablename__ = "held_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    reply: Mapped[dict[str, Any]] = mapped_column(JSON)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # mediator | admin
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[float] = mapped_column(Float)


class HandoffCase(Base):
    """A resident handed to a person: waiting → claimed → closed, or returned to the bot."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    resident_id: Mapped[str] = mapped_column(String(128), index=True)
    channel: Mapped[str] = mapped_column(String(16), default="api")
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    category: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    intent: Mapped[str | None] = mapped_column(String(64), nullable=True)
    street: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True, index=True)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[float] = mapped_column(Float, index=True)
    updated_at: Mapped[float] = mapped_column(Float)
    claimed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    closed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    purged_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    wait_notice_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class HandoffMessage(Base):
    __tablename__ = "case_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    sender: Mapped[str] = mapped_column(String(16))  # resident | mediator | system
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    # pushed to the resident's channel (Telegram …); None: not yet, or the channel is polled
    delivered_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)


class HandoffCaseEvent(Base):
    """Status history: every transition, who made it and when."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)
    at: Mapped[float] = mapped_column(Float)


class AuditEntry(Base):
    """Every view and action of staff, for the bureau's oversight."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True, index=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    at: Mapped[float] = mapped_column(Float)


class LegalAidApplication(Base):
    """An application from the intake form: the answers, consent and the first view of eligibility."""

    __tablename__ = "legal_aid_applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    resident_id: Mapped[str] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(24))
    category: Mapped[str | None] = mapped_column(String(16), nullable=True)
    street: Mapped[str | None] = mapped_column(String(16), nullable=True)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float, index=True)
    purged_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class ButtonPayload(Base):
    """A Telegram button's payload behind the token sent as its callback data (≤ 64 bytes)."""

    __tablename__ = "button_payloads"

    token: Mapped[str] = mapped_column(String(24), primary_key=True)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float, index=True)


class PushNonce(Base):
    """A (timestamp, nonce) of a WeChat push already processed, kept for the
    replay window, so a replay is refused after a restart and by every gateway."""

    __tablename__ = "push_nonces"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    seen_at: Mapped[float] = mapped_column(Float, index=True)


class ConsoleSession(Base):
    """A signed-in console session. The cookie only names it: logging out,
    a password reset or disabling the account deletes it, and the cookie is
    then worth nothing (it used to be valid until it expired)."""

    __tablename__ = "console_sessions"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    created_at: Mapped[float] = mapped_column(Float)


class DeadlineReminder(Base):
    """One reminder the resident asked for: a deadline (the last day to apply for
    arbitration) and the day before it to remind them (30 and 7 days before)."""

    __tablename__ = "deadline_reminders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # arbitration | injury_recognition
    title: Mapped[str] = mapped_column(String(64))  # 申请劳动仲裁的最后一天
    last_day: Mapped[str] = mapped_column(String(10))  # ISO date
    days_before: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[float] = mapped_column(Float, index=True)  # epoch seconds
    # pending → sending (a gateway took it) → sent; or cancelled (退订)
    status: Mapped[str] = mapped_column(String(16), index=True, default="pending")
    created_at: Mapped[float] = mapped_column(Float)
    sent_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class ResidentDraft(Base):
    """A 劳动仲裁申请书 or 人民调解申请书 drafted for a resident, rendered on download."""

    __tablename__ = "resident_drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float, index=True)
