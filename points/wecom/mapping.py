"""Map WeCom messages (callbacks and pulled API data) to normalized events.

The same builder functions serve the callback route and the pull connectors, so a
callback, its retries and the reconciling pull job all produce the *same*
``external_id`` with the *same* payload, and intake stores the event once.

``external_id`` is keyed on the object and its state change, never on the delivery:
``approval:{SpNo}:submitted``, ``approval:{SpNo}:decided:{userid}``,
``customer:{userid}:{external_userid}:added``, ``checkin:{userid}:{time}:{kind}``, ...

Approval events are derived from the approval's *state* (every decision and the final
status seen so far), not only from the transition named in the callback: if WeCom
loses the "submitted" delivery, the next callback for that approval still yields it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from points.events.schemas import EventIn
from points.wecom.xmlmsg import as_list

__all__ = [
    "DEFAULT_APPROVAL_POLICY",
    "SHANGHAI",
    "Approval",
    "ApprovalPolicy",
    "ApprovalStep",
    "CallbackOutcome",
    "ContactChange",
    "DetailRequest",
    "FormControl",
    "OnTimeRule",
    "approval_events",
    "checkin_events",
    "customer_group_created_event",
    "customer_tagged_event",
    "events_from_approval_detail",
    "map_callback",
    "to_datetime",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")

# SpStatus of a whole approval.
SP_PENDING, SP_APPROVED, SP_REJECTED, SP_REVOKED, SP_REVOKED_AFTER_APPROVAL = 1, 2, 3, 4, 6
SP_DELETED, SP_PAID = 7, 10
# SpStatus of one approver's entry in SpRecord.Details: which of them are decisions.
_STEP_DECISIONS = {2: "approved", 3: "rejected", 11: "returned", 13: "approved"}


class _Skip(Exception):
    """Internal: the message cannot be mapped; the text says why (no secrets)."""


def to_datetime(unix_seconds: int | str, tz: ZoneInfo = SHANGHAI) -> datetime:
    """Unix seconds (int or numeric string) → tz-aware datetime (Asia/Shanghai by default)."""
    return datetime.fromtimestamp(int(unix_seconds), tz=tz)


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _required(message: Mapping[str, Any], key: str) -> str:
    value = _text(message.get(key))
    if not value:
        raise _Skip(f"missing {key}")
    return value


def _create_time(message: Mapping[str, Any]) -> datetime:
    seconds = _int(message.get("CreateTime"))
    if seconds <= 0:
        raise _Skip("missing CreateTime")
    return to_datetime(seconds)


def _event(
    external_id: str,
    type_: str,
    actor: str,
    occurred_at: datetime,
    attributes: dict[str, Any],
) -> EventIn:
    return EventIn(
        external_id=external_id,
        type=type_,
        actor=actor,
        occurred_at=occurred_at,
        attributes=attributes,
    )


# -- approvals ----------------------------------------------------------------


@dataclass(frozen=True)
class ApprovalStep:
    """One approver's entry in one node of the approval flow."""

    node: int
    approver: str
    status: int
    sp_time: int

    @property
    def decision(self) -> str | None:
        """``"approved"``/``"rejected"``/``"returned"`` once the approver acted, else None."""
        if self.sp_time <= 0:
            return None
        return _STEP_DECISIONS.get(self.status)


@dataclass(frozen=True)
class FormControl:
    """One control of the approval form (only the detail API returns the form)."""

    control: str
    titles: tuple[str, ...]
    value: Mapping[str, Any]

    def timestamp(self) -> int | None:
        """The start / date this control holds, as Unix seconds, if it holds one."""
        value = self.value
        candidates: list[Any] = [
            _dig(value, "vacation", "attendance", "date_range", "new_begin"),
            _dig(value, "attendance", "date_range", "new_begin"),
            _dig(value, "date_range", "new_begin"),
            _dig(value, "date", "s_timestamp"),
        ]
        for candidate in candidates:
            seconds = _int(candidate)
            if seconds > 0:
                return seconds
        return None


