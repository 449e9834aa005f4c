"""Saving, activating and loading rule-set versions.

The compiled active version is cached per process by version number: compiling is
done once, and a newly activated version is picked up on the next lookup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.db import utcnow
from points.errors import InvalidInput, NotFound
from points.i18n import _
from points.rulesets.models import RuleVersion, VersionStatus
from points.shared_reads import shared
from rules import CompiledRuleset, compile_ruleset, validate_text
from rules.loader import DEFAULT_RULES_PATH

_compiled: dict[tuple[int, str], CompiledRuleset] = {}


def compiled(version: RuleVersion) -> CompiledRuleset:
    """The version's rules compiled for evaluation (cached per version number)."""
    assert version.id is not None
    # Keyed by the text too: a rebuilt database (tests, a demo reset) reuses numbers.
    key = (version.id, version.source)
    ruleset = _compiled.get(key)
    if ruleset is None:
        ruleset = _compiled[key] = compile_ruleset(version.source, version=version.id)
    return ruleset


def check_source(source: str) -> None:
    """Refuse a rule set with any error, one clear line per problem."""
    errors = validate_text(source)
    if errors:
        raise InvalidInput("\n".join(str(e) for e in errors), code="invalid_rules")


async def save_draft(
    session: AsyncSession, *, source: str, author: str, note: str = ""
) -> RuleVersion:
    """Store valid rule text as a new draft version; audited."""
    check_source(source)
    version = RuleVersion(source=source, created_by=author, note=note[:500])
    session.add(version)
    await session.flush()
    await record(session, actor=author, action="rules.draft", target=f"v{version.id}")
    return version


async def activate(
    session: AsyncSession,
    *,
    version_id: int,
    author: str,
    ip: str = "",
    details: dict[str, Any] | None = None,
) -> RuleVersion:
    """Make a version the active one (retiring the previous); audited.

    Activating an older (retired) version is a rollback. Of two concurrent
    activations the later fails on the one-active index (``IntegrityError``), so
    two versions can never be active at once.
    """
    version = await session.get(RuleVersion, version_id, populate_existing=True)
    if version is None:
        raise NotFound(_("No such rule version."))
    if version.status == VersionStatus.active:
        return version
    check_source(version.source)
    session.info.pop(_SHOWN, None)
    previous = await active_version(session)
    if previous is not None:
        previous.status = VersionStatus.retired
        session.add(previous)
        await session.flush()  # the one-active index must see the old one retired first
    version.status = VersionStatus.active
    version.activated_at = utcnow()
    version.activated_by = author
    session.add(version)
    await session.flush()
    await record(
        session,
        actor=author,
        action="rules.activate",
        target=f"v{version.id}",
        details={
            "previous": previous.id if previous else None,
            "rollback": previous is not None and (version.id or 0) < (previous.id or 0),
            **(details or {}),
        },
        ip=ip,
    )
    return version


async def active_version(session: AsyncSession) -> RuleVersion | None:
    """The active version, or None on a fresh installation."""
    return (
        await session.exec(select(RuleVersion).where(RuleVersion.status == VersionStatus.active))
    ).first()


_SHOWN = "points.shown_rule_version"


async def shown_version(session: AsyncSession) -> RuleVersion | None:
    """The active version for what a page shows, read once per transaction.

    Home asks for it three times (streaks, milestones, challenges), and every person's
    home every morning: it is kept a moment by the process too, as a copy that belongs
    to no session (:mod:`points.shared_reads`). Scoring never uses this: it reads
    :func:`active_version` every time. Forgotten at commit and rollback and when a
    version is activated.
    """
    if _SHOWN not in session.info:
        session.info[_SHOWN] = await shared(session, "shown_rule_version", lambda: _copy(session))
    version: RuleVersion | None = session.info[_SHOWN]
    return version


async def _copy(session: AsyncSession) -> RuleVersion | None:
    """The active version as a copy of its row that belongs to no session."""
    version = await active_version(session)
    if version is None:
        return None
    return RuleVersion(**{name: getattr(version, name) for name in RuleVersion.model_fields})


def _forget_shown(session: Session, *_args: Any) -> None:
    session.info.pop(_SHOWN, None)


event.listen(Session, "after_commit", _forget_shown)
event.listen(Session, "after_rollback", _forget_shown)
event.listen(Session, "after_soft_rollback", _forget_shown)


async def ensure_active(session: AsyncSession) -> RuleVersion:
    """The active version; on a new installation, the shipped default rules become v1."""
    version = await active_version(session)
    if version is not None:
        return version
    source = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    try:
        async with session.begin_nested():
            draft = await save_draft(session, source=source, author="system", note="默认规则")
            assert draft.id is not None
            return await activate(session, version_id=draft.id, author="system")
    except IntegrityError:
        # Workers scoring at once on a new installation: one of them made the
        # defaults active first (the one-active index said so); use that version.
        version = await active_version(session)
        if version is None:
            raise
        return version


async def list_versions(session: AsyncSession) -> Sequence[RuleVersion]:
    """Every version, newest first."""
    return (await session.exec(select(RuleVersion).order_by(col(RuleVersion.id).desc()))).all()


async def get_version(session: AsyncSession, version_id: int) -> RuleVersion:
    """One version, or NotFound."""
    version = await session.get(RuleVersion, version_id)
    if version is None:
        raise NotFound(_("No such rule version."))
    return version
