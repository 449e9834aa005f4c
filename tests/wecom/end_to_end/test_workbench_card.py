"""The workbench card: set after scoring, batched, never over WeCom's 10 calls a minute
per person, retried with backoff, switchable, against the fake WeCom API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from points.boards.personal import person_figures
from points.devtools.fake_wecom import FakeWeCom
from points.jobs import InlineQueue, job_function
from points.org import service as org
from points.settings import Settings
from points.wecom.jobs import run_connector_job
from points.wecom.workbench_card import CARDS_JOB, DATA_PATH, TEMPLATE_JOB, retry_delay
from tests.support.events import event, send
from tests.support.factories import make_department, make_employee
from tests.support.services import Store
from tests.support.wecom import Clock

PREFIX = "points:workbench:*"


@pytest.fixture
async def card_settings(settings: Settings, redis_url: str) -> AsyncIterator[Settings]:
    """WeCom on with the fake, and Redis holding the cards' state (emptied first)."""
    connection = aioredis.from_url(redis_url)
    keys = [key async for key in connection.scan_iter(PREFIX)]
    if keys:
        await connection.delete(*keys)
    await connection.aclose()
    yield settings.model_copy(update={"REDIS_URL": redis_url})


@pytest.fixture
def cards(pg: Store, card_settings: Settings, fake: FakeWeCom, clock: Clock) -> InlineQueue:
    fake.workbench.clock = lambda: clock.now.timestamp()
    return InlineQueue(card_settings, pg.db, clock=clock)


async def _people(pg: Store) -> None:
    async with pg.db.session() as session:
        team = await make_department(session)
        await make_employee(session, team, userid="zhangsan", name="张三")
        await make_employee(session, team, userid="lisi", name="李四")
        await session.commit()


async def _approve(pg: Store, clock: Clock, number: int, userid: str = "zhangsan") -> None:
    store = Store(pg.settings, pg.db)
    when = clock.now.astimezone(pg.settings.zone)
    await send(
        store,
        [
            event(
                f"a:{userid}:{number}",
                "approval.submitted",
                userid,
                when,
                template="报销",
                sp_no=f"{userid}-{number}",
                on_time=True,
            )
        ],
    )


async def _earn(pg: Store, clock: Clock, number: int) -> None:
    """One of three scored activities (each rule has its own daily cap)."""
    when = clock.now.astimezone(pg.settings.zone)
    kind = number % 3
    if kind == 2:
        await _approve(pg, clock, number)
        return
    type_ = "customer.added" if kind == 0 else "customer.tagged"
    await send(
        pg,
        [
            event(
                f"c:{number}",
                type_,
                "zhangsan",
                when,
                customer_id=f"wm{number}",
                external_userid=f"wm{number}",
                customer_name="客户",
                tag_count=1,
            )
        ],
    )


async def _available(pg: Store, userid: str) -> str:
    async with pg.db.session() as session:
        employee = await org.get_employee(session, userid)
        return str((await person_figures(session, pg.settings, employee)).available)


def _shown(fake: FakeWeCom, userid: str) -> dict[str, str]:
    return {item["key"]: item["data"] for item in fake.workbench.data[userid]["items"]}


async def test_after_scoring_the_card_shows_available_week_and_rank_with_links(
    pg: Store, fake: FakeWeCom, cards: InlineQueue, clock: Clock
) -> None:
    await _people(pg)
    await _approve(pg, clock, 1)
    result = await run_connector_job(cards, CARDS_JOB)
    assert (result["sent"], result["template"], result["pending"]) == (1, "set", 0)
    template = fake.workbench.template
    assert template is not None and template["type"] == "keydata"
    assert template["replace_user_data"] is False
    assert _shown(fake, "zhangsan") == {"可用积分": "5", "本周积分": "5", "本月排名": "第 1 名"}
    links = [item["jump_url"] for item in fake.workbench.data["zhangsan"]["items"]]
    assert links == [
        "https://points.example.com/",
        "https://points.example.com/history",
        "https://points.example.com/boards",
    ]
    assert "lisi" not in fake.workbench.data  # nothing changed for them
    # Nothing new: no call at all, and the template is not set twice.
    calls = len(fake.requests)
    assert (await run_connector_job(cards, CARDS_JOB))["sent"] == 0
    assert [p for p in fake.paths_called()[calls:] if "workbench" in p] == []


