"""Stateful property test: whatever mix of events, replays, take-backs and manual
adjustments arrives, the ledger keeps its promises after every step.

Runs on SQLite (the embedded default) for speed: each example starts from a copy
of one migrated database file.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
from collections.abc import Coroutine, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlmodel import col, func, select

from points.db import Database
from points.errors import InvalidInput
from points.events.models import ActivityEvent, EventConflict, EventStatus
from points.events.schemas import EventIn
from points.events.service import ingest
from points.jobs import InlineQueue, commit
from points.ledger.adjustments import adjust
from points.ledger.expiry import expire_points
from points.ledger.models import Account, AccountKind, LedgerTransaction, TransactionKind
from points.ledger.reconcile import reconcile
from points.ledger.service import balances
from points.migrate import upgrade
from points.settings import Settings
from tests.support.events import SHANGHAI
from tests.support.factories import make_department, make_employee
from tests.support.services import make_settings

T = TypeVar("T")
PEOPLE = ("zhangsan", "lisi", "wangwu")
KINDS = (
    "approval.submitted",
    "doc.shared",
    "checkin.recorded",
    "meeting.started",
    "customer.added",
)
START = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)
_keys = itertools.count()


def _event_for(kind: str, actor: str, minutes: int, n: int) -> EventIn:
    when = START + timedelta(minutes=minutes)
    attributes: dict[str, Any]
    if kind == "approval.submitted":
        attributes = {"template": "报销", "sp_no": f"SP{n}", "on_time": True}
    elif kind == "doc.shared":
        attributes = {"doc_id": f"doc{n % 3}"}
    elif kind == "checkin.recorded":
        attributes = {"on_time": True}
    elif kind == "meeting.started":
        attributes = {"meeting_id": f"m{n}", "attendees": 3}
    else:
        attributes = {"external_userid": f"wm{n % 4}"}
    return EventIn(
        external_id=f"{kind}:{n}", type=kind, actor=actor, occurred_at=when, attributes=attributes
    )


class LedgerMachine(RuleBasedStateMachine):
    """A tiny company receiving a random stream of activity and HR corrections."""

    sent = Bundle("sent")
    approvals = Bundle("approvals")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.mkdtemp(prefix="points-ledger-state-")
        path = Path(self.tmp) / "points.db"
        shutil.copy(TEMPLATE.path, path)
        # Points expire a month after they were earned (the optional policy, on).
        self.settings: Settings = make_settings(f"sqlite+aiosqlite:///{path}", EXPIRY_MONTHS=1)
        self.loop = asyncio.new_event_loop()
        self.db = Database(self.settings)
        self.queue = InlineQueue(self.settings, self.db)
        self.ids: dict[str, int] = {}
        self.counter = itertools.count()
        self.run(self._company())

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        try:
            self.run(self.db.dispose())
        finally:
            self.loop.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    async def _company(self) -> None:
        async with self.db.session() as session:
            department = await make_department(session, "销售部")
            for userid in PEOPLE:
                person = await make_employee(session, department, userid=userid)
                assert person.id is not None
                self.ids[userid] = person.id
            await session.commit()

    async def _send(self, events: list[EventIn]) -> list[str]:
        async with self.db.session() as session:
            results = await ingest(session, "wecom", events)
            await commit(session, self.queue)
        return [r.status for r in results]

    async def _transactions(self) -> int:
        async with self.db.session() as session:
            return int(
                (await session.exec(select(func.count()).select_from(LedgerTransaction))).one()
            )

    async def _available(self, userid: str) -> int:
        async with self.db.session() as session:
            return (await balances(session, self.ids[userid]))[AccountKind.available]

    @rule(
        target=sent,
        kind=st.sampled_from(KINDS),
        actor=st.sampled_from(PEOPLE),
        minutes=st.integers(0, 60 * 24 * 9),
    )
    def new_event(self, kind: str, actor: str, minutes: int) -> EventIn:
        event = _event_for(kind, actor, minutes, next(self.counter))
        assert self.run(self._send([event])) == ["created"]
        return event

    @rule(target=approvals, actor=st.sampled_from(PEOPLE), minutes=st.integers(0, 60 * 24 * 9))
    def new_approval(self, actor: str, minutes: int) -> EventIn:
        event = _event_for("approval.submitted", actor, minutes, next(self.counter))
        assert self.run(self._send([event])) == ["created"]
        return event

    @rule(event=st.one_of(sent, approvals))
    def replay(self, event: EventIn) -> None:
        before = self.run(self._transactions())
        assert self.run(self._send([event])) == ["duplicate"]
        assert self.run(self._transactions()) == before

    @rule(event=st.one_of(sent, approvals))
    def conflicting_replay(self, event: EventIn) -> None:
        changed = event.model_copy(update={"attributes": {**event.attributes, "note": "x"}})
        before = self.run(self._transactions())
        assert self.run(self._send([changed])) == ["conflict"]
        assert self.run(self._transactions()) == before

        async def original_kept() -> None:
            async with self.db.session() as session:
                stored = (
                    await session.exec(
                        select(ActivityEvent).where(ActivityEvent.external_id == event.external_id)
                    )
                ).one()
                assert stored.attributes == event.attributes
                assert (
                    await session.exec(
                        select(func.count()).where(EventConflict.event_id == stored.id)
                    )
                ).one() >= 1

        self.run(original_kept())

    @rule(approval=consumes(approvals), minutes=st.integers(0, 600))
    def revoke(self, approval: EventIn, minutes: int) -> None:
        revoked = EventIn(
            external_id=f"revoked:{approval.attributes['sp_no']}",
            type="approval.revoked",
            actor=approval.actor,
            occurred_at=approval.occurred_at + timedelta(minutes=minutes),
            attributes={"sp_no": approval.attributes["sp_no"]},
        )
        assert self.run(self._send([revoked])) == ["created"]

        async def taken_back() -> None:
            async with self.db.session() as session:
                earned = (
                    await session.exec(
                        select(LedgerTransaction)
                        .join(
                            ActivityEvent,
                            col(ActivityEvent.id) == col(LedgerTransaction.event_id),
                        )
                        .where(
                            ActivityEvent.external_id == approval.external_id,
                            LedgerTransaction.kind == TransactionKind.award,
                        )
                    )
                ).all()
                for award in earned:
                    back = (
                        await session.exec(
                            select(LedgerTransaction).where(
                                LedgerTransaction.reverses_id == award.id
                            )
                        )
                    ).all()
                    # Once, and never more than was earned (less if already spent).
                    assert len(back) == 1
                    assert -award.points <= back[0].points <= 0

        self.run(taken_back())

    @rule(actor=st.sampled_from(PEOPLE), points=st.integers(-40, 40).filter(bool))
    def adjustment(self, actor: str, points: int) -> None:
        available = self.run(self._available(actor))

        async def apply() -> bool:
            async with self.db.session() as session:
                written = await adjust(
                    session,
                    self.settings,
                    userid=actor,
                    points=points,
                    reason="人工调整 test",
                    author="hr",
                    request_key=f"state-{next(_keys)}",
                )
                await session.commit()
                return written

        if available + points < 0:
            with pytest.raises(InvalidInput):
                self.run(apply())
            assert self.run(self._available(actor)) == available
        else:
            assert self.run(apply()) is True
            assert self.run(self._available(actor)) == available + points

    @rule(days=st.integers(0, 75))
    def expiry(self, days: int) -> None:
        today = START.date() + timedelta(days=days)

        async def expire() -> None:
            async with self.db.session() as session:
                await expire_points(session, self.settings, today)
                await session.commit()

        self.run(expire())
        before = self.run(self._transactions())
        self.run(expire())  # the daily job run twice on one day changes nothing
        assert self.run(self._transactions()) == before

    @invariant()
    def ledger_keeps_its_promises(self) -> None:
        async def check() -> None:
            async with self.db.session() as session:
                report = await reconcile(session, self.settings.zone)
                assert report.clean, report.problems
                lowest = (
                    await session.exec(
                        select(func.min(Account.balance)).where(
                            col(Account.kind).in_([AccountKind.available, AccountKind.held])
                        )
                    )
                ).one()
                assert lowest is None or lowest >= 0
                waiting = (
                    await session.exec(
                        select(func.count()).where(ActivityEvent.status != EventStatus.scored)
                    )
                ).one()
                assert waiting == 0

        self.run(check())


class _Template:
    path: Path


TEMPLATE = _Template()


@pytest.fixture(scope="module")
def migrated_template() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="points-template-") as tmp:
        path = Path(tmp) / "template.db"
        upgrade(f"sqlite+aiosqlite:///{path}")
        yield path


@pytest.mark.slow
def test_ledger_invariants_hold_across_random_histories(migrated_template: Path) -> None:
    TEMPLATE.path = migrated_template
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=15,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
