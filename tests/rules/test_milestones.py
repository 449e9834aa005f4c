"""`milestone`: levels of a running count (or sum), each awarded once."""

from __future__ import annotations

from datetime import timedelta

from rules import ActorHistory, InMemoryHistory, compile_ruleset, score_and_record, validate_text
from rules.milestones import ordinal_en
from tests.rules.helpers import T0, make_event, run

SHARING = """
- id: doc-milestones
  title: 分享文档
  title_en: shared document
  when: doc.shared
  milestone:
    levels:
      - {at: 10, points: 10, badge: 分享达人·铜}
      - {at: 50, points: 30, badge: 分享达人·银}
      - {at: 100, points: 50, badge: 分享达人·金}
"""

MINUTES = """
- id: meeting-hours
  title: 会议时长
  title_en: Meeting minutes
  when: meeting.attended
  milestone:
    sum: attributes.duration_minutes
    levels:
      - {at: 600, points: 20, tier: 十小时, tier_en: ten hours}
      - {at: 1200, points: 40, badge: 会议达人}
"""


def shares(n: int, actor: str = "zhangsan") -> list:  # type: ignore[type-arg]
    return [
        make_event(
            "doc.shared",
            actor=actor,
            occurred_at=T0 + timedelta(minutes=i),
            external_id=f"doc:{actor}:{i}",
            doc_id=f"d{i}",
        )
        for i in range(n)
    ]


def test_the_10th_and_50th_shares_earn_their_levels_once_each() -> None:
    rules = compile_ruleset(SHARING, version=1)
    events = shares(60)
    awards = run(rules, events)
    assert [(a.event_id, a.points, a.badge, a.once_value, a.kind) for a in awards] == [
        ("doc:zhangsan:9", 10, "分享达人·铜", "10", "milestone"),
        ("doc:zhangsan:49", 30, "分享达人·银", "50", "milestone"),
    ]
    assert awards[1].reason_zh == "第 50 次分享文档 · 银牌"
    assert awards[1].reason_en == "50th shared document · silver"


def test_a_replay_of_the_same_events_earns_nothing_more() -> None:
    rules = compile_ruleset(SHARING, version=1)
    history = InMemoryHistory()
    events = shares(55)
    first = [a for e in events for a in score_and_record(rules, e, history)]
    assert len(first) == 2
    # The count goes on, but every level already awarded stays awarded once.
    history.of("zhangsan").progress["doc-milestones"] = {"total": 0}
    again = [a for e in events for a in score_and_record(rules, e, history)]
    assert again == []


def test_levels_follow_the_running_total() -> None:
    rules = compile_ruleset(SHARING, version=1)
    past = ActorHistory()
    past.progress["doc-milestones"] = {"total": 9}
    [award] = score_and_record(rules, shares(1)[0], _single(past))
    assert award.once_value == "10"
    assert past.progress["doc-milestones"] == {"total": 10}


def _single(past: ActorHistory) -> InMemoryHistory:
    history = InMemoryHistory()
    history.actors["zhangsan"] = past
    return history


def test_a_sum_milestone_adds_up_an_attribute_and_names_its_tier() -> None:
    rules = compile_ruleset(MINUTES, version=1)
    events = [
        make_event("meeting.attended", occurred_at=T0 + timedelta(hours=i), duration_minutes=m)
        for i, m in enumerate([300, 299.5, 0.5, "90", None, 700])
    ]
    awards = run(rules, events)
    assert [(a.points, a.once_value) for a in awards] == [(20, "600"), (40, "1200")]
    assert awards[0].reason_zh == "会议时长累计达到 600 · 十小时"
    assert awards[0].reason_en == "Meeting minutes: 600 in total · ten hours"
    assert awards[1].reason_en.endswith("· silver")


def test_one_event_can_reach_two_levels() -> None:
    rules = compile_ruleset(MINUTES, version=1)
    awards = run(rules, [make_event("meeting.attended", duration_minutes=1500)])
    assert [a.once_value for a in awards] == ["600", "1200"]


def test_a_level_is_kept_while_the_total_stays_at_or_above_it() -> None:
    rule = compile_ruleset(SHARING, version=1).get("doc-milestones")
    assert rule is not None and rule.keeps is not None
    assert rule.keeps({"total": 10}, "10")
    assert not rule.keeps({"total": 9}, "10")
    assert rule.keeps({"total": 60}, "50")


def test_english_ordinals() -> None:
    assert [ordinal_en(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "22nd",
        "101st",
        "111th",
    ]


# ------------------------------------------------------------------ validation


def errors_of(text: str) -> list[str]:
    return [str(e) for e in validate_text(text)]


def test_the_validator_accepts_milestones() -> None:
    assert validate_text(SHARING) == []
    assert validate_text(MINUTES) == []


def test_levels_must_go_up() -> None:
    text = SHARING.replace("{at: 50,", "{at: 5,")
    [line] = errors_of(text)
    assert line == (
        "line 9: rule `doc-milestones`, field `milestone.levels[1].at`: levels must go up:"
        " `at: 5` comes after `at: 10` — list the levels from the smallest `at` to the largest"
    )


def test_a_misspelt_level_field_gets_a_suggestion() -> None:
    [line] = errors_of(SHARING.replace("{at: 10, points: 10,", "{at: 10, pionts: 10,"))
    assert line.startswith("line 8: rule `doc-milestones`, field `milestone.levels[0]`")
    assert line.endswith("unknown field `pionts` — did you mean `points`?")
    [line] = errors_of(SHARING.replace("    levels:", "    levles:"))
    assert "unknown field `levles` — did you mean `levels`?" in line


def test_sum_must_name_a_number_attribute() -> None:
    [line] = errors_of(MINUTES.replace("duration_minutes", "topic"))
    assert line == (
        "line 7: rule `meeting-hours`, field `milestone.sum`: `attributes.topic` is str,"
        " not a number: only numbers add up — did you mean `attributes.duration_minutes`?"
    )
    [line] = errors_of(MINUTES.replace("duration_minutes", "duration_minute"))
    assert line.endswith("did you mean `attributes.duration_minutes`?")


def test_milestones_refuse_what_does_not_go_with_them() -> None:
    lines = errors_of(
        SHARING.replace(
            "  when: doc.shared\n", "  when: doc.shared\n  points: 5\n  cap: {per: day, max: 5}\n"
        )
    )
    assert any(
        "`points` does not go with `milestone` — give each level its own points" in x for x in lines
    )
    assert any("line 7:" in x and "`cap` does not go with `milestone`" in x for x in lines)


def test_a_level_must_award_something_and_counts_are_whole() -> None:
    text = SHARING.replace("{at: 10, points: 10, badge: 分享达人·铜}", "{at: 10.5}")
    lines = errors_of(text)
    assert any("the level at 10.5 awards nothing — give it points or a badge" in x for x in lines)
    assert any("a count reaches whole numbers only" in x for x in lines)
    assert any("must be more than 0" in x for x in errors_of(SHARING.replace("at: 10,", "at: 0,")))
