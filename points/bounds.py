"""The ranges every input is checked against before it reaches the database.

Ids and counts live in 32-bit integer columns on PostgreSQL; dates outside a sane
window are typing mistakes (9999-12-31) and break date arithmetic at the edges.
"""

from __future__ import annotations

from datetime import date

from points.errors import InvalidInput
from points.i18n import _

INT_MAX = 2**31 - 1  # PostgreSQL integer
INT_MIN = -(2**31)
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)


def check_int(value: int, name: str) -> int:
    if not INT_MIN <= value <= INT_MAX:
        raise InvalidInput(_("{name} is out of range").format(name=name))
    return value


def check_day(value: date, name: str) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise InvalidInput(
            _("{name} must be between {first} and {last}").format(
                name=name, first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat()
            )
        )
    return value
