"""App messages: the daily digest, and sending the notification outbox through WeCom.

Messages are rows in :class:`points.notifications.models.Notification`, written in
the transaction that caused them (a redemption's status change, the digest job).

Delivery is recorded as WeCom answered it:

- each call's rows are claimed (``sent_at`` stamped) and committed just before the
  call, so a crash can lose a message but never send it twice; rows of later calls
  stay queued until their turn, so a run that stops early leaves them untouched;
- an error answer releases what the call claimed; a configuration error (untrusted
  IP, bad AgentId…) or a rate limit stops the run, the rest stays queued;
- recipients WeCom lists in ``invaliduser`` or ``unlicenseduser`` (compared without
  case: WeCom answers ``ZhangSan`` as ``zhangsan``) are marked undeliverable with the
  reason and never retried;
- a call whose outcome is unknown (a timeout, "system busy") may have delivered: the
  exact same message is retried under a ``send_key`` while WeCom's duplicate check,
  switched on for every message with :data:`DUPLICATE_CHECK_SECONDS`, still covers
  it, so the person gets it once; after that it is reported, not resent.

WeCom drops messages silently past a per-member limit, so each person gets at most
:data:`MAX_PER_PERSON_PER_DAY` a day; the rest wait for the next day.
"""

from __future__ import annotations

import hashlib
import json
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
from points.wecom.client import WeComClient, WeComError, WeComUnavailable

