"""Meetings from WeCom's meeting API: who organised and who attended, as scored events.

WeCom lists, per member, the meetings **booked through this app** only
(``/cgi-bin/meeting/get_user_meetingid``: "只能拉取该应用创建的会议ID"); meetings
started directly in WeCom are not visible to a self-built app and come in through the
REST API or a CSV. The app must be in *会议 → API → 可调用接口的应用*, otherwise WeCom
answers 48002 (the connector stops and says so on the admin page).

A meeting becomes events once it has **ended** (``status`` 3), so its figures no longer
change and a re-pull gives the same payload: ``meeting:{id}:started`` for the organiser
and ``meeting:{id}:attended:{userid}`` for every other member who joined. Cancelled,
expired or never-joined meetings give nothing. Each run looks 2 days behind the stored
window again, so a meeting still running at the last pull is picked up next time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from points.calendar import day_start
from points.events.schemas import EventIn
from points.jobs import JobContext
from points.wecom.client import WeComClient
from points.wecom.connectors import SAFETY_MARGIN
from points.wecom.errors import RepeatedCursor, WeComError
from points.wecom.fields import Rejected, as_int, as_text, dig, make_event, to_datetime
from points.wecom.models import ConnectorState
from points.wecom.runs import DAY_CHUNK, SECOND, Tally, active_userids, store_chunk

LIST_PATH = "/cgi-bin/meeting/get_user_meetingid"
INFO_PATH = "/cgi-bin/meeting/get_info"
#: WeCom's meeting status: 1 not started, 2 in progress, 3 ended, 4 cancelled, 5 expired.
ENDED = 3
#: Meetings are re-read this far behind the stored window (a long meeting ends later).
LOOKBACK = timedelta(days=2)
#: Joining within this long after the start counts as on time.
ON_TIME_SLACK = 300
PAGE_SIZE = 100


async def meeting_page(
    client: WeComClient, userid: str, lo: int, hi: int, cursor: str = ""
) -> tuple[list[str], str]:
    """One page of the member's meeting ids in ``[lo, hi]`` and the next cursor ("" at the end)."""
    data = await client.call(
        "POST",
        LIST_PATH,
        json={
            "userid": userid,
            "cursor": cursor or "0",
            "begin_time": lo,
            "end_time": hi,
            "limit": PAGE_SIZE,
        },
    )
    ids = [str(i) for i in data.get("meetingid_list") or [] if i]
    return ids, str(data.get("next_cursor") or "")


async def meeting_ids(client: WeComClient, userid: str, lo: int, hi: int) -> list[str]:
    """Every meeting id of the member in ``[lo, hi]`` (≤180 days), following the cursor."""
    found: dict[str, None] = {}
    cursor = ""
    used: set[str] = set()
    while True:
        ids, following = await meeting_page(client, userid, lo, hi, cursor)
        found.update(dict.fromkeys(ids))
        if not following:
            return list(found)
        if following in used or following == cursor:
            raise RepeatedCursor(LIST_PATH)
        used.add(following)
        cursor = following


async def meeting_info(client: WeComClient, meeting_id: str) -> dict[str, Any]:
    """The meeting (``get_info``): organiser, title, start, duration, status, attendees."""
    data = await client.call("POST", INFO_PATH, json={"meetingid": meeting_id})
    return {**data, "meetingid": meeting_id}


def _joined(person: Any) -> bool:
    if not isinstance(person, Mapping):
        return False
    return as_int(person.get("first_join_time")) > 0 or as_int(person.get("cumulative_time")) > 0


