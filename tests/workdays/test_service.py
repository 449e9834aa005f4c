"""The working-day calendar: the two import formats, storing, and what the engine gets."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from points.errors import InvalidInput
from points.workdays.service import (
    Day,
    calendar_days,
    parse_calendar,
    remove_days,
    save_days,
    with_workdays,
    work_calendar,
    years,
)
from rules import compile_ruleset
from tests.support.services import Store

DEMO = Path(__file__).resolve().parents[2] / "points" / "devtools" / "demo"


def test_csv_with_or_without_a_header_in_chinese_or_english_kinds() -> None:
    text = (
        "date,kind,name\n2026-10-01,休,国庆节\n\n# 补班\n2026-10-10,班,国庆节补班\n2026-10-02,off\n"
    )
    assert parse_calendar(text) == [
        Day(date(2026, 10, 1), "off", "国庆节"),
        Day(date(2026, 10, 10), "work", "国庆节补班"),
        Day(date(2026, 10, 2), "off", ""),
    ]


def test_every_bad_line_is_named() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_calendar("2026-10-01,休\n2026-13-01,休\n2026-10-02,放风\n2026-10-03\n")
    message = refused.value.message
    assert "第 2 行" in message and "第 3 行" in message and "第 4 行" in message
    for empty in ("", "   "):
        with pytest.raises(InvalidInput):
            parse_calendar(empty)


def test_the_holiday_cn_json_shape_and_a_bare_list() -> None:
    data = {"year": 2026, "days": [{"name": "国庆节", "date": "2026-10-01", "isOffDay": True}]}
    assert parse_calendar(json.dumps(data)) == [Day(date(2026, 10, 1), "off", "国庆节")]
    bare = [{"name": "国庆节", "date": "2026-10-10", "isOffDay": False}]
    assert parse_calendar(json.dumps(bare, ensure_ascii=False)) == [
        Day(date(2026, 10, 10), "work", "国庆节")
    ]
    for bad in ("{", '{"days": 3}', '[{"date": "2026-10-01"}]'):
        with pytest.raises(InvalidInput):
            parse_calendar(bad)


def test_the_demo_ships_2026_as_published_and_a_provisional_2027() -> None:
    y2026 = parse_calendar((DEMO / "calendar_2026.json").read_text("utf-8"))
    off = {d.day for d in y2026 if d.kind == "off"}
    work = {d.day for d in y2026 if d.kind == "work"}
    assert date(2026, 10, 1) in off and date(2026, 2, 15) in off and len(off) == 33
    assert work == {
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    }
    y2027 = json.loads((DEMO / "calendar_2027.json").read_text("utf-8"))
    assert "暂定" in y2027["note"] and "Provisional" in y2027["note"]
    assert all(d.day.year == 2027 for d in parse_calendar(json.dumps(y2027)))


async def test_days_are_stored_replaced_removed_and_handed_to_the_rules(
    pg: Store, lite: Store
) -> None:
    for store in (pg, lite):
        async with store.db.session() as session:
            await save_days(session, [Day(date(2026, 10, 1), "off", "国庆")], actor="zhaoliu")
            await save_days(
                session,
                [Day(date(2026, 10, 1), "off", "国庆节"), Day(date(2026, 10, 10), "work", "补班")],
                actor="zhaoliu",
            )
            await session.commit()
            assert [d.name for d in await calendar_days(session, 2026)] == ["国庆节", "补班"]
            assert await years(session) == [2026]
            calendar = await work_calendar(session)
            assert not calendar.is_workday(date(2026, 10, 1))
            assert calendar.is_workday(date(2026, 10, 10))
            plain = compile_ruleset("- {id: p, title: t, when: doc.shared, points: 1}")
            assert await with_workdays(session, plain) is plain
            streak = compile_ruleset(
                "- {id: s, title: t, when: checkin.recorded, points: 1, streak: {workdays: 2}}"
            )
            assert (await with_workdays(session, streak)).calendar == calendar
            await remove_days(session, [date(2026, 10, 10)], actor="zhaoliu")
            await session.commit()
            assert [d.day for d in await calendar_days(session)] == [date(2026, 10, 1)]