DIGEST_KIND = "points.digest"
MAX_PER_PERSON_PER_DAY = 5
#: WeCom accepts up to 1000 members in one ``touser`` ("a|b|c").
MAX_RECIPIENTS_PER_CALL = 1000
MAX_ATTEMPTS = 5
BATCH = 500
#: WeCom's duplicate check window (its maximum, 4 hours) ...
DUPLICATE_CHECK_SECONDS = 4 * 3600
#: ... and how long a send of unknown outcome is retried. The outbox runs every 5
#: minutes, so every retry falls well inside the window WeCom deduplicates.
UNCERTAIN_RETRY_SECONDS = 3 * 3600


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
    """What one outbox run did; ``stopped`` says why it ended early (if it did)."""

    sent: int = 0
    calls: int = 0
    deferred: int = 0
    failed: int = 0
    undeliverable: int = 0
    uncertain: int = 0
    stopped: str = ""
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "sent": self.sent,
            "calls": self.calls,
            "deferred": self.deferred,
            "failed": self.failed,
        }
        for key in ("undeliverable", "uncertain", "stopped"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


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
        "duplicate_check_interval": DUPLICATE_CHECK_SECONDS,
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
        expired = [n for n in pending if _uncertain_expired(n, now)]
        if expired:
            await _give_up_uncertain(session, expired)
        given_up = {n.id for n in expired}
        chosen: list[Notification] = []
        for note in pending:
            if note.id in given_up:
                continue
            if note.send_key is None and used.get(note.userid, 0) >= MAX_PER_PERSON_PER_DAY:
                summary.deferred += 1  # tomorrow: the limit counts today's sends
                continue
            used[note.userid] = used.get(note.userid, 0) + 1
            chosen.append(note)
        await session.commit()
    summary.undeliverable += len(expired)
    for chunk in _calls(settings, chosen):
        if not await _send_chunk(db, settings, client, chunk, now, summary):
            break  # the rest stays queued for the next run
    return summary


def _calls(settings: Settings, notes: Sequence[Notification]) -> list[list[Notification]]:
    """The calls to make: a retry of unknown outcome exactly as first sent, then new
    messages grouped by content, at most 1000 recipients a call."""
    groups: dict[tuple[str, ...], list[Notification]] = defaultdict(list)
    for note in notes:
        if note.send_key is not None:
            groups[("retry", note.send_key)].append(note)
        else:
            groups[("new", note.title, note.body, absolute_url(settings, note.url))].append(note)
    calls: list[list[Notification]] = []
    for notes_in_group in groups.values():
        for start in range(0, len(notes_in_group), MAX_RECIPIENTS_PER_CALL):
            calls.append(notes_in_group[start : start + MAX_RECIPIENTS_PER_CALL])
    return calls


def _uncertain_expired(note: Notification, now: datetime) -> bool:
    return note.uncertain_since is not None and (
        (now - note.uncertain_since).total_seconds() > UNCERTAIN_RETRY_SECONDS
    )


async def _give_up_uncertain(session: AsyncSession, notes: Sequence[Notification]) -> None:
    # Past WeCom's duplicate window a resend could arrive twice: report instead.
    await session.exec(
        update(Notification)
        .where(col(Notification.id).in_([n.id for n in notes]))
        .values(
            attempts=MAX_ATTEMPTS,
            last_error="delivery unknown: WeCom did not answer; not resent to avoid a duplicate",
        )
    )


def send_key(payload: dict[str, Any]) -> str:
    """The message key of one call: the same payload always gives the same key."""
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


async def _update(db: Database, ids: Sequence[int | None], **values: Any) -> None:
    async with db.session() as session:
        await session.exec(
            update(Notification).where(col(Notification.id).in_(list(ids))).values(**values)
        )
        await session.commit()


async def _send_chunk(
    db: Database,
    settings: Settings,
    client: WeComClient,
    chunk: Sequence[Notification],
    now: datetime,
    summary: SendSummary,
) -> bool:
    """Claim, send and record one call; False when the run must stop."""
    first = chunk[0]
    recipients = [n.userid for n in chunk]
    payload = textcard(
        settings.WECOM_AGENT_ID,
        recipients,
        first.title,
        first.body,
        absolute_url(settings, first.url),
    )
    key = send_key(payload)
    # Claim before sending: a row stamped here is never picked up by another run.
    async with db.session() as session:
        claimed = set(
            (
                await session.exec(
                    update(Notification)
                    .where(
                        col(Notification.id).in_([n.id for n in chunk]),
                        col(Notification.sent_at).is_(None),
                    )
                    .values(sent_at=now, attempts=col(Notification.attempts) + 1)
                    .returning(col(Notification.id))
                )
            )
            .scalars()
            .all()
        )
        await session.commit()
    chunk = [n for n in chunk if n.id in claimed]
    if not chunk:
        return True
    ids = [n.id for n in chunk]
    if len(chunk) != len(recipients):  # another run took some: send to the rest only
        recipients = [n.userid for n in chunk]
        payload["touser"] = "|".join(recipients)
        key = send_key(payload)
    summary.calls += 1
    try:
        answer = await client.send_message(payload)
    except WeComError as exc:
        summary.errors.append(f"errcode {exc.errcode}")
        if isinstance(exc, WeComUnavailable) or exc.errcode == -1:
            # WeCom may have delivered: retry this exact message under the duplicate check.
            await _update(
                db,
                ids,
                sent_at=None,
                send_key=key,
                uncertain_since=first.uncertain_since or now,
                last_error=f"outcome unknown, retried under WeCom's duplicate check: {exc}"[:500],
            )
            summary.uncertain += len(chunk)
            return True
        # Nothing was delivered (WeCom answered with an error): release what was claimed.
        stop = exc.is_config_error or exc.is_rate_limited
        await _update(
            db,
            ids,
            sent_at=None,
            # Not the message's fault: a misconfiguration or a limit costs no attempt.
            attempts=col(Notification.attempts) - (1 if stop else 0),
            last_error=str(exc)[:500],
        )
        summary.failed += len(chunk)
        if stop:
            summary.stopped = str(exc)[:500]
            return False
        return True
    undeliverable = _undeliverable(answer)
    by_id = {n.id: undeliverable.get(n.userid.lower()) for n in chunk}
    for reason in set(by_id.values()) - {None}:
        await _update(
            db,
            [i for i, r in by_id.items() if r == reason],
            sent_at=None,
            attempts=MAX_ATTEMPTS,
            last_error=reason,
        )
    delivered = [i for i, r in by_id.items() if r is None]
    if delivered:
        await _update(db, delivered, send_key=None, uncertain_since=None, last_error=None)
    summary.undeliverable += len(chunk) - len(delivered)
    summary.sent += len(delivered)
    return True


_UNDELIVERABLE = {
    "invaliduser": "invaliduser: not a member WeCom can reach",
    "unlicenseduser": "unlicenseduser: no WeCom licence (account not activated)",
}


def _undeliverable(answer: dict[str, Any]) -> dict[str, str]:
    """Lower-cased userid → why WeCom did not deliver to them."""
    reasons: dict[str, str] = {}
    for field_name, reason in _UNDELIVERABLE.items():
        value = answer.get(field_name)
        parts = value if isinstance(value, list) else str(value or "").split("|")
        for userid in parts:
            if str(userid).strip():
                reasons.setdefault(str(userid).strip().lower(), reason)
    return reasons


def digest_day(now: datetime, settings: Settings) -> date:
    """The local day a digest run at ``now`` reports (before 06:00: yesterday)."""
    local = now.astimezone(settings.zone)
    return (local - timedelta(hours=6)).date()
