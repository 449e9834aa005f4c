"""The ledger side of a redemption: the hold, the spend and the release.

A request holds the price (available → held); fulfilment spends it (held → the
system ``spent`` account); decline, cancel, expiry and the leaver flow release it
(held → available). Each is one posting, keyed by the redemption, so doing it
twice is once.
"""

from __future__ import annotations

from datetime import datetime

from points.ledger.models import AccountKind, TransactionKind
from points.ledger.service import SYSTEM_KINDS, Posting, moving_legs
from points.rewards.models import Redemption

# kind → (from, to, sign of the points on the transaction, reason zh, reason en)
_MOVES = {
    TransactionKind.hold: (
        AccountKind.available,
        AccountKind.held,
        1,
        "兑换「{}」冻结",
        "Held for {}",
    ),
    TransactionKind.spend: (AccountKind.held, AccountKind.spent, -1, "兑换「{}」", "Redeemed {}"),
    TransactionKind.release: (
        AccountKind.held,
        AccountKind.available,
        -1,
        "兑换「{}」退回",
        "Released: {}",
    ),
}


def redemption_posting(
    kind: TransactionKind,
    redemption: Redemption,
    reward_name: str,
    reward_name_en: str,
    author: str,
    at: datetime,
) -> Posting:
    """The ``hold``, ``spend`` or ``release`` of a redemption's price, at ``at``."""
    assert redemption.id is not None
    source, target, sign, reason, reason_en = _MOVES[kind]
    person = redemption.employee_id
    return Posting(
        key=f"{kind.value}:{redemption.id}",
        kind=kind,
        employee_id=person,
        department_id=redemption.department_id,
        points=sign * redemption.price,
        effective_at=at,
        legs=moving_legs(
            person,
            source,
            target,
            redemption.price,
            target_employee=None if target in SYSTEM_KINDS else person,
        ),
        redemption_id=redemption.id,
        author=author,
        reason=reason.format(reward_name),
        reason_en=reason_en.format(reward_name_en or reward_name),
    )