def _dig(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


@dataclass(frozen=True)
class Approval:
    """An approval in one shape, whether it came from a callback or the detail API.

    ``form`` is None when the source does not carry the form (callbacks), which is
    different from an empty form.
    """

    sp_no: str
    sp_name: str
    sp_status: int
    template_id: str
    apply_time: int
    applicant: str
    steps: tuple[ApprovalStep, ...] = ()
    form: tuple[FormControl, ...] | None = None
    status_change: int | None = None

    @classmethod
    def from_callback(cls, info: Mapping[str, Any]) -> Approval:
        """Build from the callback's ``ApprovalInfo`` element (parsed XML dict)."""
        steps: list[ApprovalStep] = []
        for node, record in enumerate(as_list(info.get("SpRecord"))):
            if not isinstance(record, Mapping):
                continue
            for detail in as_list(record.get("Details")):
                if not isinstance(detail, Mapping):
                    continue
                approver = _text(_dig(detail, "Approver", "UserId"))
                if approver:
                    steps.append(
                        ApprovalStep(
                            node=node,
                            approver=approver,
                            status=_int(detail.get("SpStatus")),
                            sp_time=_int(detail.get("SpTime")),
                        )
                    )
        change = _int(info.get("StatuChangeEvent"), default=-1)
        return cls(
            sp_no=_required(info, "SpNo"),
            sp_name=_text(info.get("SpName")),
            sp_status=_int(info.get("SpStatus")),
            template_id=_text(info.get("TemplateId")),
            apply_time=_int(info.get("ApplyTime")),
            applicant=_text(_dig(info, "Applyer", "UserId")),
            steps=tuple(steps),
            form=None,
            status_change=change if change >= 0 else None,
        )

    @classmethod
    def from_detail(cls, info: Mapping[str, Any]) -> Approval:
        """Build from ``getapprovaldetail``'s ``info`` object (JSON)."""
        steps: list[ApprovalStep] = []
        for node, record in enumerate(info.get("sp_record") or []):
            for detail in record.get("details") or []:
                approver = str(_dig(detail, "approver", "userid") or "").strip()
                if approver:
                    steps.append(
                        ApprovalStep(
                            node=node,
                            approver=approver,
                            status=_int(detail.get("sp_status")),
                            sp_time=_int(detail.get("sptime")),
                        )
                    )
        form: list[FormControl] = []
        for content in _dig(info, "apply_data", "contents") or []:
            titles = tuple(
                str(t.get("text", "")) for t in content.get("title") or [] if isinstance(t, Mapping)
            )
            form.append(
                FormControl(
                    control=str(content.get("control", "")),
                    titles=titles,
                    value=content.get("value") or {},
                )
            )
        sp_no = str(info.get("sp_no") or "").strip()
        if not sp_no:
            raise ValueError("approval detail without sp_no")
        return cls(
            sp_no=sp_no,
            sp_name=str(info.get("sp_name") or ""),
            sp_status=_int(info.get("sp_status")),
            template_id=str(info.get("template_id") or ""),
            apply_time=_int(info.get("apply_time")),
            applicant=str(_dig(info, "applyer", "userid") or "").strip(),
            steps=tuple(steps),
            form=tuple(form),
        )

    def first_decisions(self) -> list[ApprovalStep]:
        """Each approver's earliest decision (one ``approval.decided`` per approver)."""
        first: dict[str, ApprovalStep] = {}
        for step in sorted(self.steps, key=lambda s: (s.sp_time, s.node)):
            if step.decision is not None and step.approver not in first:
                first[step.approver] = step
        return list(first.values())

    def last_decision_time(self) -> int:
        """When the latest decision was made; ``apply_time`` if nobody acted yet."""
        times = [s.sp_time for s in self.steps if s.decision is not None]
        return max([self.apply_time, *times])


@dataclass(frozen=True)
class OnTimeRule:
    """When an approval of one template counts as submitted on time.

    The reference time is read from the form: the first control whose title is in
    ``titles`` (if given), else the first control of a type in ``controls``
    (``Vacation``, ``Date``, ``DateRange``, ``Attendance``). Then:
    ``min_hours_before``: submitted at least that long before the reference (leave);
    ``max_hours_after``: submitted at most that long after the reference (expenses).
    """

    controls: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()
    min_hours_before: float | None = None
    max_hours_after: float | None = None

    def reference_time(self, form: Sequence[FormControl]) -> int | None:
        """The reference Unix time found in ``form``, or None."""
        if self.titles:
            for control in form:
                if set(control.titles) & set(self.titles):
                    seconds = control.timestamp()
                    if seconds is not None:
                        return seconds
        for control in form:
            if control.control in self.controls:
                seconds = control.timestamp()
                if seconds is not None:
                    return seconds
        return None

    def is_on_time(self, apply_time: int, reference: int) -> bool:
        """Apply the thresholds to ``apply_time`` against ``reference`` (Unix seconds)."""
        hours_before = (reference - apply_time) / 3600
        if self.min_hours_before is not None and hours_before < self.min_hours_before:
            return False
        return not (self.max_hours_after is not None and -hours_before > self.max_hours_after)


@dataclass(frozen=True)
class ApprovalPolicy:
    """On-time rules keyed by template name (SpName) or template id."""

    rules: Mapping[str, OnTimeRule] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Mapping[str, Mapping[str, Any]]) -> ApprovalPolicy:
        """Build from plain data (settings, YAML), e.g.
        ``{"请假": {"controls": ["Vacation"], "min_hours_before": 24}}``.

        Raises ValueError naming the template and field for anything unknown, so a
        typo fails at startup instead of silently making every approval "unknown".
        """
        allowed = {"controls", "titles", "min_hours_before", "max_hours_after"}
        rules: dict[str, OnTimeRule] = {}
        for template, spec in config.items():
            unknown = sorted(set(spec) - allowed)
            if unknown:
                raise ValueError(
                    f"on-time rule for {template!r}: unknown field(s) {unknown}; "
                    f"use {sorted(allowed)}"
                )
            before, after = spec.get("min_hours_before"), spec.get("max_hours_after")
            if before is None and after is None:
                raise ValueError(
                    f"on-time rule for {template!r} needs min_hours_before or max_hours_after"
                )
            rules[template] = OnTimeRule(
                controls=tuple(str(c) for c in spec.get("controls") or ()),
                titles=tuple(str(t) for t in spec.get("titles") or ()),
                min_hours_before=None if before is None else float(before),
                max_hours_after=None if after is None else float(after),
            )
        return cls(rules)

    def rule_for(self, approval: Approval) -> OnTimeRule | None:
        """The rule for this approval's template, by id first, then by name."""
        return self.rules.get(approval.template_id) or self.rules.get(approval.sp_name)

    def on_time(self, approval: Approval) -> tuple[bool | None, bool]:
        """Return ``(on_time, needs_detail)``.

        ``on_time`` is None when there is no rule for the template or the reference
        date is unknown; ``needs_detail`` is True when the detail API would supply
        the missing form (the approval came from a callback).
        """
        rule = self.rule_for(approval)
        if rule is None:
            return None, False
        if approval.form is None:
            return None, True
        reference = rule.reference_time(approval.form)
        if reference is None or approval.apply_time <= 0:
            return None, False
        return rule.is_on_time(approval.apply_time, reference), False


