"""The event type catalogue: which attributes each activity event carries.

Conditions are type-checked against this catalogue, so ``on_tme`` is caught when a
rule is saved rather than silently never matching. A rule file can declare new
types (``event_types:``) so a brand-new source needs no code change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

AttributeType = Literal["str", "int", "float", "bool", "list[str]", "list[int]"]
ATTRIBUTE_TYPES: tuple[AttributeType, ...] = (
    "str",
    "int",
    "float",
    "bool",
    "list[str]",
    "list[int]",
)

EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
ATTRIBUTE_NAME_PATTERN = re.compile(r"^[a-z_][a-z0-9_]*$")

# Names every condition can use, whatever the event type. The local-time ones are
# computed in the ruleset's timezone so "before 9 o'clock" means Beijing time.
COMMON_NAMES: dict[str, AttributeType] = {
    "type": "str",
    "actor": "str",
    "external_id": "str",
    "departments": "list[str]",
    "hour": "int",
    "minute": "int",
    "weekday": "int",  # ISO: 1 = Monday … 7 = Sunday
    "day": "int",
    "month": "int",
    "year": "int",
    "date": "str",  # local date as YYYY-MM-DD, compares correctly as text
    "time": "str",  # local time as HH:MM
}
LOCAL_TIME_NAMES = frozenset({"hour", "minute", "weekday", "day", "month", "year", "date", "time"})


@dataclass(frozen=True)
class EventType:
    """One kind of activity event and the typed attributes it carries.

    ``label_zh``/``label_en`` are ``str.format`` templates over the attributes that
    make the human sentence of an award specific ("报销 202411240001").
    """

    name: str
    attributes: Mapping[str, AttributeType]
    title_zh: str = ""
    title_en: str = ""
    label_zh: str = ""
    label_en: str = ""
    declared_in_file: bool = field(default=False, compare=False)


def _t(
    name: str,
    title_zh: str,
    title_en: str,
    label_zh: str,
    label_en: str,
    **attributes: AttributeType,
) -> EventType:
    return EventType(name, attributes, title_zh, title_en, label_zh, label_en)


_APPROVAL: dict[str, AttributeType] = {
    "template": "str",
    "sp_no": "str",
    "applicant": "str",
    "approver": "str",
}

BUILTIN_EVENT_TYPES: dict[str, EventType] = {
    t.name: t
    for t in (
        _t(
            "approval.submitted",
            "提交审批",
            "approval submitted",
            "{template} {sp_no}",
            "{template} {sp_no}",
            template="str",
            sp_no="str",
            on_time="bool",
            amount="float",
            approver_count="int",
            has_attachment="bool",
        ),
        _t(
            "approval.approved",
            "审批通过",
            "approval approved",
            "{template} {sp_no}",
            "{template} {sp_no}",
            **_APPROVAL,
        ),
        _t(
            "approval.rejected",
            "审批驳回",
            "approval rejected",
            "{template} {sp_no}",
            "{template} {sp_no}",
            **_APPROVAL,
        ),
        _t(
            "approval.revoked",
            "撤回审批",
            "approval revoked",
            "{template} {sp_no}",
            "{template} {sp_no}",
            **_APPROVAL,
        ),
        _t(
            "approval.decided",
            "处理审批",
            "approval decided",
            "{template} {sp_no}",
            "{template} {sp_no}",
            template="str",
            sp_no="str",
            applicant="str",
            decision="str",
            turnaround_hours="float",
        ),
        _t(
            "doc.shared",
            "分享文档",
            "document shared",
            "{title}",
            "{title}",
            doc_id="str",
            doc_type="str",
            title="str",
            recipients="int",
            external="bool",
        ),
        _t(
            "doc.created",
            "创建文档",
            "document created",
            "{title}",
            "{title}",
            doc_id="str",
            doc_type="str",
            title="str",
        ),
        _t(
            "meeting.started",
            "发起会议",
            "meeting started",
            "{topic}",
            "{topic}",
            meeting_id="str",
            topic="str",
            attendees="int",
            duration_minutes="float",
            scheduled="bool",
            external="bool",
        ),
        _t(
            "meeting.attended",
            "参加会议",
            "meeting attended",
            "{topic}",
            "{topic}",
            meeting_id="str",
            topic="str",
            organizer="str",
            duration_minutes="float",
            on_time="bool",
        ),
        _t(
            "checkin.recorded",
            "打卡",
            "check-in",
            "{checkin_type}",
            "{checkin_type}",
            checkin_type="str",
            on_time="bool",
            outside="bool",
            location="str",
        ),
        _t(
            "customer.added",
            "添加客户",
            "customer added",
            "{customer_name}",
            "{customer_name}",
            customer_id="str",
            customer_name="str",
            source="str",
        ),
        _t(
            "customer.tagged",
            "客户打标签",
            "customer tagged",
            "{customer_name}",
            "{customer_name}",
            customer_id="str",
            customer_name="str",
            tags="list[str]",
            tag_count="int",
        ),
        _t(
            "customer_group.created",
            "创建客户群",
            "customer group created",
            "{group_name}",
            "{group_name}",
            group_id="str",
            group_name="str",
            member_count="int",
        ),
        _t(
            "announcement.published",
            "发布公告",
            "announcement published",
            "{title}",
            "{title}",
            announcement_id="str",
            title="str",
            scope="str",
            readers="int",
        ),
        _t(
            "app.entered",
            "进入应用",
            "app opened",
            "{app}",
            "{app}",
            app="str",
            agent_id="str",
        ),
        _t(
            "training.completed",
            "完成培训",
            "training completed",
            "{course}",
            "{course}",
            course_id="str",
            course="str",
            category="str",  # 入职 (onboarding) / 进阶 (advanced) / 管理员 (admin)
            score="float",
            passed="bool",
        ),
    )
}


class Catalogue:
    """Built-in event types plus any a rule file declares."""

    def __init__(self, declared: Mapping[str, Mapping[str, AttributeType]] | None = None) -> None:
        self.types: dict[str, EventType] = dict(BUILTIN_EVENT_TYPES)
        for name, attributes in (declared or {}).items():
            known = self.types.get(name)
            if known is None:
                self.types[name] = EventType(name, dict(attributes), declared_in_file=True)
            else:
                # A new source may add attributes to a known type; conflicts are
                # rejected by validation before we get here.
                merged = dict(known.attributes)
                merged.update(attributes)
                self.types[name] = EventType(
                    name,
                    merged,
                    known.title_zh,
                    known.title_en,
                    known.label_zh,
                    known.label_en,
                    declared_in_file=True,
                )

    def get(self, name: str) -> EventType | None:
        """The event type called ``name``, or None when it is not catalogued."""
        return self.types.get(name)

    def names(self) -> list[str]:
        """All catalogued type names, sorted."""
        return sorted(self.types)
