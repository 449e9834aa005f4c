"""The one guard every ``next`` and ``back`` goes through before a redirect."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(value: str | None, default: str = "/") -> str:
    """Only paths on this site: never another host, scheme or a browser-bent lookalike.

    ``//evil.example.com`` and ``/\\evil.example.com`` are read by browsers as another
    host; control characters can split headers. All of them fall back to ``default``.
    """
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return default
    parts = urlsplit(value)
    return default if parts.scheme or parts.netloc else value