DEFAULT_APPROVAL_POLICY = ApprovalPolicy(
    {
        # Leave must be requested at least a day ahead of its start.
        "请假": OnTimeRule(controls=("Vacation", "DateRange"), min_hours_before=24),
        # Expenses must be claimed within 30 days of the expense date.
        "报销": OnTimeRule(
            controls=("Date",),
            titles=("费用日期", "报销日期", "发生日期", "日期"),
            max_hours_after=30 * 24,
        ),
        # Business trips must be requested before they start.
        "出差": OnTimeRule(controls=("Attendance", "DateRange", "Date"), min_hours_before=0),
    }
)


@dataclass
class ApprovalEvents:
    """Events derived from one approval's state.

    ``incomplete`` holds a submitted event whose ``on_time`` is unknown only because
    the callback lacks the form; ``needs_detail`` says the detail API would complete it.
    """

    events: list[EventIn]
    incomplete: list[EventIn]
    needs_detail: bool


def approval_events(
    approval: Approval, policy: ApprovalPolicy = DEFAULT_APPROVAL_POLICY
) -> ApprovalEvents:
    """All events implied by the approval's current state.

    ``approval.submitted`` (applicant, at ApplyTime, with ``on_time``);
    ``approval.decided`` per approver who acted (at their SpTime, with
    ``turnaround_hours`` from ApplyTime); ``approval.approved``/``rejected`` when the
    final status says so (at the last decision); ``approval.revoked`` for SpStatus 4/6.
    Revocation carries no time of its own in the detail API, so it uses the last known
    time of the approval: callback and pull then agree on the payload.
    """
    if not approval.applicant:
        raise ValueError(f"approval {approval.sp_no} has no applicant")
    base = {
        "sp_no": approval.sp_no,
        "template": approval.sp_name,
        "template_id": approval.template_id,
    }
    applied_at = to_datetime(approval.apply_time)
    events: list[EventIn] = []
    incomplete: list[EventIn] = []

    on_time, needs_detail = policy.on_time(approval)
    submitted = _event(
        f"approval:{approval.sp_no}:submitted",
        "approval.submitted",
        approval.applicant,
        applied_at,
        {**base, "on_time": on_time},
    )
    (incomplete if needs_detail else events).append(submitted)

    for step in approval.first_decisions():
        events.append(
            _event(
                f"approval:{approval.sp_no}:decided:{step.approver}",
                "approval.decided",
                step.approver,
                to_datetime(step.sp_time),
                {
                    **base,
                    "applicant": approval.applicant,
                    "decision": step.decision,
                    "turnaround_hours": round(max(0, step.sp_time - approval.apply_time) / 3600, 2),
                },
            )
        )

    final: str | None = None
    if approval.sp_status in (SP_APPROVED, SP_PAID):
        final = "approved"
    elif approval.sp_status == SP_REJECTED:
        final = "rejected"
    elif approval.sp_status in (SP_REVOKED, SP_REVOKED_AFTER_APPROVAL):
        final = "revoked"
    if final is not None:
        events.append(
            _event(
                f"approval:{approval.sp_no}:{final}",
                f"approval.{final}",
                approval.applicant,
                to_datetime(approval.last_decision_time()),
                {**base, "sp_status": approval.sp_status},
            )
        )
    return ApprovalEvents(events=events, incomplete=incomplete, needs_detail=needs_detail)


