"""Saving, activating and loading rule-set versions.

The compiled active version is cached per process by version number: compiling is
done once, and a newly activated version is picked up on the next lookup.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.db import utcnow
from points.errors import InvalidInput, NotFound
from points.i18n import _
from points.rulesets.models import RuleVersion, VersionStatus
from rules import CompiledRuleset, compile_ruleset, validate_text
from rules.loader import DEFAULT_RULES_PATH

_compiled: dict[int, CompiledRuleset] = {}


def compiled(version: RuleVersion) -> CompiledRuleset:
    assert version.id is not None
    ruleset = _compiled.get(version.id)
    if ruleset is None:
        ruleset = _compiled[version.id] = compile_ruleset(version.source, version=version.id)
    return ruleset


def check_source(source: str) -> None:
    """Refuse a rule set with any error, one clear line per problem."""
    errors = validate_text(source)
    if errors:
        raise InvalidInput("\n".join(str(e) for e in errors), code="invalid_rules")


async def save_draft(
    session: AsyncSession, *, source: str, author: str, note: str = ""
) -> RuleVersion:
    check_source(source)
    version = RuleVersion(source=source, created_by=author, note=note[:500])
    session.add(version)
    await session.flush()
    await record(session, actor=author, action="rules.draft", target=f"v{version.id}")
    return version


async def activate(session: AsyncSession, *, version_id: int, author: str) -> RuleVersion:
    """Make a version the active one (retiring the previous); audited."""
    version = await session.get(RuleVersion, version_id)
    if version is None:
        raise NotFound(_("No such rule version."))
    if version.status == VersionStatus.active:
        return version
    check_source(version.source)
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
        details={"previous": previous.id if previous else None},
    )
    return version


async def active_version(session: AsyncSession) -> RuleVersion | None:
    return (
        await session.exec(select(RuleVersion).where(RuleVersion.status == VersionStatus.active))
    ).first()


async def ensure_active(session: AsyncSession) -> RuleVersion:
    """The active version; on a new installation, the shipped default rules become v1."""
    version = await active_version(session)
    if version is not None:
        return version
    source = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    draft = await save_draft(session, source=source, author="system", note="默认规则")
    assert draft.id is not None
    return await activate(session, version_id=draft.id, author="system")


async def list_versions(session: AsyncSession) -> Sequence[RuleVersion]:
    return (await session.exec(select(RuleVersion).order_by(col(RuleVersion.id).desc()))).all()
