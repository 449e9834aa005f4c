"""A person's points statement: ledger lines said in people's words.

The ledger stores ids (a rule id and version, an author's userid, a redemption id);
people read titles and names. A redemption is one line however many ledger
transactions it took: its hold stands for it, with the redemption's outcome, and the
spend or release that closed it is not repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import yaml
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.ledger.models import LedgerTransaction, TransactionKind
from points.org.service import names_by_userid
from points.rewards.models import PENDING, Redemption, RedemptionStatus, Reward
from points.rulesets.models import RuleVersion, VersionStatus

# The kinds a statement lists: a spend or release only closes a hold already shown.
STATEMENT_KINDS = tuple(
    k for k in TransactionKind if k not in (TransactionKind.spend, TransactionKind.release)
)

# Titles of stored versions never change once a version left draft: cache them.
_titles: dict[int, dict[str, tuple[str, str]]] = {}


@dataclass(frozen=True)
class StatementLine:
    id: int | None  # the ledger transaction's (appeals point at it)
    kind: str
    effective_at: datetime
    reason: str
    reason_en: str
    points: int  # what the line did to the person's available points
    rule_title: str = ""
    rule_title_en: str = ""
    rule_version: int | None = None
    author_name: str = ""
    badge: str | None = None
    # Redemptions: the reward and how the request ended (or that it is still open).
    redemption_id: int | None = None
    redemption_status: str = ""
    returned: bool = False  # declined, cancelled or expired: the points came back


def _version_titles(version: RuleVersion) -> dict[str, tuple[str, str]]:
    cached = _titles.get(version.id or 0)
    if cached is not None and version.status != VersionStatus.draft:
        return cached
    titles: dict[str, tuple[str, str]] = {}
    try:
        document = yaml.safe_load(version.source)
    except yaml.YAMLError:
        document = None
    rules = document.get("rules", []) if isinstance(document, dict) else document
    for rule in rules if isinstance(rules, list) else []:
        if isinstance(rule, dict) and isinstance(rule.get("id"), str):
            title = str(rule.get("title") or rule["id"])
            titles[rule["id"]] = (title, str(rule.get("title_en") or title))
    if version.status != VersionStatus.draft:
        _titles[version.id or 0] = titles
    return titles


async def rule_titles(
    session: AsyncSession, versions: set[int]
) -> dict[tuple[str, int], tuple[str, str]]:
    """(rule id, version) -> (title, English title) for the given versions."""
    missing = {v for v in versions if v not in _titles}
    if missing:
        for version in (
            await session.exec(select(RuleVersion).where(col(RuleVersion.id).in_(missing)))
        ).all():
            _version_titles(version)
    return {
        (rule_id, v): titles for v in versions for rule_id, titles in _titles.get(v, {}).items()
    }


async def statement(
    session: AsyncSession, rows: Sequence[LedgerTransaction]
) -> list[StatementLine]:
    """The lines people read for ``rows`` (ledger transactions, already filtered and paged)."""
    titles = await rule_titles(session, {r.rule_version for r in rows if r.rule_version})
    authors = {r.author for r in rows if r.kind == TransactionKind.adjustment}
    names = await names_by_userid(session, authors)
    redemption_ids = {r.redemption_id for r in rows if r.redemption_id}
    redemptions: dict[int, tuple[str, str, str]] = {}
    if redemption_ids:
        found = await session.exec(
            select(Redemption.id, Redemption.status, Reward.name, Reward.name_en)
            .join(Reward, col(Reward.id) == col(Redemption.reward_id))
            .where(col(Redemption.id).in_(redemption_ids))
        )
        redemptions = {
            rid or 0: (status, name, name_en) for rid, status, name, name_en in found.all()
        }
    lines = []
    for row in rows:
        title, title_en = titles.get((row.rule_id or "", row.rule_version or 0), ("", ""))
        line = StatementLine(
            id=row.id,
            kind=row.kind,
            effective_at=row.effective_at,
            reason=row.reason,
            reason_en=row.reason_en,
            points=row.points,
            rule_title=title or (row.rule_id or ""),
            rule_title_en=title_en or title or (row.rule_id or ""),
            rule_version=row.rule_version,
            author_name=names.get(row.author, row.author),
            badge=row.badge,
        )
        if row.kind == TransactionKind.hold and row.redemption_id in redemptions:
            status, name, name_en = redemptions[row.redemption_id]
            line = _redemption_line(line, row, status, name, name_en or name)
        elif row.kind in (TransactionKind.hold, TransactionKind.expiry):
            line = _replace(line, points=-abs(row.points))
        elif row.kind == TransactionKind.release:
            line = _replace(line, points=abs(row.points))
        lines.append(line)
    return lines


def _redemption_line(
    line: StatementLine, row: LedgerTransaction, status: str, name: str, name_en: str
) -> StatementLine:
    returned = status not in (*PENDING, RedemptionStatus.fulfilled)
    return _replace(
        line,
        reason=f"兑换「{name}」",
        reason_en=f"Redeemed {name_en}",
        points=-abs(row.points),
        redemption_id=row.redemption_id,
        redemption_status=status,
        returned=returned,
    )


def _replace(line: StatementLine, **changes: object) -> StatementLine:
    from dataclasses import replace

    return replace(line, **changes)  # type: ignore[arg-type]