def events_from_approval_detail(
    info: Mapping[str, Any], policy: ApprovalPolicy = DEFAULT_APPROVAL_POLICY
) -> list[EventIn]:
    """Events for one pulled approval (``getapprovaldetail``'s ``info``).

    Same external ids and payloads as the callbacks for that approval; the detail
    carries the form, so nothing is left incomplete.
    """
    result = approval_events(Approval.from_detail(info), policy)
    return result.events + result.incomplete


# -- check-ins ----------------------------------------------------------------

_CHECKIN_KINDS = {"上班打卡": "on_duty", "下班打卡": "off_duty", "外出打卡": "outside"}


def checkin_events(records: Iterable[Mapping[str, Any]]) -> list[EventIn]:
    """``checkin.recorded`` events for pulled check-in records (``getcheckindata``).

    Records of a missed check-in ("未打卡") are skipped: nobody checked in.
    ``on_time`` is False when WeCom flagged a time exception (late / early).
    """
    events: list[EventIn] = []
    for record in records:
        userid = str(record.get("userid") or "").strip()
        seconds = _int(record.get("checkin_time"))
        exception = str(record.get("exception_type") or "")
        if not userid or seconds <= 0 or "未打卡" in exception:
            continue
        raw_kind = str(record.get("checkin_type") or "")
        kind = _CHECKIN_KINDS.get(raw_kind, raw_kind or "unknown")
        events.append(
            _event(
                f"checkin:{userid}:{seconds}:{kind}",
                "checkin.recorded",
                userid,
                to_datetime(seconds),
                {
                    "checkin_type": kind,
                    "exception": exception,
                    "on_time": "时间异常" not in exception,
                    "group": str(record.get("groupname") or ""),
                },
            )
        )
    return events


# -- customers ----------------------------------------------------------------


def customer_tagged_event(
    userid: str, external_userid: str, tag_ids: Iterable[str], occurred_at: datetime
) -> EventIn | None:
    """``customer.tagged`` for a tag set on a customer; None when there are no tags.

    Keyed on the customer and the tag set, so a retried callback and the job that
    fetched the tags after an ``edit_external_contact`` agree.
    """
    tags = sorted({t.strip() for t in tag_ids if t and t.strip()})
    if not tags:
        return None
    digest = hashlib.sha1(",".join(tags).encode("utf-8")).hexdigest()[:12]
    return _event(
        f"customer:{userid}:{external_userid}:tagged:{digest}",
        "customer.tagged",
        userid,
        occurred_at,
        {"external_userid": external_userid, "tag_ids": tags, "tag_count": len(tags)},
    )


def customer_group_created_event(chat_id: str, owner: str, occurred_at: datetime) -> EventIn:
    """``customer_group.created`` for a customer group chat and its owner."""
    return _event(
        f"customer_group:{chat_id}:created",
        "customer_group.created",
        owner,
        occurred_at,
        {"chat_id": chat_id},
    )


