"""Mapping WeCom messages and pulled data to normalized events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from points.events.schemas import EventIn
from points.wecom.crypto import CallbackCrypto
from points.wecom.mapping import (
    SHANGHAI,
    ApprovalPolicy,
    OnTimeRule,
    checkin_events,
    events_from_approval_detail,
    map_callback,
)
from points.wecom.samples import (
    approval_callback_message,
    approval_detail,
    contact_change_message,
    date_control,
    enter_agent_message,
    external_chat_created_message,
    external_contact_message,
    vacation_control,
)
from points.wecom.xmlmsg import parse_xml
from tests.support.wecom import CORP_ID, NOW

HOUR = 3600
DAY = 86400
NO_RULES = ApprovalPolicy({})


def dumped(events: list[EventIn]) -> list[dict[str, Any]]:
    return [e.model_dump(mode="json") for e in events]


def by_id(events: list[EventIn]) -> dict[str, EventIn]:
    return {e.external_id: e for e in events}


def callback(detail: dict[str, Any], status_change: int, create_time: int) -> dict[str, Any]:
    return parse_xml(
        approval_callback_message(
            detail, status_change=status_change, create_time=create_time, corp_id=CORP_ID
        )
    )


# -- the vectors -----------------------------------------------------------------------


def test_vector_approval_submitted_waits_for_the_form(
    vectors: dict[str, Any], vector_crypto: Callable[[str], CallbackCrypto]
) -> None:
    """报销 has an on-time rule but the callback has no form: ask for the detail."""
    event = vectors["events"][0]
    message = vector_crypto(event["timestamp"]).decrypt(event["encrypt"])
    outcome = map_callback(parse_xml(message))
    assert outcome.events == []
    assert outcome.needs_detail == ["202411240001"]
    [submitted] = outcome.incomplete
    assert submitted.external_id == "approval:202411240001:submitted"
    assert submitted.attributes["on_time"] is None


def test_vector_approval_submitted_without_rule(vectors: dict[str, Any]) -> None:
    message = parse_xml(vectors["events"][0]["plaintext"])
    outcome = map_callback(message, NO_RULES)
    assert outcome.needs_detail == []
    [submitted] = outcome.events
    assert submitted.type == "approval.submitted"
    assert submitted.actor == "zhangsan"
    assert submitted.occurred_at == datetime(2024, 11, 24, 14, 33, 10, tzinfo=SHANGHAI)
    assert submitted.occurred_at.utcoffset() == timedelta(hours=8)
    assert submitted.attributes == {
        "sp_no": "202411240001",
        "template": "报销",
        "template_id": "3TmALk1ogfgKiQE3e3jRwnTUhMTh8vca1CaBWPVR",
        "on_time": None,
    }


def test_vector_enter_agent(vectors: dict[str, Any]) -> None:
    outcome = map_callback(parse_xml(vectors["events"][1]["plaintext"]))
    [entered] = outcome.events
    assert entered.type == "app.entered"
    assert entered.actor == "wangwu"
    assert entered.external_id == "app:1000002:entered:wangwu:1732430100"
    assert entered.occurred_at.isoformat() == "2024-11-24T14:35:00+08:00"


def test_retried_delivery_maps_to_identical_events(crypto: CallbackCrypto) -> None:
    """A retry is a new delivery (new nonce, timestamp) of the same message."""
    detail = approval_detail(
        "1001", "zhangsan", NOW - DAY, sp_status=2, approvers=[("lisi", 2, NOW - HOUR)]
    )
    xml = approval_callback_message(detail, status_change=2, create_time=NOW, corp_id=CORP_ID)
    first = crypto.post_body(xml, timestamp=str(NOW), nonce="first")
    retry = crypto.post_body(xml, timestamp=str(NOW + 5), nonce="retry")
    outcomes = [
        map_callback(crypto.open_callback(s.msg_signature, s.timestamp, s.nonce, s.body), NO_RULES)
        for s in (first, retry)
    ]
    assert first.body != retry.body
    assert dumped(outcomes[0].events) == dumped(outcomes[1].events)
    assert {e.external_id for e in outcomes[0].events} == {
        "approval:1001:submitted",
        "approval:1001:decided:lisi",
        "approval:1001:approved",
    }


# -- approvals: lifecycle, callbacks vs pull -------------------------------------------


def test_callback_and_pull_agree_on_ids_and_payloads() -> None:
    applied = NOW - 2 * DAY
    pending = approval_detail(
        "2001", "zhangsan", applied, contents=[date_control("费用日期", applied - 3 * DAY)]
    )
    submit = map_callback(callback(pending, 1, applied))
    assert submit.needs_detail == ["2001"]

    decided_at = applied + 2 * HOUR
    approved = approval_detail(
        "2001",
        "zhangsan",
        applied,
        sp_status=2,
        approvers=[("lisi", 2, decided_at)],
        contents=[date_control("费用日期", applied - 3 * DAY)],
    )
    approve = map_callback(callback(approved, 2, decided_at))
    pulled = by_id(events_from_approval_detail(approved))

    # The pull completes the submitted event the callbacks had to withhold.
    assert [e.external_id for e in submit.incomplete] == ["approval:2001:submitted"]
    assert pulled["approval:2001:submitted"].attributes["on_time"] is True
    # Everything the callback could store equals what the pull produces.
    for event in approve.events:
        assert event.model_dump() == pulled[event.external_id].model_dump()
    decided = pulled["approval:2001:decided:lisi"]
    assert decided.actor == "lisi"
    assert decided.attributes["turnaround_hours"] == 2.0
    assert decided.attributes["decision"] == "approved"
    assert decided.occurred_at == datetime.fromtimestamp(decided_at, SHANGHAI)
    final = pulled["approval:2001:approved"]
    assert (final.type, final.actor) == ("approval.approved", "zhangsan")


def test_lost_submit_callback_is_recovered_by_the_next_one() -> None:
    detail = approval_detail(
        "2002", "wangwu", NOW - DAY, sp_name="团建", sp_status=2, approvers=[("lisi", 2, NOW)]
    )
    outcome = map_callback(callback(detail, 2, NOW))
    assert "approval:2002:submitted" in by_id(outcome.events)


def test_rejected() -> None:
    detail = approval_detail(
        "2003", "wangwu", NOW - 5 * HOUR, sp_name="团建", sp_status=3, approvers=[("lisi", 3, NOW)]
    )
    events = by_id(map_callback(callback(detail, 3, NOW)).events)
    assert events["approval:2003:rejected"].type == "approval.rejected"
    assert events["approval:2003:decided:lisi"].attributes["decision"] == "rejected"
    assert events["approval:2003:decided:lisi"].attributes["turnaround_hours"] == 5.0
    assert "approval:2003:approved" not in events


@pytest.mark.parametrize(("sp_status", "change"), [(4, 6), (6, 8)])
def test_revoked(sp_status: int, change: int) -> None:
    detail = approval_detail(
        "2004",
        "wangwu",
        NOW - DAY,
        sp_name="团建",
        sp_status=sp_status,
        approvers=[("lisi", 2 if sp_status == 6 else 1, NOW - HOUR if sp_status == 6 else 0)],
    )
    outcome = map_callback(callback(detail, change, NOW))
    events = by_id(outcome.events)
    revoked = events["approval:2004:revoked"]
    assert revoked.type == "approval.revoked"
    assert revoked.actor == "wangwu"
    assert revoked.attributes["sp_status"] == sp_status
    assert "approval:2004:approved" not in events
    # Same payload from the detail API, so reconciliation is a no-op.
    assert (
        revoked.model_dump()
        == by_id(events_from_approval_detail(detail))[revoked.external_id].model_dump()
    )


def test_multi_level_approval_one_decided_per_approver() -> None:
    applied = NOW - 10 * HOUR
    detail = approval_detail(
        "2005",
        "zhangsan",
        applied,
        sp_name="团建",
        sp_status=1,
        approvers=[
            ("lisi", 2, applied + HOUR),
            ("wangwu", 2, applied + 4 * HOUR),
            ("zhaoliu", 1, 0),
        ],
    )
    events = by_id(map_callback(callback(detail, 2, applied + 4 * HOUR)).events)
    assert events["approval:2005:decided:lisi"].attributes["turnaround_hours"] == 1.0
    assert events["approval:2005:decided:wangwu"].attributes["turnaround_hours"] == 4.0
    assert "approval:2005:decided:zhaoliu" not in events
    assert not any(e.endswith((":approved", ":rejected")) for e in events)


def test_leave_on_time_policy() -> None:
    applied = NOW
    early = approval_detail(
        "3001",
        "sunqi",
        applied,
        sp_name="请假",
        contents=[vacation_control(applied + 2 * DAY, applied + 3 * DAY)],
    )
    late = approval_detail(
        "3002",
        "sunqi",
        applied,
        sp_name="请假",
        contents=[vacation_control(applied + 12 * HOUR, applied + DAY)],
    )
    assert (
        by_id(events_from_approval_detail(early))["approval:3001:submitted"].attributes["on_time"]
        is True
    )
    assert (
        by_id(events_from_approval_detail(late))["approval:3002:submitted"].attributes["on_time"]
        is False
    )


def test_expense_on_time_policy() -> None:
    applied = NOW
    recent = approval_detail(
        "3003", "zhangsan", applied, contents=[date_control("费用日期", applied - 29 * DAY)]
    )
    stale = approval_detail(
        "3004", "zhangsan", applied, contents=[date_control("费用日期", applied - 40 * DAY)]
    )
    no_date = approval_detail("3005", "zhangsan", applied, contents=[])
    assert events_from_approval_detail(recent)[0].attributes["on_time"] is True
    assert events_from_approval_detail(stale)[0].attributes["on_time"] is False
    assert events_from_approval_detail(no_date)[0].attributes["on_time"] is None


def test_policy_by_template_id_and_custom_title() -> None:
    policy = ApprovalPolicy({"tmpl-travel": OnTimeRule(titles=("出发日期",), min_hours_before=48)})
    detail = approval_detail(
        "3006",
        "wangwu",
        NOW,
        sp_name="差旅",
        template_id="tmpl-travel",
        contents=[date_control("返回日期", NOW + 10 * DAY), date_control("出发日期", NOW + DAY)],
    )
    assert events_from_approval_detail(detail, policy)[0].attributes["on_time"] is False


def test_policy_from_config() -> None:
    policy = ApprovalPolicy.from_config(
        {"加班": {"controls": ["Attendance", "DateRange"], "min_hours_before": 2}}
    )
    assert policy.rules["加班"] == OnTimeRule(
        controls=("Attendance", "DateRange"), min_hours_before=2.0
    )
    with pytest.raises(ValueError, match="min_hours_befor"):
        ApprovalPolicy.from_config({"加班": {"min_hours_befor": 2}})
    with pytest.raises(ValueError, match="needs"):
        ApprovalPolicy.from_config({"加班": {"controls": ["Date"]}})


# -- customers, groups, app, contacts -------------------------------------------------


def test_customer_added() -> None:
    message = parse_xml(
        external_contact_message(
            "add_external_contact",
            "wangwu",
            "wmEXT001",
            create_time=NOW,
            corp_id=CORP_ID,
            state="qr-spring",
        )
    )
    [added] = map_callback(message).events
    assert added.type == "customer.added"
    assert added.actor == "wangwu"
    assert added.external_id == "customer:wangwu:wmEXT001:added"
    assert added.attributes == {"external_userid": "wmEXT001", "state": "qr-spring"}


def test_customer_tagged_with_tags_in_the_message() -> None:
    def tagged(tags: list[str], at: int) -> EventIn:
        message = parse_xml(
            external_contact_message(
                "edit_external_contact",
                "wangwu",
                "wmEXT001",
                create_time=at,
                corp_id=CORP_ID,
                tag_ids=tags,
            )
        )
        [event] = map_callback(message).events
        return event

    first = tagged(["etB", "etA"], NOW)
    assert first.type == "customer.tagged"
    assert first.attributes["tag_ids"] == ["etA", "etB"]
    # Same tag set in another order: same object and state change, same id.
    assert tagged(["etA", "etB"], NOW).external_id == first.external_id
    assert tagged(["etA"], NOW).external_id != first.external_id


def test_customer_edit_without_tags_asks_for_the_detail() -> None:
    message = parse_xml(
        external_contact_message(
            "edit_external_contact", "wangwu", "wmEXT001", create_time=NOW, corp_id=CORP_ID
        )
    )
    outcome = map_callback(message)
    assert outcome.events == []
    [request] = outcome.detail_requests
    assert (request.kind, request.key, request.userid) == ("external_contact", "wmEXT001", "wangwu")


def test_customer_deleted_earns_nothing() -> None:
    message = parse_xml(
        external_contact_message(
            "del_external_contact", "wangwu", "wmEXT001", create_time=NOW, corp_id=CORP_ID
        )
    )
    outcome = map_callback(message)
    assert outcome.events == [] and outcome.ignored


def test_customer_group_created() -> None:
    with_owner = map_callback(
        parse_xml(
            external_chat_created_message(
                "wrCHAT1", create_time=NOW, corp_id=CORP_ID, owner="zhaoliu"
            )
        )
    )
    [created] = with_owner.events
    assert (created.type, created.actor, created.external_id) == (
        "customer_group.created",
        "zhaoliu",
        "customer_group:wrCHAT1:created",
    )
    as_sent = map_callback(
        parse_xml(external_chat_created_message("wrCHAT1", create_time=NOW, corp_id=CORP_ID))
    )
    assert as_sent.events == []
    assert [(r.kind, r.key) for r in as_sent.detail_requests] == [("group_chat", "wrCHAT1")]


def test_enter_agent_retry_same_id() -> None:
    xml = enter_agent_message("zhangsan", create_time=NOW, corp_id=CORP_ID, agent_id="1000002")
    assert dumped(map_callback(parse_xml(xml)).events) == dumped(
        map_callback(parse_xml(xml)).events
    )


def test_contact_changes_earn_no_points() -> None:
    leaver = map_callback(
        parse_xml(
            contact_change_message(
                "delete_user", create_time=NOW, corp_id=CORP_ID, UserID="zhangsan"
            )
        )
    )
    assert leaver.events == []
    [change] = leaver.contact_changes
    assert change.is_leaver and change.is_user and change.userid == "zhangsan"
    assert change.occurred_at == datetime.fromtimestamp(NOW, SHANGHAI)

    update = map_callback(
        parse_xml(
            contact_change_message(
                "update_user",
                create_time=NOW,
                corp_id=CORP_ID,
                UserID="lisi",
                NewUserID="lisi2",
                Department="2,3",
                Name="李四",
            )
        )
    )
    [change] = update.contact_changes
    assert (change.new_userid, change.departments, change.name) == ("lisi2", (2, 3), "李四")
    assert not change.is_leaver

    party = map_callback(
        parse_xml(
            contact_change_message(
                "create_party",
                create_time=NOW,
                corp_id=CORP_ID,
                Id=7,
                Name="华南销售组",
                ParentId=3,
            )
        )
    )
    [change] = party.contact_changes
    assert change.is_party and (change.party_id, change.parent_id) == (7, 3)
    assert change.dedup_key == f"contact:create_party:7:{NOW}"


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"MsgType": "text", "Content": "hi"}, "message type text"),
        ({"MsgType": "event", "Event": "click"}, "event click"),
        ({"MsgType": "event", "Event": "enter_agent", "FromUserName": "a"}, "CreateTime"),
        ({"MsgType": "event", "Event": "sys_approval_change"}, "ApprovalInfo"),
        (
            {
                "MsgType": "event",
                "Event": "enter_agent",
                "FromUserName": "x" * 80,
                "CreateTime": str(NOW),
            },
            "unmappable",
        ),
    ],
)
def test_unmappable_messages_are_ignored_with_a_reason(
    message: dict[str, Any], reason: str
) -> None:
    outcome = map_callback(message)
    assert outcome.events == [] and outcome.contact_changes == []
    assert outcome.ignored is not None and reason in outcome.ignored


# -- check-ins -------------------------------------------------------------------------


def test_checkin_events() -> None:
    records = [
        {
            "userid": "zhangsan",
            "checkin_type": "上班打卡",
            "exception_type": "",
            "checkin_time": NOW,
            "groupname": "总部",
        },
        {
            "userid": "lisi",
            "checkin_type": "上班打卡",
            "exception_type": "时间异常",
            "checkin_time": NOW + 60,
            "groupname": "总部",
        },
        {
            "userid": "wangwu",
            "checkin_type": "下班打卡",
            "exception_type": "未打卡",
            "checkin_time": NOW,
            "groupname": "总部",
        },
    ]
    events = checkin_events(records)
    assert [e.external_id for e in events] == [
        f"checkin:zhangsan:{NOW}:on_duty",
        f"checkin:lisi:{NOW + 60}:on_duty",
    ]
    assert [e.attributes["on_time"] for e in events] == [True, False]
    assert all(e.type == "checkin.recorded" for e in events)
    assert dumped(checkin_events(records)) == dumped(events)
