"""The progress store's arithmetic: what an event added, and taking it out again."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from rules import ActorHistory, Outcome
from rules.progress import contribution, withdraw


def test_only_numbers_count_as_what_an_event_added() -> None:
    before = {"count": 9, "since": "2026-11-02", "goals": [1, 0], "done": False}
    after = {"count": 10, "since": "2026-11-02", "goals": [1, 1], "done": True}
    assert contribution(before, after) == {"count": 1, "goals": [None, 1]}
    assert withdraw(after, contribution(before, after)) == {**before, "done": True}


def test_a_first_state_contributes_all_its_numbers() -> None:
    assert contribution(None, {"count": 1, "sum": 2.5, "nested": {"a": 3}}) == {
        "count": 1,
        "sum": 2.5,
        "nested": {"a": 3},
    }
    assert contribution({"count": 1}, {"count": 1}) == {}


def test_history_records_copies_and_serialises_progress() -> None:
    history = ActorHistory()
    history.record(Outcome([], [], [("share", {"count": 3})]))
    assert history.progress == {"share": {"count": 3}}
    clone = history.copy()
    clone.progress["share"]["count"] = 4
    assert history.progress["share"]["count"] == 3
    assert history.to_dict()["progress"] == {"share": {"count": 3}}
    assert Outcome([], [], [("share", {"count": 3})]).changed
    assert not Outcome([], []).changed
    assert history.last_award_at == {} and datetime.now(UTC)


numbers = st.integers(-1000, 1000)
states = st.dictionaries(
    st.sampled_from(["count", "sum", "a"]),
    numbers | st.lists(numbers, max_size=4) | st.text(max_size=3),
    max_size=3,
)


@given(states, states)
def test_withdrawing_a_contribution_gives_the_numbers_back(old: dict, new: dict) -> None:  # type: ignore[type-arg]
    restored = withdraw(new, contribution(old, new))
    for key, value in old.items():
        if isinstance(value, int) and isinstance(new.get(key), int):
            assert restored[key] == value
        if isinstance(value, list) and isinstance(new.get(key), list):
            shared = min(len(value), len(new[key]))
            assert restored[key][:shared] == value[:shared]