# -- callbacks ----------------------------------------------------------------


@dataclass(frozen=True)
class DetailRequest:
    """Data a callback lacks that an API call can supply (done by a job, not the route).

    ``approval``: ``key`` is the SpNo → ``get_approval_detail`` then
    :func:`events_from_approval_detail`. ``external_contact``: ``key`` is the
    external userid, ``userid`` the employee → tags from ``get_external_contact`` then
    :func:`customer_tagged_event`. ``group_chat``: ``key`` is the chat id → owner from
    ``get_group_chat`` then :func:`customer_group_created_event`.
    """

    kind: Literal["approval", "external_contact", "group_chat"]
    key: str
    userid: str = ""
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class ContactChange:
    """A ``change_contact`` callback: keeps employees and departments in sync, no points.

    Since 2022 many fields arrive as ids only; fetch the rest with the contacts API.
    ``is_leaver`` marks a ``delete_user`` (starts the leaver flow).
    """

    change_type: str
    occurred_at: datetime
    userid: str | None = None
    new_userid: str | None = None
    name: str | None = None
    departments: tuple[int, ...] = ()
    party_id: int | None = None
    parent_id: int | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_user(self) -> bool:
        """True for create/update/delete_user."""
        return self.change_type.endswith("_user")

    @property
    def is_party(self) -> bool:
        """True for create/update/delete_party (departments)."""
        return self.change_type.endswith("_party")

    @property
    def is_leaver(self) -> bool:
        """True when an employee was deleted."""
        return self.change_type == "delete_user"

    @property
    def dedup_key(self) -> str:
        """Stable key for this change, equal across WeCom's retries."""
        subject = self.userid if self.is_user else str(self.party_id)
        return f"contact:{self.change_type}:{subject}:{int(self.occurred_at.timestamp())}"


@dataclass
class CallbackOutcome:
    """What one decrypted callback means.

    ``events``: store now (payloads are final and match the pull connectors).
    ``incomplete``: events withheld because a field is missing (approval ``on_time``
    for templates with an on-time rule); ``detail_requests`` says which API call
    completes them — storing the incomplete version instead would later conflict with
    the completed payload under the same external id.
    ``contact_changes``: directory sync, no points. ``ignored``: why nothing came out.
    """

    event: str
    events: list[EventIn] = field(default_factory=list)
    incomplete: list[EventIn] = field(default_factory=list)
    detail_requests: list[DetailRequest] = field(default_factory=list)
    contact_changes: list[ContactChange] = field(default_factory=list)
    ignored: str | None = None

    @property
    def needs_detail(self) -> list[str]:
        """SpNos whose detail must be fetched to complete their events."""
        return [r.key for r in self.detail_requests if r.kind == "approval"]


def _map_approval(
    message: Mapping[str, Any], outcome: CallbackOutcome, policy: ApprovalPolicy
) -> None:
    info = message.get("ApprovalInfo")
    if not isinstance(info, Mapping):
        raise _Skip("missing ApprovalInfo")
    approval = Approval.from_callback(info)
    if not approval.applicant or approval.apply_time <= 0:
        raise _Skip("approval without applicant or ApplyTime")
    result = approval_events(approval, policy)
    outcome.events.extend(result.events)
    outcome.incomplete.extend(result.incomplete)
    if result.needs_detail:
        outcome.detail_requests.append(
            DetailRequest("approval", approval.sp_no, occurred_at=_create_time(message))
        )


def _tag_ids(message: Mapping[str, Any]) -> list[str]:
    # WeCom's edit callback does not say what changed; our simulator and some relays
    # add the tag ids, which we use when present.
    tags = [_text(t) for t in as_list(message.get("TagId"))]
    tags_field = message.get("Tags")
    if isinstance(tags_field, Mapping):
        tags += [_text(t) for t in as_list(tags_field.get("TagId"))]
    return [t for t in tags if t]


