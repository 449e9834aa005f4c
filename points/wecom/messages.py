"""App messages: the daily digest, and sending the notification outbox through WeCom.

Messages are rows in :class:`points.notifications.models.Notification`, written in
the transaction that caused them (a redemption's status change, the digest job).
Sending is at most once: rows are claimed (``sent_at`` stamped) and committed before
the WeCom call, so a crash can lose a message but never send it twice. WeCom drops
messages silently past a per-member limit, so each person gets at most
:data:`MAX_PER_PERSON_PER_DAY` a day; the rest wait for the next day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.calendar import Period, day_start, key_of_day, local_day
from points.db import Database, utcnow
from points.i18n import _, use_locale
from points.ledger.models import PeriodScore
from points.notifications.models import Notification
from points.org.models import Employee, EmployeeStatus
from points.settings import Settings
from points.wecom.client import WeComClient, WeComError

DIGEST_KIND = "points.digest"
MAX_PER_PERSON_PER_DAY = 5
#: WeCom accepts up to 1000 members in one ``touser`` ("a|b|c").
MAX_RECIPIENTS_PER_CALL = 1000
MAX_ATTEMPTS = 5
BATCH = 500


def digest_kind(day: date) -> str:
    """The outbox kind of one day's digest; one per person and day."""
    return f"{DIGEST_KIND}.{day.isoformat()}"


def absolute_url(settings: Settings, url: str) -> str:
    """Outbox URLs may be paths; WeCom needs a full link under POINTS_BASE_URL."""
    if url.startswith(("http://", "https://")):
        return url
    return settings.BASE_URL.rstrip("/") + "/" + url.lstrip("/")


async def queue_daily_digests(session: AsyncSession, settings: Settings, day: date) -> int:
    """Queue "今天你获得 N 积分" for everyone who earned points on ``day``; returns how many.

    Idempotent: a person who already has that day's digest gets no second one.
    """
    day_key = key_of_day(Period.day, day)
    week_key = key_of_day(Period.week, day)
    rows = (
        await session.exec(
            select(Employee, PeriodScore.points)
            .join(PeriodScore, col(PeriodScore.employee_id) == col(Employee.id))
            .where(
                PeriodScore.period == Period.day,
                PeriodScore.period_key == day_key,
                col(PeriodScore.points) > 0,
                Employee.status == EmployeeStatus.active,
                col(Employee.excluded).is_(False),
            )
        )
    ).all()
    if not rows:
        return 0
    ids = [e.id for e, _points in rows]
    weeks = dict(
        (
            await session.exec(
                select(PeriodScore.employee_id, PeriodScore.points).where(
                    PeriodScore.period == Period.week,
                    PeriodScore.period_key == week_key,
                    col(PeriodScore.employee_id).in_(ids),
                )
            )
        ).all()
    )
    kind = digest_kind(day)
    done = set(
        (
            await session.exec(
                select(Notification.userid).where(
                    Notification.kind == kind,
                    col(Notification.userid).in_([e.userid for e, _p in rows]),
                )
            )
        ).all()
    )
    queued = 0
    for employee, points in rows:
        if employee.userid in done:
            continue
        with use_locale(employee.locale or settings.DEFAULT_LOCALE):
            title = _("Your points today")
            body = _("You earned %(points)s points today, %(week)s this week. Keep it up!") % {
                "points": points,
                "week": weeks.get(employee.id or 0, points),
            }
        session.add(
            Notification(userid=employee.userid, kind=kind, title=title, body=body, url="/")
        )
        queued += 1
    return queued


@dataclass
class SendSummary:
    sent: int = 0
    calls: int = 0
    deferred: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "calls": self.calls,
            "deferred": self.deferred,
            "failed": self.failed,
        }


def textcard(
    agent_id: str, recipients: Sequence[str], title: str, body: str, url: str
) -> dict[str, Any]:
    """A ``message/send`` payload: one text card to several members."""
    return {
        "touser": "|".join(recipients),
        "msgtype": "textcard",
        "agentid": int(agent_id) if agent_id.isdigit() else agent_id,
        "textcard": {
            "title": title[:128],
            "description": body[:512],
            "url": url,
        },
        "enable_duplicate_check": 1,
        "duplicate_check_interval": 1800,
    }


