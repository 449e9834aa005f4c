"""Map WeCom messages (callbacks and pulled API data) to normalized events.

The same builder functions serve the callback route and the pull connectors, so a
callback, its retries and the reconciling pull job all produce the *same*
``external_id`` with the *same* payload, and intake stores the event once.

``external_id`` is keyed on the object and its state change, never on the delivery:
``approval:{SpNo}:submitted``, ``customer:{userid}:{external_userid}:added``,
``checkin:{userid}:{time}:{kind}``, ... Approvals live in :mod:`points.wecom.approvals`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from typing import Any, Literal

from points.events.schemas import EventIn
from points.wecom.approvals import (
    DEFAULT_APPROVAL_POLICY,
    Approval,
    ApprovalPolicy,
    ApprovalStep,
    FormControl,
    OnTimeRule,
    approval_events,
    events_from_approval_detail,
)
from points.wecom.fields import (
    SHANGHAI,
    Rejected,
    Skip,
    Sorted,
    as_int,
    as_text,
    create_time,
    make_event,
    required,
    to_datetime,
)
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
    "behavior_events",
    "checkin_events",
    "customer_group_created_event",
    "customer_tagged_event",
    "events_from_approval_detail",
    "map_callback",
    "sort_checkins",
    "to_datetime",
]


# -- check-ins ----------------------------------------------------------------

_CHECKIN_KINDS = {"上班打卡": "on_duty", "下班打卡": "off_duty", "外出打卡": "outside"}


def checkin_events(records: Iterable[Any]) -> list[EventIn]:
    """``checkin.recorded`` events for pulled check-in records (``getcheckindata``).

    Records of a missed check-in ("未打卡") are skipped: nobody checked in.
    ``on_time`` is False when WeCom flagged a time exception (late / early).
    Malformed records are left out (see :func:`sort_checkins` to keep them).
    """
    return sort_checkins(records).events


def sort_checkins(records: Iterable[Any], *, earliest: int = 1) -> Sorted:
    """Check-in records → events, and the malformed ones with the reason.

    A record that is not an object, has no userid, or a time ≤ 0 or before
    ``earliest`` (Unix seconds) is refused on its own; the rest still count.
    """
    result = Sorted()
    for record in records:
        if not isinstance(record, Mapping):
            result.rejected.append(Rejected(record, "not an object"))
            continue
        exception = str(record.get("exception_type") or "")
        if "未打卡" in exception:
            continue
        userid = as_text(record.get("userid"))
        seconds = as_int(record.get("checkin_time"))
        if not userid:
            result.rejected.append(Rejected(record, "missing userid"))
            continue
        if seconds <= 0 or seconds < earliest:
            result.rejected.append(Rejected(record, "impossible checkin_time"))
            continue
        raw_kind = str(record.get("checkin_type") or "")
        kind = _CHECKIN_KINDS.get(raw_kind, raw_kind or "unknown")
        try:
            event = make_event(
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
        except (ValueError, OverflowError, OSError) as exc:  # pydantic's errors included
            result.rejected.append(Rejected(record, f"unmappable: {type(exc).__name__}"))
            continue
        result.events.append(event)
    return result


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
    return make_event(
        f"customer:{userid}:{external_userid}:tagged:{digest}",
        "customer.tagged",
        userid,
        occurred_at,
        {"external_userid": external_userid, "tag_ids": tags, "tag_count": len(tags)},
    )


def customer_group_created_event(chat_id: str, owner: str, occurred_at: datetime) -> EventIn:
    """``customer_group.created`` for a customer group chat and its owner."""
    return make_event(
        f"customer_group:{chat_id}:created",
        "customer_group.created",
        owner,
        occurred_at,
        {"chat_id": chat_id},
    )


def behavior_events(rows: Iterable[Mapping[str, Any]], items: Any, zone: tzinfo) -> list[EventIn]:
    """``customer.contact_day`` for each stored behaviour day with customer activity.

    ``rows`` are the ``wecom_behavior_day`` rows (counts cleaned), ``items`` WeCom's
    ``behavior_data`` for the same person (for the reply figures). The event is dated
    at noon of the day it describes (WeCom's figures carry no time of day) and keyed
    ``customer_day:{userid}:{day}``, so a re-pull of the day is a duplicate.
    """
    replies: dict[int, Mapping[str, Any]] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping):
            replies[as_int(item.get("stat_time"))] = item
    events: list[EventIn] = []
    for row in rows:
        counts = {key: int(row[key]) for key in _BEHAVIOR_COUNTS}
        if not any(counts[key] for key in _BEHAVIOR_ACTIVE):
            continue
        day: date = row["day"]
        noon = datetime.combine(day, time(12), zone)
        extra: dict[str, Any] = {}
        item = replies.get(int(datetime.combine(day, time(0), zone).timestamp()), {})
        if isinstance(item.get("reply_percentage"), int | float):
            extra["reply_percentage"] = float(item["reply_percentage"])
        if as_int(item.get("avg_reply_time"), -1) >= 0:
            extra["avg_reply_time"] = as_int(item.get("avg_reply_time"))
        events.append(
            make_event(
                f"customer_day:{row['userid']}:{day.isoformat()}",
                "customer.contact_day",
                str(row["userid"]),
                noon,
                {**counts, **extra},
            )
        )
    return events


_BEHAVIOR_COUNTS = (
    "chat_cnt",
    "message_cnt",
    "new_apply_cnt",
    "new_contact_cnt",
    "negative_feedback_cnt",
)
_BEHAVIOR_ACTIVE = ("chat_cnt", "message_cnt", "new_apply_cnt", "new_contact_cnt")


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
        raise Skip("missing ApprovalInfo")
    approval = Approval.from_callback(info)
    if not approval.applicant or approval.apply_time <= 0:
        raise Skip("approval without applicant or ApplyTime")
    result = approval_events(approval, policy)
    outcome.events.extend(result.events)
    outcome.incomplete.extend(result.incomplete)
    if result.needs_detail:
        outcome.detail_requests.append(
            DetailRequest("approval", approval.sp_no, occurred_at=create_time(message))
        )


def _tag_ids(message: Mapping[str, Any]) -> list[str]:
    # WeCom's edit callback does not say what changed; our simulator and some relays
    # add the tag ids, which we use when present.
    tags = [as_text(t) for t in as_list(message.get("TagId"))]
    tags_field = message.get("Tags")
    if isinstance(tags_field, Mapping):
        tags += [as_text(t) for t in as_list(tags_field.get("TagId"))]
    return [t for t in tags if t]


def _map_external_contact(message: Mapping[str, Any], outcome: CallbackOutcome) -> None:
    change = required(message, "ChangeType")
    userid = required(message, "UserID")
    external = required(message, "ExternalUserID")
    occurred_at = create_time(message)
    if change == "add_external_contact":
        outcome.events.append(
            make_event(
                f"customer:{userid}:{external}:added",
                "customer.added",
                userid,
                occurred_at,
                {"external_userid": external, "state": as_text(message.get("State"))},
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
        raise Skip(f"external contact change {change} earns nothing")


def _map_external_chat(message: Mapping[str, Any], outcome: CallbackOutcome) -> None:
    change = required(message, "ChangeType")
    if change != "create":
        raise Skip(f"external chat change {change} earns nothing")
    chat_id = required(message, "ChatId")
    occurred_at = create_time(message)
    owner = as_text(message.get("Owner"))
    if owner:
        outcome.events.append(customer_group_created_event(chat_id, owner, occurred_at))
    else:
        # The real callback names only the chat; its owner comes from groupchat/get.
        outcome.detail_requests.append(
            DetailRequest("group_chat", chat_id, occurred_at=occurred_at)
        )


def _map_enter_agent(message: Mapping[str, Any], outcome: CallbackOutcome) -> None:
    userid = required(message, "FromUserName")
    occurred_at = create_time(message)
    agent_id = as_text(message.get("AgentID"))
    seconds = int(occurred_at.timestamp())
    outcome.events.append(
        make_event(
            f"app:{agent_id}:entered:{userid}:{seconds}",
            "app.entered",
            userid,
            occurred_at,
            {"agent_id": agent_id},
        )
    )


def _optional_int(value: Any) -> int | None:
    number = as_int(value, default=-1)
    return number if number >= 0 else None


def _map_contact(message: Mapping[str, Any], outcome: CallbackOutcome) -> None:
    change = required(message, "ChangeType")
    known = {"create_user", "update_user", "delete_user", "create_party", "update_party"}
    if change not in known | {"delete_party"}:
        raise Skip(f"contact change {change} not handled")
    departments = tuple(
        d
        for d in (as_int(p, -1) for p in as_text(message.get("Department")).split(",") if p)
        if d >= 0
    )
    is_user = change.endswith("_user")
    skip = {"ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "ChangeType"}
    outcome.contact_changes.append(
        ContactChange(
            change_type=change,
            occurred_at=create_time(message),
            userid=(as_text(message.get("UserID")) or None) if is_user else None,
            new_userid=as_text(message.get("NewUserID")) or None,
            name=as_text(message.get("Name")) or None,
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
    msg_type = as_text(message.get("MsgType"))
    event = as_text(message.get("Event"))
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
    except Skip as exc:
        outcome = CallbackOutcome(event=outcome.event, ignored=str(exc))
    except ValueError as exc:  # includes pydantic's ValidationError
        # E.g. a userid longer than EventIn allows: name the error, not the data.
        outcome = CallbackOutcome(event=outcome.event, ignored=f"unmappable: {type(exc).__name__}")
    return outcome
