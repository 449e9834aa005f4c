"""The event type catalogue: which attributes each activity event carries.

Conditions are type-checked against this catalogue, so ``on_tme`` is caught when a
rule is saved rather than silently never matching. A rule file can declare new
types (``event_types:``) so a brand-new source needs no code change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

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


SourceKind = Literal["callback", "pull", "api", "csv", "app"]
#: How an event reaches the points system, in both languages (page, README, CLI).
SOURCE_KINDS: dict[SourceKind, tuple[str, str]] = {
    "callback": ("企业微信回调", "WeCom callback"),
    "pull": ("企业微信接口拉取", "WeCom API pull"),
    "api": ("REST API", "REST API"),
    "csv": ("CSV/JSONL 导入", "CSV/JSONL import"),
    "app": ("本应用内", "in this app"),
}


@dataclass(frozen=True)
class Origin:
    """Where events of a type come from, what WeCom permission that needs, how often.

    ``wecom`` names the WeCom callback event or API the data comes from; ``note`` says
    plainly what WeCom cannot report and how to feed it instead.
    """

    sources: tuple[SourceKind, ...] = ("api", "csv")
    wecom: str = ""
    permission_zh: str = "无需企业微信权限（由你的系统发送）"
    permission_en: str = "none (sent by your own system)"
    frequency_zh: str = "随发送到达"
    frequency_en: str = "as you send them"
    note_zh: str = ""
    note_en: str = ""


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
    origin: Origin = field(default_factory=Origin, compare=False)


def _t(
    name: str,
    title_zh: str,
    title_en: str,
    label_zh: str,
    label_en: str,
    origin: Origin | None = None,
    **attributes: AttributeType,
) -> EventType:
    return EventType(
        name, attributes, title_zh, title_en, label_zh, label_en, origin=origin or Origin()
    )


_APPROVALS_PERMISSION = (
    "管理后台「审批」→「API」把本应用加入可调用接口的应用；本应用设置接收事件服务器",
    "Admin console: Approvals → API, add this app to the apps that may call it; "
    "set this app's callback URL",
)
_APPROVALS = Origin(
    ("callback", "pull"),
    "sys_approval_change; /cgi-bin/oa/getapprovalinfo + getapprovaldetail",
    *_APPROVALS_PERMISSION,
    "回调数秒内到达；每小时拉取两次补漏",
    "seconds after the change (callback); pulled twice an hour to catch misses",
)
_CUSTOMER_PERMISSION = (
    "「客户联系」→「API」把本应用加入可调用应用并设置接收事件服务器；员工需开通客户联系",
    "Customer Contact → API: add this app to the apps that may call it and set its "
    "callback URL; employees need Customer Contact enabled",
)
_NO_DOCUMENTS = (
    "企业微信不向自建应用报告成员分享或创建的文档：文档接口只能读写本应用自己创建的文档；"
    "付费的「文档内容存档」每天汇总一次成员文档，但不说明谁在何时分享。请由你的系统用 "
    "REST API 或 CSV 导入发送。",
    "WeCom does not tell a self-built app who shares or creates documents: its document "
    "API only sees documents the app created itself; the paid document archive lists "
    "members' documents once a day without who shared them or when. Send them from your "
    "own system through the REST API or a CSV import.",
)
_MEETINGS = Origin(
    ("pull", "api", "csv"),
    "/cgi-bin/meeting/get_user_meetingid + /cgi-bin/meeting/get_info",
    "管理后台「会议」→「API」把本应用加入可调用接口的应用",
    "Admin console: Meetings → API, add this app to the apps that may call it",
    "每晚拉取已结束的会议（回看 2 天）",
    "nightly, meetings that have ended (looking 2 days back)",
    "企业微信只返回通过本应用预约的会议；在企业微信里直接发起的会议无法拉取，"
    "请用 REST API 或 CSV 导入发送。",
    "WeCom lists only meetings booked through this app; meetings started directly in "
    "WeCom cannot be pulled — send those through the REST API or a CSV import.",
)

_APPROVAL: dict[str, AttributeType] = {
    "template": "str",
    "template_id": "str",
    "sp_no": "str",
    "sp_status": "int",
    "applicant": "str",
    "approver": "str",
}
_CUSTOMER: dict[str, AttributeType] = {
    "external_userid": "str",  # WeCom's id of the customer
    "customer_id": "str",  # your CRM's id, when you send customers yourself
    "customer_name": "str",
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
            _APPROVALS,
            template="str",
            template_id="str",
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
            _APPROVALS,
            **_APPROVAL,
        ),
        _t(
            "approval.rejected",
            "审批驳回",
            "approval rejected",
            "{template} {sp_no}",
            "{template} {sp_no}",
            _APPROVALS,
            **_APPROVAL,
        ),
        _t(
            "approval.revoked",
            "撤回审批",
            "approval revoked",
            "{template} {sp_no}",
            "{template} {sp_no}",
            _APPROVALS,
            **_APPROVAL,
        ),
        _t(
            "approval.decided",
            "处理审批",
            "approval decided",
            "{template} {sp_no}",
            "{template} {sp_no}",
            _APPROVALS,
            template="str",
            template_id="str",
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
            Origin(note_zh=_NO_DOCUMENTS[0], note_en=_NO_DOCUMENTS[1]),
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
            Origin(note_zh=_NO_DOCUMENTS[0], note_en=_NO_DOCUMENTS[1]),
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
            _MEETINGS,
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
            _MEETINGS,
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
            Origin(
                ("pull",),
                "/cgi-bin/checkin/getcheckindata",
                "管理后台「打卡」→「API」把本应用加入可调用接口的应用",
                "Admin console: Check-in → API, add this app to the apps that may call it",
                "每晚拉取前一天的打卡",
                "nightly, the previous day's check-ins",
            ),
            checkin_type="str",
            on_time="bool",
            outside="bool",
            location="str",
            exception="str",
            group="str",
        ),
        _t(
            "customer.added",
            "添加客户",
            "customer added",
            "{customer_name}",
            "{customer_name}",
            Origin(
                ("callback", "api", "csv"),
                "change_external_contact (add_external_contact)",
                *_CUSTOMER_PERMISSION,
                "回调数秒内到达",
                "seconds after the customer is added (callback)",
            ),
            **_CUSTOMER,
            state="str",  # the 「联系我」 channel the customer came through
            source="str",
        ),
        _t(
            "customer.tagged",
            "客户打标签",
            "customer tagged",
            "{customer_name}",
            "{customer_name}",
            Origin(
                ("callback", "api", "csv"),
                "change_external_contact (edit_external_contact) + /cgi-bin/externalcontact/get",
                *_CUSTOMER_PERMISSION,
                "回调后数秒内查询标签",
                "seconds after the edit (callback, then the tags are looked up)",
            ),
            **_CUSTOMER,
            tag_ids="list[str]",
            tags="list[str]",
            tag_count="int",
        ),
        _t(
            "customer.contact_day",
            "客户联系日数据",
            "customer contact, daily figures",
            "{date}",
            "{date}",
            Origin(
                ("pull",),
                "/cgi-bin/externalcontact/get_user_behavior_data",
                *_CUSTOMER_PERMISSION,
                "每晚拉取前一天每人一条（有客户联系时）；企业微信保留 180 天",
                "nightly, one per person and day with customer activity; WeCom keeps 180 days",
            ),
            chat_cnt="int",
            message_cnt="int",
            new_apply_cnt="int",
            new_contact_cnt="int",
            negative_feedback_cnt="int",
            reply_percentage="float",
            avg_reply_time="int",
        ),
        _t(
            "customer_group.created",
            "创建客户群",
            "customer group created",
            "{group_name}",
            "{group_name}",
            Origin(
                ("callback", "api", "csv"),
                "change_external_chat (create) + /cgi-bin/externalcontact/groupchat/get",
                *_CUSTOMER_PERMISSION,
                "回调数秒内到达",
                "seconds after the group is created (callback)",
            ),
            chat_id="str",
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
            Origin(
                note_zh="企业微信没有供自建应用读取公告的接口，请用 REST API 或 CSV 导入发送。",
                note_en="WeCom has no API that lets a self-built app read announcements; "
                "send them through the REST API or a CSV import.",
            ),
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
            Origin(
                ("callback",),
                "enter_agent",
                "本应用设置接收事件服务器并开启「进入应用」事件",
                "this app's callback URL, with the enter-app event switched on",
                "每次打开本应用时",
                "each time someone opens this app",
            ),
            app="str",
            agent_id="str",
        ),
        _t(
            "training.completed",
            "完成培训",
            "training completed",
            "{course}",
            "{course}",
            Origin(
                note_zh="培训记录来自你的学习平台，请用 REST API 或 CSV 导入发送。",
                note_en="Training records come from your learning platform; send them "
                "through the REST API or a CSV import.",
            ),
            course_id="str",
            course="str",
            category="str",  # 入职 (onboarding) / 进阶 (advanced) / 管理员 (admin)
            score="float",
            passed="bool",
        ),
        _t(
            "feedback.submitted",
            "提交试点反馈",
            "pilot feedback submitted",
            "{week}",
            "{week}",
            Origin(
                ("app",),
                permission_zh="无需企业微信权限（试点成员在本应用首页回答）",
                permission_en="none (pilot members answer on their home page here)",
                frequency_zh="每个试点成员每周最多一次",
                frequency_en="at most once a week per pilot member",
                note_zh="试点成员在首页回答每周反馈时由本应用生成，无需接入。",
                note_en="Made by this app when a pilot member answers the weekly pulse on "
                "their home page; nothing to feed.",
            ),
            pilot_id="str",
            week="str",  # ISO week, e.g. 2026-W48
            score="int",  # 1–5
            has_comment="bool",
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
                    origin=known.origin,
                )

    def get(self, name: str) -> EventType | None:
        """The event type called ``name``, or None when it is not catalogued."""
        return self.types.get(name)

    def names(self) -> list[str]:
        """All catalogued type names, sorted."""
        return sorted(self.types)


# -- values ------------------------------------------------------------------------

_KIND_WORDS = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "list[str]": "a list of texts",
    "list[int]": "a list of whole numbers",
}


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def coerce_value(kind: AttributeType, value: Any) -> Any:
    """``value`` as an attribute of ``kind``; raises ValueError when it is not one.

    Lossless conversions only: a number where text is expected becomes its text
    (JSON senders write ids as numbers), a whole number where a number is expected
    stays as it is. ``None`` means "not known" and is always accepted.
    """
    if value is None:
        return None
    ok: bool
    if kind == "str":
        if _is_int(value) or isinstance(value, float):
            return str(value)
        ok = isinstance(value, str)
    elif kind == "int":
        ok = _is_int(value)
    elif kind == "float":
        ok = _is_int(value) or isinstance(value, float)
    elif kind == "bool":
        ok = isinstance(value, bool)
    else:
        item_ok = _is_str if kind == "list[str]" else _is_int
        ok = isinstance(value, list | tuple) and all(item_ok(v) for v in value)
        if ok:
            return list(value)
    if not ok:
        raise ValueError(f"expected {_KIND_WORDS[kind]}, got {value!r}"[:120])
    return value


def parse_text(kind: AttributeType, text: str) -> Any:
    """An attribute of ``kind`` from a CSV cell (ids keep their leading zeros)."""
    raw = text.strip()
    if kind == "str":
        return text
    if kind == "bool":
        words = {"true": True, "1": True, "是": True, "false": False, "0": False, "否": False}
        if raw.lower() in words:
            return words[raw.lower()]
        raise ValueError(f"expected true or false, got {text!r}"[:120])
    if kind in ("int", "float"):
        try:
            return int(raw) if kind == "int" else float(raw)
        except ValueError:
            raise ValueError(f"expected {_KIND_WORDS[kind]}, got {text!r}"[:120]) from None
    parts = [p.strip() for p in raw.split("|") if p.strip()]
    return parts if kind == "list[str]" else [parse_text("int", p) for p in parts]


def conform(
    event_type: str, attributes: Mapping[str, Any], *, strict: bool = False
) -> dict[str, Any]:
    """The attributes of a built-in ``event_type`` with catalogued values checked.

    Raises ValueError naming the attribute (``attributes.on_time: expected true or
    false, got 'yes'``). Attributes the catalogue does not list pass through, unless
    ``strict`` (the WeCom mappings: they may only send what the catalogue lists).
    Types outside the built-in catalogue pass through unchanged.
    """
    known = BUILTIN_EVENT_TYPES.get(event_type)
    if known is None:
        return dict(attributes)
    result: dict[str, Any] = {}
    for name, value in attributes.items():
        kind = known.attributes.get(name)
        if kind is None:
            if strict:
                raise ValueError(f"attributes.{name}: not in the catalogue for {event_type}")
            result[name] = value
            continue
        try:
            result[name] = coerce_value(kind, value)
        except ValueError as problem:
            raise ValueError(f"attributes.{name}: {problem}") from None
    return result
