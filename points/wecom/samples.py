"""Builders for WeCom-shaped data: approval details (API JSON) and callback messages (XML).

Used by the fake server, the tests and ``points wecom simulate``. The callback
builders mirror what WeCom sends, so a message built from an approval detail maps
to the same events as the detail itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from points.wecom.xmlmsg import build_xml

__all__ = [
    "approval_callback_message",
    "approval_detail",
    "contact_change_message",
    "date_control",
    "enter_agent_message",
    "external_chat_created_message",
    "external_contact_message",
    "vacation_control",
]


def date_control(title: str, when: int) -> dict[str, Any]:
    """A ``Date`` form control (e.g. 费用日期) holding Unix seconds ``when``."""
    return {
        "control": "Date",
        "id": f"Date-{title}",
        "title": [{"text": title, "lang": "zh_CN"}],
        "value": {"date": {"type": "day", "s_timestamp": str(when)}},
    }


def vacation_control(begin: int, end: int, kind: str = "年假") -> dict[str, Any]:
    """A ``Vacation`` form control (请假) from ``begin`` to ``end`` (Unix seconds)."""
    return {
        "control": "Vacation",
        "id": "vacation-1",
        "title": [{"text": "请假类型", "lang": "zh_CN"}],
        "value": {
            "vacation": {
                "selector": {
                    "type": "single",
                    "options": [{"key": "1", "value": [{"text": kind}]}],
                },
                "attendance": {
                    "date_range": {
                        "type": "halfday",
                        "new_begin": begin,
                        "new_end": end,
                        "new_duration": end - begin,
                    },
                    "type": 1,
                },
            }
        },
    }


def approval_detail(
    sp_no: str,
    applicant: str,
    apply_time: int,
    *,
    sp_name: str = "报销",
    template_id: str = "tmpl-expense",
    sp_status: int = 1,
    approvers: Sequence[tuple[str, int, int]] = (("lisi", 1, 0),),
    contents: Iterable[Mapping[str, Any]] = (),
    party: str = "2",
) -> dict[str, Any]:
    """An approval as ``getapprovaldetail`` returns it (the ``info`` object).

    ``approvers`` are ``(userid, step_status, sptime)`` tuples, one node each
    (step_status 1 pending, 2 approved, 3 rejected).
    """
    return {
        "sp_no": sp_no,
        "sp_name": sp_name,
        "sp_status": sp_status,
        "template_id": template_id,
        "apply_time": apply_time,
        "applyer": {"userid": applicant, "partyid": party},
        "sp_record": [
            {
                "sp_status": status,
                "approverattr": 1,
                "details": [
                    {
                        "approver": {"userid": userid},
                        "speech": "",
                        "sp_status": status,
                        "sptime": sptime,
                        "media_id": [],
                    }
                ],
            }
            for userid, status, sptime in approvers
        ],
        "notifyer": [],
        "apply_data": {"contents": [dict(c) for c in contents]},
        "comments": [],
    }


def _envelope(
    corp_id: str, sender: str, create_time: int, event: str, agent_id: str
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ToUserName": corp_id,
        "FromUserName": sender,
        "CreateTime": create_time,
        "MsgType": "event",
        "Event": event,
    }
    if agent_id:
        fields["AgentID"] = int(agent_id) if agent_id.isdigit() else agent_id
    return fields


def approval_callback_message(
    detail: Mapping[str, Any],
    *,
    status_change: int,
    create_time: int,
    corp_id: str,
    agent_id: str = "",
) -> str:
    """The ``sys_approval_change`` XML WeCom sends for ``detail`` (no form, as real).

    ``status_change`` is StatuChangeEvent: 1 submitted, 2 approved, 3 rejected,
    6 revoked, 8 revoked after approval.
    """
    records = []
    for record in detail.get("sp_record") or []:
        records.append(
            {
                "SpStatus": int(record.get("sp_status", 1)),
                "ApproverAttr": int(record.get("approverattr", 1)),
                "Details": [
                    {
                        "Approver": {"UserId": d["approver"]["userid"]},
                        "Speech": d.get("speech", ""),
                        "SpStatus": int(d.get("sp_status", 1)),
                        "SpTime": int(d.get("sptime", 0)),
                    }
                    for d in record.get("details") or []
                ],
            }
        )
    info: dict[str, Any] = {
        "SpNo": int(detail["sp_no"]) if str(detail["sp_no"]).isdigit() else detail["sp_no"],
        "SpName": detail.get("sp_name", ""),
        "SpStatus": int(detail.get("sp_status", 1)),
        "TemplateId": detail.get("template_id", ""),
        "ApplyTime": int(detail.get("apply_time", 0)),
        "Applyer": {
            "UserId": detail["applyer"]["userid"],
            "Party": str(detail["applyer"].get("partyid", "")),
        },
        "SpRecord": records,
        "StatuChangeEvent": status_change,
    }
    fields = _envelope(corp_id, "sys", create_time, "sys_approval_change", agent_id)
    fields["ApprovalInfo"] = info
    return build_xml(fields)


def enter_agent_message(userid: str, *, create_time: int, corp_id: str, agent_id: str) -> str:
    """The ``enter_agent`` XML sent when a member opens the app."""
    fields = _envelope(corp_id, userid, create_time, "enter_agent", agent_id)
    fields["EventKey"] = ""
    return build_xml(fields)


def external_contact_message(
    change_type: str,
    userid: str,
    external_userid: str,
    *,
    create_time: int,
    corp_id: str,
    state: str = "",
    tag_ids: Sequence[str] = (),
) -> str:
    """A ``change_external_contact`` XML (``add_external_contact``, ``edit_external_contact``).

    Real edit callbacks carry no tags; ``tag_ids`` adds ``TagId`` elements for demos.
    """
    fields = _envelope(corp_id, "sys", create_time, "change_external_contact", "")
    fields.update({"ChangeType": change_type, "UserID": userid, "ExternalUserID": external_userid})
    if state:
        fields["State"] = state
    if tag_ids:
        fields["TagId"] = list(tag_ids)
    return build_xml(fields)


def external_chat_created_message(
    chat_id: str, *, create_time: int, corp_id: str, owner: str = ""
) -> str:
    """A ``change_external_chat`` create XML; ``owner`` is a demo extension."""
    fields = _envelope(corp_id, "sys", create_time, "change_external_chat", "")
    fields.update({"ChatId": chat_id, "ChangeType": "create"})
    if owner:
        fields["Owner"] = owner
    return build_xml(fields)


def contact_change_message(
    change_type: str, *, create_time: int, corp_id: str, **extra: Any
) -> str:
    """A ``change_contact`` XML, e.g. ``delete_user`` with ``UserID="zhangsan"``."""
    fields = _envelope(corp_id, "sys", create_time, "change_contact", "")
    fields["ChangeType"] = change_type
    fields.update(extra)
    return build_xml(fields)


def meeting_info(
    creator: str,
    start: int,
    *,
    title: str = "周例会",
    duration: int = 1800,
    status: int = 3,
    members: Sequence[tuple[str, int, int]] = (),
    guests: Sequence[tuple[str, int, int]] = (),
) -> dict[str, Any]:
    """A ``meeting/get_info`` answer as WeCom documents it (without errcode).

    ``members``/``guests``: (userid or tmp_external_userid, first_join_time,
    cumulative_time seconds); a first join of 0 means they never joined.
    ``status``: 1 not started, 2 in progress, 3 ended, 4 cancelled, 5 expired.
    """

    def attendee(key: str, who: str, joined: int, seconds: int) -> dict[str, Any]:
        return {
            key: who,
            "status": 1 if joined else 2,
            "first_join_time": joined,
            "last_quit_time": joined + seconds if joined else 0,
            "total_join_count": 1 if joined else 0,
            "cumulative_time": seconds,
        }

    return {
        "creator_userid": creator,
        "title": title,
        "meeting_start": start,
        "meeting_duration": duration,
        "description": "",
        "location": "",
        "main_department": 1,
        "status": status,
        "meeting_type": 0,
        "attendees": {
            "member": [attendee("userid", *m) for m in members],
            "tmp_external_user": [attendee("tmp_external_userid", *g) for g in guests],
        },
        "settings": {"remind_scope": 1, "need_password": False, "allow_enter_before_host": True},
        "reminders": {"is_repeat": 0},
    }
