from __future__ import annotations

import pytest

from tests.support.services import Store


@pytest.fixture(params=["pg", "lite"])
def store(request: pytest.FixtureRequest) -> Store:
    """The same scenario on PostgreSQL and on the embedded SQLite default."""
    found: Store = request.getfixturevalue(request.param)
    return found
