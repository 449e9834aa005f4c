from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from points.settings import Settings, UnsafeSettings
from web.app import create_app

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_are_the_embedded_setup() -> None:
    settings = Settings()
    assert settings.is_sqlite
    assert settings.REDIS_URL is None
    assert settings.TIMEZONE == "Asia/Shanghai"
    settings.check_safe_for_production()  # dev: nothing to refuse


def test_prod_refuses_unsafe_settings_and_names_each_one() -> None:
    settings = Settings(ENV="prod", WECOM_ENABLED=True)
    with pytest.raises(UnsafeSettings) as caught:
        settings.check_safe_for_production()
    message = str(caught.value)
    for name in (
        "POINTS_DEV_LOGIN",
        "POINTS_SECRET_KEY",
        "POINTS_DATABASE_URL",
        "POINTS_WECOM_SECRET",
        "POINTS_WECOM_AES_KEY",
    ):
        assert name in message
    with pytest.raises(UnsafeSettings):
        create_app(settings)


def test_prod_starts_with_safe_settings() -> None:
    settings = Settings(
        ENV="prod",
        DEV_LOGIN=False,
        SECRET_KEY="x" * 40,
        DATABASE_URL="postgresql://points@db/points",
    )
    settings.check_safe_for_production()
    assert settings.DATABASE_URL.startswith("postgresql+asyncpg://")


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("ENV", "staging", "ENV"),
        ("TIMEZONE", "Mars/Olympus", "unknown time zone"),
        ("DATABASE_URL", "mysql://x", "postgresql+asyncpg"),
        ("WECOM_AES_KEY", "short", "43 characters"),
        ("DEV_LOGIN", "maybe", "DEV_LOGIN"),
    ],
)
def test_bad_values_are_refused_clearly(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(f"POINTS_{name}", value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert fragment in str(caught.value)


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`POINTS_([A-Z_]+)`", readme))
    assert set(Settings.model_fields) <= documented, set(Settings.model_fields) - documented
