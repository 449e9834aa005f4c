"""The rule validator's messages in the reader's language.

The message ids are the validator's own English sentences, so English pages read
exactly as the validator wrote them.

``rules/`` is a plain library and speaks English; the editor page says its messages
in the person's language by matching their fixed shapes. Anything not listed here is
shown as the validator wrote it.
"""

from __future__ import annotations

import re

from points.i18n import N_, gettext_

_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), message)
    for pattern, message in (
        (r"^unknown field `(?P<name>[^`]+)`$", N_("unknown field `{name}`")),
        (r"^unknown top-level field `(?P<name>[^`]+)`$", N_("unknown top-level field `{name}`")),
        (r"^did you mean `(?P<name>[^`]+)`\?$", N_("did you mean `{name}`?")),
        (r"^`(?P<name>[^`]+)` is missing$", N_("`{name}` is missing")),
        (r"^YAML syntax error: (?P<problem>.+)$", N_("YAML syntax error: {problem}")),
        (r"^unknown event type `(?P<name>[^`]+)`$", N_("unknown event type `{name}`")),
        (
            r"^must be at least (?P<min>\S+), got (?P<got>.+)$",
            N_("must be at least {min}, got {got}"),
        ),
        (
            r"^must be more than (?P<min>\S+), got (?P<got>.+)$",
            N_("must be more than {min}, got {got}"),
        ),
        (
            r"^expected one of (?P<options>.+), got (?P<got>.+)$",
            N_("expected one of {options}, got {got}"),
        ),
        (
            r"^duplicate rule id \(first used on line (?P<line>\d+)\)$",
            N_("duplicate rule id (first used on line {line})"),
        ),
        (r"^must not be empty$", N_("must not be empty")),
        (r"^(?P<value>.+) is not a valid id$", N_("{value} is not a valid id")),
        (r"^the file has no rules$", N_("the file has no rules")),
        (r"^expected a whole number, got (?P<got>.+)$", N_("expected a whole number, got {got}")),
        (r"^expected a number, got (?P<got>.+)$", N_("expected a number, got {got}")),
        (r"^expected text, got (?P<got>.+)$", N_("expected text, got {got}")),
        (r"^expected true or false, got (?P<got>.+)$", N_("expected true or false, got {got}")),
        (r"^expected a list, got (?P<got>.+)$", N_("expected a list, got {got}")),
        (r"^expected a mapping, got (?P<got>.+)$", N_("expected a mapping, got {got}")),
        # Working-day streaks and milestones.
        (
            r"^give exactly one of `days`, `weeks` or `workdays`$",
            N_("give exactly one of `days`, `weeks` or `workdays`"),
        ),
        (r"^keep `(?P<name>[^`]+)` and remove the rest$", N_("keep `{name}` and remove the rest")),
        (
            r"^`(?P<name>[^`]+)` does not go with `milestone`$",
            N_("`{name}` does not go with `milestone`"),
        ),
        (r"^give each level its own points$", N_("give each level its own points")),
        (r"^each level is awarded once already$", N_("each level is awarded once already")),
        (
            r"^levels must go up: `at: (?P<at>[^`]+)` comes after `at: (?P<before>[^`]+)`$",
            N_("levels must go up: `at: {at}` comes after `at: {before}`"),
        ),
        (
            r"^list the levels from the smallest `at` to the largest$",
            N_("list the levels from the smallest `at` to the largest"),
        ),
        (r"^the level at (?P<at>\S+) awards nothing$", N_("the level at {at} awards nothing")),
        (r"^give it points or a badge$", N_("give it points or a badge")),
        (
            r"^a count reaches whole numbers only, got `at: (?P<at>[^`]+)`$",
            N_("a count reaches whole numbers only, got `at: {at}`"),
        ),
        (
            r"^use a whole number, or `sum: attributes.X` to add up a number$",
            N_("use a whole number, or `sum: attributes.X` to add up a number"),
        ),
        (
            r"^`(?P<name>[^`]+)` is (?P<kind>\S+), not a number: only numbers add up$",
            N_("`{name}` is {kind}, not a number: only numbers add up"),
        ),
        (r"^count events instead$", N_("count events instead")),
        (
            r"^a milestone must say which event types it counts$",
            N_("a milestone must say which event types it counts"),
        ),
        (
            r"^`(?P<name>[^`]+)` is not an attribute of `(?P<type>[^`]+)`$",
            N_("`{name}` is not an attribute of `{type}`"),
        ),
        (r"^add e\.g\. when: (?P<example>\S+)$", N_("add e.g. when: {example}")),
        # Review before award and department challenges (rules/review.py, team_goals.py).
        (r"^a review may wait at most 90d$", N_("a review may wait at most 90d")),
        (
            r"^a campaign multiplier cannot need review$",
            N_("a campaign multiplier cannot need review"),
        ),
        (
            r"^only awards are reviewed, not deductions$",
            N_("only awards are reviewed, not deductions"),
        ),
        (
            r"^a team goal is paid when its window closes and cannot need review$",
            N_("a team goal is paid when its window closes and cannot need review"),
        ),
        (
            r"^a team goal needs positive `points` for each member$",
            N_("a team goal needs positive `points` for each member"),
        ),
        (
            r"^a team goal's `(?P<name>[^`]+)` goes under `team_goal`$",
            N_("a team goal's `{name}` goes under `team_goal`"),
        ),
        (
            r"^`(?P<name>[^`]+)` has no meaning for a team goal$",
            N_("`{name}` has no meaning for a team goal"),
        ),
        (r"^target (?P<got>.+) is not a number$", N_("target {got} is not a number")),
        (
            r"^target must be more than 0, got (?P<got>.+)$",
            N_("target must be more than 0, got {got}"),
        ),
        (
            r"^participation is a share of members: at most 1 \(100%\), got (?P<got>.+)$",
            N_("participation is a share of members: at most 1 (100%), got {got}"),
        ),
        (
            r"^a (?P<measure>\w+) target is a number, not a share, got (?P<got>.+)$",
            N_("a {measure} target is a number, not a share, got {got}"),
        ),
        (
            r"^a challenge cannot also have `(?P<name>[^`]+)`$",
            N_("a challenge cannot also have `{name}`"),
        ),
        (r"^put `when` and `if` in each goal$", N_("put `when` and `if` in each goal")),
        (
            r"^`starts` must be joined, first_event or a date, got (?P<got>.+)$",
            N_("`starts` must be joined, first_event or a date, got {got}"),
        ),
        (r"^write a date like 2026-12-01$", N_("write a date like 2026-12-01")),
        (r"^a challenge needs at least one goal$", N_("a challenge needs at least one goal")),
        (r"^a challenge needs `points`$", N_("a challenge needs `points`")),
        (
            r"^a challenge awards points, it cannot take them$",
            N_("a challenge awards points, it cannot take them"),
        ),
        (r"^declare it under event_types$", N_("declare it under event_types")),
        (r"^add goals: (?P<example>.+)$", N_("add goals: {example}")),
    )
)


def rule_message(text: str | None) -> str:
    """``text`` from the rule validator, translated when it has a known shape."""
    if not text:
        return ""
    for pattern, message in _SHAPES:
        found = pattern.match(text)
        if found:
            return gettext_(message).format(**found.groupdict())
    return text