async def send_outbox(
    db: Database, settings: Settings, client: WeComClient, *, now: datetime | None = None
) -> SendSummary:
    """Send what is waiting, grouping people who get the same message into one call."""
    now = now or utcnow()
    summary = SendSummary()
    today_start = day_start(local_day(now, settings.zone), settings.zone)
    async with db.session() as session:
        pending = (
            await session.exec(
                select(Notification)
                .where(
                    col(Notification.sent_at).is_(None),
                    col(Notification.attempts) < MAX_ATTEMPTS,
                )
                .order_by(col(Notification.id))
                .limit(BATCH)
            )
        ).all()
        if not pending:
            return summary
        used = dict(
            (
                await session.exec(
                    select(Notification.userid, func.count())
                    .where(
                        col(Notification.sent_at) >= today_start,
                        col(Notification.userid).in_({n.userid for n in pending}),
                    )
                    .group_by(col(Notification.userid))
                )
            ).all()
        )
        chosen: list[int] = []
        for note in pending:
            if used.get(note.userid, 0) >= MAX_PER_PERSON_PER_DAY:
                summary.deferred += 1  # tomorrow: the limit counts today's sends
                continue
            used[note.userid] = used.get(note.userid, 0) + 1
            assert note.id is not None
            chosen.append(note.id)
        if not chosen:
            return summary
        # Claim before sending: a row stamped here is never picked up again.
        claimed = set(
            (
                await session.exec(
                    update(Notification)
                    .where(col(Notification.id).in_(chosen), col(Notification.sent_at).is_(None))
                    .values(sent_at=now, attempts=col(Notification.attempts) + 1)
                    .returning(col(Notification.id))
                )
            )
            .scalars()
            .all()
        )
        await session.commit()
    groups: dict[tuple[str, str, str], list[Notification]] = defaultdict(list)
    for note in pending:
        if note.id in claimed:
            groups[(note.title, note.body, absolute_url(settings, note.url))].append(note)
    for (title, body, url), notes in groups.items():
        for start in range(0, len(notes), MAX_RECIPIENTS_PER_CALL):
            chunk = notes[start : start + MAX_RECIPIENTS_PER_CALL]
            await _send_chunk(db, settings, client, chunk, title, body, url, summary)
    return summary


async def _send_chunk(
    db: Database,
    settings: Settings,
    client: WeComClient,
    chunk: Sequence[Notification],
    title: str,
    body: str,
    url: str,
    summary: SendSummary,
) -> None:
    recipients = [n.userid for n in chunk]
    ids = [n.id for n in chunk]
    summary.calls += 1
    try:
        answer = await client.send_message(
            textcard(settings.WECOM_AGENT_ID, recipients, title, body, url)
        )
    except WeComError as exc:
        summary.errors.append(f"errcode {exc.errcode}")
        # Nothing was delivered (WeCom answered with an error): release for a retry.
        async with db.session() as session:
            await session.exec(
                update(Notification)
                .where(col(Notification.id).in_(ids))
                .values(sent_at=None, last_error=str(exc)[:500])
            )
            await session.commit()
        summary.failed += len(chunk)
        if exc.is_config_error:
            raise
        return
    invalid = {u for u in str(answer.get("invaliduser") or "").split("|") if u}
    if invalid:
        async with db.session() as session:
            # Not members (any more): never retried.
            await session.exec(
                update(Notification)
                .where(col(Notification.id).in_(ids), col(Notification.userid).in_(invalid))
                .values(sent_at=None, attempts=MAX_ATTEMPTS, last_error="not a WeCom member")
            )
            await session.commit()
    summary.failed += sum(1 for u in recipients if u in invalid)
    summary.sent += sum(1 for u in recipients if u not in invalid)


def digest_day(now: datetime, settings: Settings) -> date:
    """The local day a digest run at ``now`` reports (before 06:00: yesterday)."""
    local = now.astimezone(settings.zone)
    return (local - timedelta(hours=6)).date()
