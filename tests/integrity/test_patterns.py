"""Each pattern flags what it is about and leaves the near miss alone, on both databases."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from points.events.schemas import EventIn
from points.integrity.patterns import burst_threshold, lower_median
from tests.support.events import event
from tests.support.integrity import (
    END,
    FARM_DAYS,
    approvals,
    at,
    days_before,
    decided,
    farmer_events,
    flags,
    patterns_of,
    people,
    scan_at,
    send_all,
    shares,
)
from tests.support.services import Store


@pytest.fixture(params=["pg", "lite"])
def store(request: pytest.FixtureRequest) -> Store:
    found: Store = request.getfixturevalue(request.param)
    return found


async def test_the_scripted_farmer_is_flagged_with_the_evidence(store: Store) -> None:
    await people(store, "farmer", "steady")
    steady = [e for day in days_before(END, 28) for e in shares("steady", day, 2, start_hour=9)]
    await send_all(store, farmer_events("farmer") + steady)

    summary = await scan_at(store)

    found = await flags(store)
    assert {u for _f, u in found} == {"farmer"}
    by_pattern = {str(f.pattern): f for f, _u in found}
    cap = by_pattern["cap_streak"]
    assert cap.subject == "doc-shared"
    assert cap.evidence["run_days"] == FARM_DAYS  # every day of the farming
    assert cap.evidence["cap"] == 30 and cap.evidence["per"] == "week"
    assert cap.since == END - timedelta(days=FARM_DAYS - 1)
    burst = by_pattern["burst"]
    assert burst.evidence["peak"] == 1000 and burst.evidence["median"] == 1
    assert len(burst.evidence["days"]) == FARM_DAYS
    assert all(f.status == "open" for f, _u in found)
    assert summary.opened == len(found)


async def test_a_cap_streak_needs_n_active_days_running_and_days_off_do_not_break_it(
    store: Store,
) -> None:
    # approval-on-time: 5 points, at most 20 a day, so 4 approvals reach the cap.
    await people(store, "capper", "almost", "checker")
    workdays = [d for d in days_before(END, 10) if d.isoweekday() <= 5]  # 6 workdays
    capper = [e for day in workdays[-5:] for e in approvals("capper", day, 5)]
    # The near miss: at the cap on four days, three approvals (not the cap) on the fifth.
    almost = [e for day in workdays[-5:-1] for e in approvals("almost", day, 4)]
    almost += approvals("almost", workdays[-1], 3)
    # One check-in a day reaches its cap (1 a day) by design: never a pattern.
    checker = [
        event(f"checkin:{d}", "checkin.recorded", "checker", at(d, 8, 50), on_time=True)
        for d in days_before(END, 28)
    ]
    await send_all(store, capper + almost + checker)

    await scan_at(store)

    found = await flags(store)
    assert patterns_of(found) == {("capper", "cap_streak", "approval-on-time")}
    flag = found[0][0]
    assert flag.evidence["run_days"] == 5
    assert flag.evidence["first_day"] == workdays[-5].isoformat()  # across the weekend


async def test_a_burst_stands_out_from_the_persons_own_usual_day(store: Store) -> None:
    # App visits: no rule caps them, so only the burst pattern can speak.
    await people(store, "busy", "busier", "quiet", "louder")
    days = days_before(END, 28)
    usual = [20, 18, 22, 19, 21, 25, 17] * 4

    def visits(userid: str, day: date, count: int) -> list[EventIn]:
        return shares(userid, day, count, kind="app.entered")

    def ordinary(userid: str) -> list[EventIn]:
        return [e for day, n in zip(days[:-1], usual, strict=False) for e in visits(userid, day, n)]

    busy = ordinary("busy") + visits("busy", days[-1], 40)  # twice the usual: a near miss
    busier = ordinary("busier") + visits("busier", days[-1], 120)
    quiet = visits("quiet", days[3], 1) + visits("quiet", days[-1], 29)  # under the minimum
    louder = visits("louder", days[3], 1) + visits("louder", days[-1], 35)
    await send_all(store, busy + busier + quiet + louder)

    await scan_at(store)

    found = await flags(store)
    assert patterns_of(found) == {
        ("busier", "burst", "app.entered"),
        ("louder", "burst", "app.entered"),
    }
    busier_flag = next(f for f, u in found if u == "busier")
    assert busier_flag.evidence["days"] == [{"day": END.isoformat(), "count": 120}]
    assert busier_flag.evidence["median"] == 20


def test_the_baseline_is_robust() -> None:
    assert lower_median([0] * 14 + [1000] * 14) == 0
    median, mad, threshold = burst_threshold([20] * 27 + [40], 30)
    assert (median, mad) == (20, 0) and threshold > 40  # √20 keeps the spread honest
    assert burst_threshold([0] * 28, 30)[2] == 30  # quiet people: the minimum decides


async def test_odd_hours_are_odd_against_the_persons_own_pattern(store: Store) -> None:
    await people(store, "owl", "almost", "nightshift")
    days = days_before(END, 28)
    base, recent = days[:21], days[21:]

    def daytime(userid: str) -> list[EventIn]:
        return [e for day in base for e in shares(userid, day, 2, start_hour=10, hours=4)]

    def nights(userid: str, count: int, hour: int = 23) -> list[EventIn]:
        return [
            event(
                f"night:{userid}:{i}",
                "doc.shared",
                userid,
                at(recent[i % 7], hour, i),
                doc_id=f"n{i}",
            )
            for i in range(count)
        ]

    owl = daytime("owl") + nights("owl", 12)
    almost = daytime("almost") + nights("almost", 9)  # under the minimum of 10
    # Works nights all along: nights are their pattern.
    nightshift = [e for day in base for e in shares("nightshift", day, 2, start_hour=23, hours=1)]
    nightshift += nights("nightshift", 20)
    await send_all(store, owl + almost + nightshift)

    await scan_at(store)

    found = await flags(store)
    assert patterns_of(found) == {("owl", "odd_hours", "")}
    flag = found[0][0]
    assert flag.evidence["events"] == 12 and flag.evidence["hours"] == [23]
    assert flag.evidence["usual_hours"] == [10, 12]


async def test_pairs_who_only_approve_each_other(store: Store) -> None:
    await people(store, "amy", "bob", "cat", "dan", "eve", "fay", "gus")
    pair = decided("amy", "bob", 6, "ab") + decided("bob", "amy", 6, "ba")
    # A near miss: cat and dan approve each other as often, but cat approves others too.
    near = decided("cat", "dan", 6, "cd") + decided("dan", "cat", 6, "dc")
    near += decided("cat", "eve", 2, "ce") + decided("cat", "fay", 2, "cf")
    # Another: only each other, but just four times each way.
    few = decided("eve", "gus", 4, "eg") + decided("gus", "eve", 4, "ge")
    await send_all(store, pair + near + few)

    await scan_at(store)

    found = await flags(store)
    assert patterns_of(found) == {("amy", "mutual_approvals", "bob")}
    assert found[0][0].evidence["given"] == 6 and found[0][0].evidence["received"] == 6
