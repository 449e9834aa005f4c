"""Pull connectors: fetch from the WeCom API and map to normalized events.

No database here: the jobs call these and hand the events to intake. They use the
same mapping functions as the callback route, so a pulled approval and its callbacks
share external ids and payloads, and intake stores each event once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from points.events.schemas import EventIn
from points.wecom.client import WeComClient, WeComError
from points.wecom.mapping import (
    DEFAULT_APPROVAL_POLICY,
    ApprovalPolicy,
    DetailRequest,
    checkin_events,
    customer_group_created_event,
    customer_tagged_event,
    events_from_approval_detail,
)

__all__ = [
    "PullResult",
    "pull_approvals",
    "pull_checkins",
    "resolve_detail_requests",
    "tags_followed_by",
]


@dataclass
class PullResult:
    """Events pulled, plus per-object failures that should not stop the whole run."""

    events: list[EventIn] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)


async def pull_approvals(
    client: WeComClient,
    start: datetime | int,
    end: datetime | int,
    policy: ApprovalPolicy = DEFAULT_APPROVAL_POLICY,
) -> PullResult:
    """Events for every approval applied for in ``[start, end]`` (reconciliation).

    A detail that cannot be fetched or mapped is recorded in ``failures`` by SpNo
    and skipped; errors about the connection (configuration, rate limit, outage)
    propagate. The jobs use :mod:`points.wecom.runs`, which also keeps a cursor.
    """
    result = PullResult()
    for sp_no in await client.get_approval_sp_nos(start, end):
        try:
            detail = await client.get_approval_detail(sp_no)
            result.events.extend(events_from_approval_detail(detail, policy))
        except WeComError as exc:
            if exc.stops_the_run:
                raise
            result.failures[sp_no] = f"errcode {exc.errcode}"
        except (ValueError, TypeError, AttributeError) as exc:
            # A detail of an unexpected shape: skip it, keep reconciling the rest.
            result.failures[sp_no] = f"unmappable: {type(exc).__name__}"
    return result


async def pull_checkins(
    client: WeComClient, start: datetime | int, end: datetime | int, userids: Sequence[str]
) -> list[EventIn]:
    """``checkin.recorded`` events for the users' check-ins in ``[start, end]``."""
    return checkin_events(await client.get_checkin_data(start, end, userids))


def tags_followed_by(external_contact: Mapping[str, Any], userid: str) -> list[str]:
    """Tag ids the employee ``userid`` set on a customer (``externalcontact/get``)."""
    tags: list[str] = []
    for follow in external_contact.get("follow_user") or []:
        if isinstance(follow, Mapping) and follow.get("userid") == userid:
            for tag in follow.get("tags") or []:
                tag_id = tag.get("tag_id") if isinstance(tag, Mapping) else None
                if tag_id:
                    tags.append(str(tag_id))
    return tags


async def resolve_detail_requests(
    client: WeComClient,
    requests: Iterable[DetailRequest],
    policy: ApprovalPolicy = DEFAULT_APPROVAL_POLICY,
) -> list[EventIn]:
    """Complete what callbacks could not: fetch the details and map them.

    Feed it ``CallbackOutcome.detail_requests`` from a job (never from the callback
    route: WeCom wants its answer within seconds).
    """
    events: list[EventIn] = []
    for request in requests:
        if request.kind == "approval":
            detail = await client.get_approval_detail(request.key)
            events.extend(events_from_approval_detail(detail, policy))
        elif request.kind == "external_contact" and request.occurred_at is not None:
            contact = await client.get_external_contact(request.key)
            tagged = customer_tagged_event(
                request.userid,
                request.key,
                tags_followed_by(contact, request.userid),
                request.occurred_at,
            )
            if tagged is not None:
                events.append(tagged)
        elif request.kind == "group_chat" and request.occurred_at is not None:
            chat = await client.get_group_chat(request.key)
            owner = str(chat.get("owner") or "")
            if owner:
                events.append(customer_group_created_event(request.key, owner, request.occurred_at))
    return events
