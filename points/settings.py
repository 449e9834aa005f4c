"""One typed settings object, read from the environment (prefix ``POINTS_``).

The names are a contract (DESIGN.md, README settings table); a test checks that
every field here is documented in the README.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "dev-insecure-secret-key-change-me"


class UnsafeSettings(RuntimeError):
    """Raised when production settings would run the product unsafely."""


class Settings(BaseSettings):
    """Everything the product reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="POINTS_", extra="ignore", frozen=True)

    ENV: Literal["dev", "prod"] = Field("dev", description="dev or prod")
    DATABASE_URL: str = Field(
        "sqlite+aiosqlite:///./points.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///file.db or postgresql+asyncpg://…",
    )
    REDIS_URL: str | None = Field(
        None, description="redis://host:6379/0; unset runs jobs in-process"
    )
    SECRET_KEY: str = Field(DEFAULT_SECRET_KEY, description="signs session cookies and CSRF tokens")
    TIMEZONE: str = Field("Asia/Shanghai", description="periods (day, week, month…) are cut here")
    DEV_LOGIN: bool = Field(True, description="the role-switcher login page; must be off in prod")
    DEFAULT_LOCALE: Literal["zh_CN", "en"] = Field("zh_CN", description="zh_CN or en")
    BASE_URL: str = Field("http://127.0.0.1:8000", description="public URL, for links and OAuth")
    EXPIRY_MONTHS: int = Field(
        0, ge=0, le=120, description="points expire this many months after earning; 0 = never"
    )
    EXPIRY_REMINDER_DAYS: int = Field(
        7, ge=0, le=90, description="warn this many days before points expire; 0 = no warning"
    )
    APPEAL_SLA_DAYS: int = Field(
        0, ge=0, le=365, description="open appeals older than this are overdue; 0 = no SLA"
    )
    ONBOARDING_DAYS: int = Field(
        30, ge=1, le=365, description="people who joined this many days ago or less are new joiners"
    )
    EVENT_RETENTION_DAYS: int = Field(
        0, ge=0, le=3650, description="clear raw event attributes after this many days; 0 = keep"
    )
    LEAVER_ANONYMISE_DAYS: int = Field(
        0, ge=0, le=3650, description="anonymise leavers this many days after leaving; 0 = never"
    )
    SCHEDULER: bool = Field(
        True, description="without Redis, `points serve` runs the periodic jobs itself"
    )
    MAX_BODY_BYTES: int = Field(
        1_048_576, ge=1024, description="largest request body; larger is refused with 413"
    )
    SESSION_IDLE_MINUTES: int = Field(
        480, ge=5, description="a login session ends after this long without a request"
    )
    SESSION_MAX_HOURS: int = Field(
        168, ge=1, description="a login session ends this long after logging in, however used"
    )
    RATE_LIMIT_WINDOW_SECONDS: int = Field(
        300, ge=10, description="the window the failure limits below count in, per client"
    )
    LOGIN_FAILURE_LIMIT: int = Field(
        10, ge=1, description="failed logins per client and window before 429"
    )
    TOKEN_FAILURE_LIMIT: int = Field(
        30, ge=1, description="rejected API tokens per client and window before 429"
    )
    CALLBACK_FAILURE_LIMIT: int = Field(
        60, ge=1, description="WeCom callbacks with a bad signature per client and window"
    )
    ADJUSTMENT_REVIEW_ABOVE: int = Field(
        500, ge=0, description="adjustments larger than this need a second HR/admin person"
    )
    INTEGRITY_CAP_DAYS: int = Field(
        5,
        ge=2,
        le=28,
        description="integrity: flag a person at one rule's cap on this many active days running",
    )
    INTEGRITY_MIN_COUNT: int = Field(
        30,
        ge=5,
        le=100_000,
        description="integrity: the fewest events of one kind in a day for a burst",
    )
    METRICS_TOKEN: str = Field("", description="bearer token that may read /metrics")
    METRICS_ALLOW: str = Field(
        "127.0.0.1,::1", description="addresses/networks that may read /metrics (comma separated)"
    )
    WECOM_ENABLED: bool = Field(False, description="turn the WeCom integration on")
    WECOM_CORP_ID: str = Field("", description="企业ID (CorpID)")
    WECOM_AGENT_ID: str = Field("", description="the self-built app's AgentId")
    WECOM_SECRET: str = Field("", description="the app's Secret")
    WECOM_TOKEN: str = Field("", description="callback Token")
    WECOM_AES_KEY: str = Field("", description="callback EncodingAESKey (43 characters)")
    WECOM_API_BASE: str = Field("https://qyapi.weixin.qq.com", description="WeCom API root")
    WECOM_LAG_WARNING_HOURS: int = Field(
        36, ge=1, le=24 * 90, description="warn admins when a pull connector is this far behind"
    )
    WECOM_EARLIEST_DATE: date = Field(
        date(2016, 1, 1),
        description="WeCom records dated before this (e.g. the company's founding) are refused",
    )
    WECOM_RETRY_BASE_SECONDS: float = Field(
        0.5, ge=0, le=30, description="first pause of the API client's bounded retries"
    )
    WECOM_WORKBENCH: bool = Field(
        True, description="with WeCom on, each person's workbench tile shows their points"
    )

    @field_validator("TIMEZONE")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}, e.g. Asia/Shanghai") from exc
        return value

    @field_validator("DATABASE_URL")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        # Plain postgres:// URLs are what most hosting panels hand out; accept them.
        for plain, driver in (
            ("postgres://", "postgresql+asyncpg://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("sqlite:///", "sqlite+aiosqlite:///"),
        ):
            if value.startswith(plain):
                return driver + value[len(plain) :]
        if not value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("use a postgresql+asyncpg:// or sqlite+aiosqlite:/// URL")
        return value

    @field_validator("WECOM_AES_KEY")
    @classmethod
    def _aes_key_length(cls, value: str) -> str:
        if value and len(value) != 43:
            raise ValueError("EncodingAESKey has exactly 43 characters")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.TIMEZONE)

    @property
    def is_sqlite(self) -> bool:
        return self.DATABASE_URL.startswith("sqlite")

    def check_safe_for_production(self) -> None:
        """Refuse to run ``ENV=prod`` with settings that are only fit for a laptop."""
        if self.ENV != "prod":
            return
        problems = []
        if self.DEV_LOGIN:
            problems.append("POINTS_DEV_LOGIN must be false in production (anyone could log in)")
        if self.SECRET_KEY == DEFAULT_SECRET_KEY or len(self.SECRET_KEY) < 32:
            problems.append("POINTS_SECRET_KEY must be set to a random value of 32+ characters")
        if self.is_sqlite:
            problems.append("POINTS_DATABASE_URL must point at PostgreSQL in production")
        if self.WECOM_ENABLED:
            for name in ("WECOM_CORP_ID", "WECOM_SECRET", "WECOM_TOKEN", "WECOM_AES_KEY"):
                if not getattr(self, name):
                    problems.append(f"POINTS_{name} is required when POINTS_WECOM_ENABLED is on")
        if problems:
            raise UnsafeSettings("refusing to start in production:\n- " + "\n- ".join(problems))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests build their own ``Settings`` instead."""
    return Settings()