def meeting_events(meeting_id: str, info: Mapping[str, Any]) -> list[EventIn]:
    """Events of one ended meeting; [] while it has not ended or when nobody joined.

    Raises ValueError for a meeting without organiser or start time.
    """
    if as_int(info.get("status")) != ENDED:
        return []
    organizer = as_text(info.get("creator_userid")) or as_text(info.get("admin_userid"))
    if not organizer:
        raise ValueError("missing creator_userid")
    start = as_int(info.get("meeting_start"))
    if start <= 0:
        raise ValueError("impossible meeting_start")
    members = [m for m in dig(info, "attendees", "member") or [] if _joined(m)]
    guests = [g for g in dig(info, "attendees", "tmp_external_user") or [] if _joined(g)]
    if not members and not guests:
        return []
    topic = as_text(info.get("title"))
    events = [
        make_event(
            f"meeting:{meeting_id}:started",
            "meeting.started",
            organizer,
            to_datetime(start),
            {
                "meeting_id": meeting_id,
                "topic": topic,
                "attendees": len(members) + len(guests),
                "duration_minutes": round(as_int(info.get("meeting_duration")) / 60, 1),
                "scheduled": True,  # listed meetings were booked through the app
                "external": bool(guests),
            },
        )
    ]
    for member in members:
        userid = as_text(member.get("userid"))
        if not userid or userid == organizer:
            continue
        joined = as_int(member.get("first_join_time")) or start
        events.append(
            make_event(
                f"meeting:{meeting_id}:attended:{userid}",
                "meeting.attended",
                userid,
                to_datetime(joined),
                {
                    "meeting_id": meeting_id,
                    "topic": topic,
                    "organizer": organizer,
                    "duration_minutes": round(as_int(member.get("cumulative_time")) / 60, 1),
                    "on_time": joined <= start + ON_TIME_SLACK,
                },
            )
        )
    return events


async def _user_meetings(
    client: WeComClient, userid: str, lo: int, hi: int, seen: set[str]
) -> tuple[list[EventIn], list[Rejected]]:
    events: list[EventIn] = []
    rejected: list[Rejected] = []
    for meeting_id in await meeting_ids(client, userid, lo, hi):
        if meeting_id in seen:
            continue  # organiser and attendees list the same meeting
        seen.add(meeting_id)
        try:
            info = await meeting_info(client, meeting_id)
        except WeComError as exc:
            if exc.stops_the_run:
                raise
            raw = {"meetingid": meeting_id, "errcode": exc.errcode, "errmsg": exc.errmsg}
            rejected.append(Rejected(raw, f"errcode {exc.errcode}"))
            continue
        try:
            events.extend(meeting_events(meeting_id, info))
        except ValueError as exc:
            rejected.append(Rejected(info, str(exc)))
    return events, rejected


def _chunks(ctx: JobContext, state: ConnectorState, now: datetime) -> list[tuple[int, int]]:
    end = now - SAFETY_MARGIN["meetings"]
    start = (state.window_end or end) - LOOKBACK
    start = max(start, day_start(ctx.settings.WECOM_EARLIEST_DATE, ctx.settings.zone))
    chunks: list[tuple[int, int]] = []
    while start < end:
        hi = min(end, start + DAY_CHUNK)
        chunks.append((int(start.timestamp()), int(hi.timestamp())))
        start = hi + SECOND
    return chunks


async def pull_meetings(
    ctx: JobContext, client: WeComClient, state: ConnectorState, now: datetime
) -> dict[str, Any] | None:
    """Ended meetings of every active member since the stored window (minus 2 days)."""
    name = "meetings"
    position = dict(state.position or {})
    chunks = _chunks(ctx, state, now)
    if "lo" in position:
        stopped = (int(position["lo"]), int(position["hi"]))
        chunks = [stopped, *(c for c in chunks if c[0] > stopped[1])]
    userids = await active_userids(ctx)
    if not chunks or not userids:
        return None
    next_user = str(position.get("next_user") or "")
    tally = Tally()
    seen: set[str] = set()
    for lo, hi in chunks:
        todo: Sequence[str] = [u for u in userids if u >= next_user]
        next_user = ""
        for index, userid in enumerate(todo):
            events, rejected = await _user_meetings(client, userid, lo, hi, seen)
            following = todo[index + 1 : index + 2]
            await store_chunk(
                ctx,
                name,
                tally,
                events=events,
                rejected=rejected,
                window_end=None if following else datetime.fromtimestamp(hi, ctx.settings.zone),
                position={"lo": lo, "hi": hi, "next_user": following[0]} if following else {},
            )
        tally.chunks += 1
    return tally.to_dict()
