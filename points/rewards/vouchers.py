"""Voucher codes: the pool HR uploads, and setting one aside for a redemption."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import case, update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.db import is_postgres, utcnow
from points.errors import InvalidInput
from points.i18n import _
from points.rewards.catalogue import get_reward
from points.rewards.models import (
    Fulfilment,
    VoucherCode,
)
from points.rewards.policy import Actor

MAX_CODES_PER_UPLOAD = 20_000


def parse_codes(text: str) -> list[str]:
    """Codes from a CSV: the first column of each row; a header row 'code' is skipped."""
    codes: list[str] = []
    for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))):
        if not row or not row[0].strip():
            continue
        value = row[0].strip()
        if not codes and value.lower() in ("code", "codes", "券码", "兑换码"):
            continue
        if len(value) > 200:
            raise InvalidInput(
                _("A code is longer than 200 characters: {code}…").format(code=value[:20])
            )
        codes.append(value)
    return codes


async def upload_codes(
    session: AsyncSession, reward_id: int, text: str, batch: str, actor: Actor
) -> tuple[int, int]:
    """Add codes to a voucher reward's pool; returns (added, duplicates skipped). Audited."""
    reward = await get_reward(session, reward_id)
    if reward.fulfilment != Fulfilment.voucher:
        raise InvalidInput(_("Only voucher rewards have a code pool."))
    parsed = parse_codes(text)
    codes = list(dict.fromkeys(parsed))
    if not codes:
        raise InvalidInput(_("The file has no codes."))
    if len(codes) > MAX_CODES_PER_UPLOAD:
        raise InvalidInput(_("At most 20000 codes per file."))
    existing = set(
        (
            await session.exec(
                select(VoucherCode.code).where(
                    VoucherCode.reward_id == reward_id, col(VoucherCode.code).in_(codes)
                )
            )
        ).all()
    )
    fresh = [c for c in codes if c not in existing]
    now = utcnow()
    for code in fresh:
        session.add(
            VoucherCode(
                reward_id=reward_id,
                code=code,
                batch=batch[:100],
                uploaded_at=now,
                uploaded_by=actor.name,
            )
        )
    await record(
        session,
        actor=actor.name,
        action="reward.codes_upload",
        target=f"reward:{reward_id}",
        details={"batch": batch[:100], "added": len(fresh), "duplicates": len(parsed) - len(fresh)},
        ip=actor.ip,
        user_agent=actor.user_agent,
    )
    return len(fresh), len(parsed) - len(fresh)


@dataclass
class CodePool:
    total: int
    free: int
    reserved: int  # held for a pending redemption, not shown to anyone yet
    given: int
    batches: list[tuple[str, int]]


async def code_pool(session: AsyncSession, reward_id: int) -> CodePool:
    row = (
        await session.exec(
            select(
                func.count(),
                func.sum(case((col(VoucherCode.redemption_id).is_(None), 1), else_=0)),
                func.sum(case((col(VoucherCode.given_at).is_not(None), 1), else_=0)),
            ).where(VoucherCode.reward_id == reward_id)
        )
    ).one()
    total, free, given = int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)
    batches = (
        await session.exec(
            select(VoucherCode.batch, func.count())
            .where(VoucherCode.reward_id == reward_id)
            .group_by(col(VoucherCode.batch))
            .order_by(col(VoucherCode.batch))
        )
    ).all()
    return CodePool(total, free, total - free - given, given, [(b, n) for b, n in batches])


async def reserve_code(session: AsyncSession, reward_id: int, redemption_id: int) -> bool:
    """Set a free code aside for this redemption (nobody sees it until fulfilment)."""
    query = (
        select(VoucherCode.id)
        .where(VoucherCode.reward_id == reward_id, col(VoucherCode.redemption_id).is_(None))
        .order_by(col(VoucherCode.id))
        .limit(1)
    )
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    code_id = (await session.exec(query)).first()
    if code_id is None:
        return False
    result = await session.exec(
        update(VoucherCode)
        .where(col(VoucherCode.id) == code_id, col(VoucherCode.redemption_id).is_(None))
        .values(redemption_id=redemption_id)
    )
    return result.rowcount == 1
