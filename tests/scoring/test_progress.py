"""The progress store in the database: states, contributions, and taking one out."""

from __future__ import annotations

from sqlmodel import select

from points.ledger.models import RuleProgress, RuleProgressContribution
from points.scoring.progress import ProgressWriter, load_progress, withdraw_events
from rules import ActorHistory
from tests.support.factories import make_department, make_employee
from tests.support.services import Store


async def test_states_are_stored_loaded_and_a_revoked_events_share_taken_out(
    pg: Store, lite: Store
) -> None:
    for store in (pg, lite):
        await _store_load_and_withdraw(store)


async def _store_load_and_withdraw(store: Store) -> None:
    async with store.db.session() as session:
        sales = await make_department(session, "销售部")
        zhang = await make_employee(session, sales, userid="zhangsan")
        await session.commit()
        assert zhang.id is not None
        writer = ProgressWriter()
        writer.note(zhang.id, 101, {}, [("share", {"count": 1, "since": "2026-11-02"})])
        writer.note(zhang.id, 102, {"share": {"count": 1}}, [("share", {"count": 2})])
        await writer.save(session)
        await session.commit()

        histories = {zhang.id: ActorHistory()}
        await load_progress(session, histories, [zhang.id])
        assert histories[zhang.id].progress == {"share": {"count": 2}}

        changed = await withdraw_events(session, [101])
        assert changed == {(zhang.id, "share"): {"count": 1}}
        # Applied once: a second revocation of the same event changes nothing.
        assert await withdraw_events(session, [101]) == {}
        await session.commit()
        stored = (await session.exec(select(RuleProgress))).one()
        assert stored.state == {"count": 1}
        left = (await session.exec(select(RuleProgressContribution))).all()
        assert sorted((c.event_id, c.delta, c.withdrawn) for c in left) == [
            (101, {"count": 1}, True),
            (102, {"count": 1}, False),
        ]
