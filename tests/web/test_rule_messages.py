"""The validator's challenge messages read in Chinese on the editor page."""

from __future__ import annotations

from points.i18n import use_locale
from rules import validate_text
from web.rule_messages import rule_message


def test_challenge_misuse_is_said_in_chinese() -> None:
    errors = validate_text(
        "- id: q\n  title: 挑战\n  challenge:\n    window: {days: 30, starts: joind}\n"
        "    goals: []\n  points: 10\n"
    )
    with use_locale("zh_CN"):
        said = [(rule_message(e.message), rule_message(e.suggestion)) for e in errors]
    assert said == [
        (
            "`starts` 只能是 joined（入职日）、first_event（首个事件）或日期，当前为 'joind'",
            "是不是想写「joined」？",
        ),
        (
            "挑战至少需要一个目标",
            "请加上目标，例如 goals: [{when: approval.submitted, count: 1}]",
        ),
    ]