async def test_many_scorings_between_runs_are_one_call(
    pg: Store, fake: FakeWeCom, cards: InlineQueue, clock: Clock
) -> None:
    await _people(pg)
    for number in range(4):
        await _approve(pg, clock, number)
    assert (await run_connector_job(cards, CARDS_JOB))["sent"] == 1
    assert len(fake.workbench.calls) == 1
    assert _shown(fake, "zhangsan")["可用积分"] == "20"


async def test_never_more_than_ten_calls_a_minute_per_person(
    pg: Store, fake: FakeWeCom, cards: InlineQueue, clock: Clock
) -> None:
    await _people(pg)
    # 25 scorings, each followed by a run, within 25 seconds.
    for number in range(25):
        await _earn(pg, clock, number)
        await run_connector_job(cards, CARDS_JOB)
        clock.advance(timedelta(seconds=1))
    assert len(fake.workbench.calls) == 10
    assert fake.workbench.refused() == 0 and fake.workbench.most_in_a_window("zhangsan") == 10
    assert _shown(fake, "zhangsan")["可用积分"] != await _available(pg, "zhangsan")
    # The person waits for a slot, then the latest figures go in one call.
    waiting = await run_connector_job(cards, CARDS_JOB)
    assert (waiting["sent"], waiting["pending"]) == (0, 1)
    clock.advance(timedelta(seconds=40))
    done = await run_connector_job(cards, CARDS_JOB)
    assert (done["sent"], done["pending"]) == (1, 0)
    assert _shown(fake, "zhangsan")["可用积分"] == await _available(pg, "zhangsan")
    assert fake.workbench.most_in_a_window("zhangsan") <= 10
    assert fake.workbench.refused() == 0


async def test_a_failed_card_is_retried_with_backoff(
    pg: Store, fake: FakeWeCom, cards: InlineQueue, clock: Clock
) -> None:
    await _people(pg)
    await _approve(pg, clock, 1)
    fake.fail_next(DATA_PATH, -1, "system busy")
    first = await run_connector_job(cards, CARDS_JOB)
    assert (first["sent"], first["failed"], first["pending"]) == (0, 1, 1)
    assert len([p for p in fake.paths_called() if p == DATA_PATH]) == 1  # no blind retry
    # Too early: nothing is called.
    clock.advance(timedelta(seconds=retry_delay(1) - 5))
    assert (await run_connector_job(cards, CARDS_JOB))["sent"] == 0
    clock.advance(timedelta(seconds=10))
    assert (await run_connector_job(cards, CARDS_JOB))["sent"] == 1
    assert [retry_delay(n) for n in (1, 2, 3, 10)] == [30, 60, 120, 1800]


async def test_wecom_errors_stop_or_skip_as_they_should(
    pg: Store, fake: FakeWeCom, cards: InlineQueue, clock: Clock
) -> None:
    await _people(pg)
    await _approve(pg, clock, 1)
    await _approve(pg, clock, 1, userid="lisi")
    fake.untrusted_ip = True  # 60020: a configuration error stops the run, nothing lost
    stopped = await run_connector_job(cards, CARDS_JOB)
    assert "60020" in stopped["stopped"] and stopped["pending"] == 2
    fake.untrusted_ip = False
    fake.rate_limit_next(path=DATA_PATH)  # WeCom's own limit: back off, end the run
    limited = await run_connector_job(cards, CARDS_JOB)
    assert "45009" in limited["stopped"] and limited["sent"] == 0
    fake.users = [u for u in fake.users if u["userid"] != "lisi"]  # not a member any more
    clock.advance(timedelta(seconds=retry_delay(1)))
    after = await run_connector_job(cards, CARDS_JOB)
    assert (after["sent"], after["dropped"], after["pending"]) == (1, 1, 0)


async def test_the_setting_turns_it_off_and_the_command_sets_the_template(
    pg: Store, fake: FakeWeCom, card_settings: Settings, clock: Clock
) -> None:
    await _people(pg)
    await _approve(pg, clock, 1)
    off = InlineQueue(card_settings.model_copy(update={"WECOM_WORKBENCH": False}), pg.db)
    assert "skipped" in await run_connector_job(off, CARDS_JOB)
    assert fake.workbench.calls == [] and fake.workbench.template is None
    on = InlineQueue(card_settings, pg.db)
    result: dict[str, Any] = await job_function(TEMPLATE_JOB)(_ctx(on))
    assert result["template"] == "set"
    assert fake.workbench.template is not None
    assert [i["key"] for i in fake.workbench.template["keydata"]["items"]] == [
        "可用积分",
        "本周积分",
        "本月排名",
    ]


def _ctx(queue: InlineQueue) -> Any:
    from points.jobs import JobContext

    return JobContext(queue.settings, queue.db, queue)
