"""Translations: zh_CN by default, English available.

Message ids are English; the catalogues live in ``web/translations`` as gettext
``.po`` files and are compiled in memory at start-up, so no build step is needed.
The current locale is a context variable set per request (or per CLI run), so
services can translate the errors they raise without knowing about HTTP.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from importlib.resources import files

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LOCALE_NAMES = {"zh_CN": "中文", "en": "English"}

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)


def catalog_path(locale: str) -> str:
    return str(files("web") / "translations" / locale / "LC_MESSAGES" / "messages.po")


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled catalogue for a locale (English needs none: ids are English)."""
    if locale == "en":
        return gettext.NullTranslations()
    with open(catalog_path(locale), "rb") as po:
        catalog = read_po(po, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def gettext_(message: str) -> str:
    return translations(current_locale.get()).gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    return translations(current_locale.get()).ngettext(singular, plural, n)


# The conventional short name, for Python code and templates alike.
_ = gettext_


def N_(message: str) -> str:
    """Mark a message for the catalogue without translating it yet (module constants)."""
    return message


def normalize_locale(value: str | None) -> str | None:
    """Map 'zh', 'zh-CN', 'zh_cn', 'en-US'… to a supported locale, or None."""
    if not value:
        return None
    value = value.strip().replace("-", "_").lower()
    if value.startswith("zh"):
        return "zh_CN"
    if value.startswith("en"):
        return "en"
    return None


def negotiate(accept_language: str | None) -> str | None:
    """The first supported locale in an Accept-Language header."""
    if not accept_language:
        return None
    for part in accept_language.split(","):
        locale = normalize_locale(part.split(";")[0])
        if locale:
            return locale
    return None


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    token = current_locale.set(locale)
    try:
        yield
    finally:
        current_locale.reset(token)
