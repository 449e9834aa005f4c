"""Reversals: new entries that point at the transactions they take back."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.ledger.models import AccountKind, LedgerTransaction, TransactionKind
from points.ledger.service import balances, earning
from points.ledger.writer import post
from points.settings import Settings

# What a reversal keeps of the original: its event, and its rule for caps and history
# (the once-value too: a milestone level taken back is one the person no longer holds).
_RULE_FIELDS = ("event_id", "rule_id", "rule_version", "cap_period_key", "once_value")


async def reverse_transactions(
    session: AsyncSession,
    settings: Settings,
    originals: Sequence[LedgerTransaction],
    *,
    cause: str,
    reason: str,
    reason_en: str,
) -> int:
    """Reverse each original once (key ``reversal:{id}``), never below a zero balance.

    If the person has already spent some of the points, only what is available is
    taken back and the reason says how much could not be; balances never go negative.
    """
    if not originals:
        return 0
    already = set(
        (
            await session.exec(
                select(LedgerTransaction.reverses_id).where(
                    col(LedgerTransaction.reverses_id).in_([o.id for o in originals])
                )
            )
        ).all()
    )
    written = 0
    for original in sorted(originals, key=lambda t: t.id or 0):
        if original.id in already or original.points <= 0:
            continue
        available = (await balances(session, original.employee_id))[AccountKind.available]
        amount = min(original.points, available)
        short = original.points - amount
        note = f"（余额不足，{short} 分未能收回）" if short else ""
        note_en = f" ({short} points could not be recovered)" if short else ""
        posting = earning(
            f"reversal:{original.id}",
            TransactionKind.reversal,
            original.employee_id,
            original.department_id,
            -amount,
            # The taking back counts in the period the original counted in.
            original.effective_at,
            reverses_id=original.id,
            **{name: getattr(original, name) for name in _RULE_FIELDS},
            author=cause,
            reason=f"{reason} · {original.reason}{note}",
            reason_en=f"{reason_en} · {original.reason_en}{note_en}",
        )
        written += len(await post(session, [posting], settings.zone))
    return written