def _map_external_contact(message: Mapping[str, Any], outcome: CallbackOutcome) -> None:
    change = _required(message, "ChangeType")
    userid = _required(message, "UserID")
    external = _required(message, "ExternalUserID")
    occurred_at = _create_time(message)
    if change == "add_external_contact":
        outcome.events.append(
            _event(
                f"customer:{userid}:{external}:added",
                "customer.added",
                userid,
                occurred_at,
                {"external_userid": external, "state": _text(message.get("State"))},
            )
        )
    elif change == "edit_external_contact":
        tags = _tag_ids(message)
        if tags:
            event = customer_tagged_event(userid, external, tags, occurred_at)
            if event is not None:
                outcome.events.append(event)
        else:
            outcome.detail_requests.append(
                DetailRequest("external_contact", external, userid=userid, occurred_at=occurred_at)
            )
    else:
        raise _Skip(f"external contact change {change} earns nothing")


def _map_external_chat(message: Mapping[str, Any], outcome: CallbackOutcome) -> None:
    change = _required(message, "ChangeType")
    if change != "create":
        raise _Skip(f"external chat change {change} earns nothing")
    chat_id = _required(message, "ChatId")
    occurred_at = _create_time(message)
    owner = _text(message.get("Owner"))
    if owner:
        outcome.events.append(customer_group_created_event(chat_id, owner, occurred_at))
    else:
        # The real callback names only the chat; its owner comes from groupchat/get.
        outcome.detail_requests.append(
            DetailRequest("group_chat", chat_id, occurred_at=occurred_at)
        )


def _map_enter_agent(message: Mapping[str, Any], outcome: CallbackOutcome) -> None:
    userid = _required(message, "FromUserName")
    occurred_at = _create_time(message)
    agent_id = _text(message.get("AgentID"))
    seconds = int(occurred_at.timestamp())
    outcome.events.append(
        _event(
            f"app:{agent_id}:entered:{userid}:{seconds}",
            "app.entered",
            userid,
            occurred_at,
            {"agent_id": agent_id},
        )
    )


def _optional_int(value: Any) -> int | None:
    number = _int(value, default=-1)
    return number if number >= 0 else None


def _map_contact(message: Mapping[str, Any], outcome: CallbackOutcome) -> None:
    change = _required(message, "ChangeType")
    known = {"create_user", "update_user", "delete_user", "create_party", "update_party"}
    if change not in known | {"delete_party"}:
        raise _Skip(f"contact change {change} not handled")
    departments = tuple(
        d for d in (_int(p, -1) for p in _text(message.get("Department")).split(",") if p) if d >= 0
    )
    is_user = change.endswith("_user")
    skip = {"ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "ChangeType"}
    outcome.contact_changes.append(
        ContactChange(
            change_type=change,
            occurred_at=_create_time(message),
            userid=(_text(message.get("UserID")) or None) if is_user else None,
            new_userid=_text(message.get("NewUserID")) or None,
            name=_text(message.get("Name")) or None,
            departments=departments,
            party_id=None if is_user else _optional_int(message.get("Id")),
            parent_id=_optional_int(message.get("ParentId")),
            fields={k: v for k, v in message.items() if k not in skip},
        )
    )


def map_callback(
    message: Mapping[str, Any], policy: ApprovalPolicy = DEFAULT_APPROVAL_POLICY
) -> CallbackOutcome:
    """Map one decrypted callback (from ``CallbackCrypto.open_callback``).

    Never raises for content problems: a validly signed message that cannot be
    mapped yields ``ignored`` with a short reason, because asking WeCom to retry
    would not change it.
    """
    msg_type = _text(message.get("MsgType"))
    event = _text(message.get("Event"))
    outcome = CallbackOutcome(event=event or msg_type or "unknown")
    if msg_type != "event":
        outcome.ignored = f"message type {msg_type or 'missing'} earns nothing"
        return outcome
    handlers = {
        "sys_approval_change": lambda: _map_approval(message, outcome, policy),
        "change_external_contact": lambda: _map_external_contact(message, outcome),
        "change_external_chat": lambda: _map_external_chat(message, outcome),
        "enter_agent": lambda: _map_enter_agent(message, outcome),
        "change_contact": lambda: _map_contact(message, outcome),
    }
    handler = handlers.get(event)
    if handler is None:
        outcome.ignored = f"event {event or 'missing'} not handled"
        return outcome
    try:
        handler()
    except _Skip as exc:
        outcome = CallbackOutcome(event=outcome.event, ignored=str(exc))
    except ValueError as exc:  # includes pydantic's ValidationError
        # E.g. a userid longer than EventIn allows: name the error, not the data.
        outcome = CallbackOutcome(event=outcome.event, ignored=f"unmappable: {type(exc).__name__}")
    return outcome
