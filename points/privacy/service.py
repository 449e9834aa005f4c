"""The privacy notice, one's own data, retention of raw events, anonymising leavers.

China's personal-information law (PIPL) expects a notice of what is collected and
why, a way for a person to get their data, and deletion once it is no longer needed.
The ledger (points, with their reasons) is the product's record and stays; what
goes is the raw detail WeCom sent about each event, and a leaver's name.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from importlib.resources import files
from typing import Any

from sqlalchemy import String, cast, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.appeals.models import Appeal
from points.audit.service import record
from points.db import utcnow
from points.errors import InvalidInput
from points.events.models import ActivityEvent
from points.i18n import _
from points.ledger.models import LedgerTransaction
from points.org.models import Department, Employee, EmployeeStatus
from points.privacy.models import SiteText
from points.rewards.models import Redemption, Reward
from points.settings import Settings

NOTICE_KEY = "privacy"
MAX_NOTICE = 20_000
LEAVER_PREFIX = "left-"

# The default notice per language, until an admin writes their own (/admin/privacy).
DEFAULT_NOTICE = {
    locale: (files("points.privacy") / f"notice.{locale}.md").read_text(encoding="utf-8")
    for locale in ("zh_CN", "en")
}


async def notice(session: AsyncSession, locale: str) -> tuple[str, SiteText | None]:
    """The notice in this language: an admin's text if there is one, else the default."""
    row = (
        await session.exec(
            select(SiteText).where(SiteText.key == NOTICE_KEY, SiteText.locale == locale)
        )
    ).first()
    if row is not None:
        return row.body, row
    return DEFAULT_NOTICE.get(locale, DEFAULT_NOTICE["zh_CN"]), None


async def save_notice(
    session: AsyncSession, *, locale: str, body: str, actor: str, ip: str = "", user_agent: str = ""
) -> None:
    """An admin replaces the notice of one language (empty: back to the default); audited."""
    if locale not in DEFAULT_NOTICE:
        raise InvalidInput(_("Choose a language."), code="bad_locale")
    body = body.replace("\x00", "").replace("\r\n", "\n").strip()
    if len(body) > MAX_NOTICE:
        raise InvalidInput(_("Please keep it under {n} characters.").format(n=MAX_NOTICE))
    row = (
        await session.exec(
            select(SiteText).where(SiteText.key == NOTICE_KEY, SiteText.locale == locale)
        )
    ).first()
    if not body:
        if row is not None:
            await session.delete(row)
    else:
        row = row or SiteText(key=NOTICE_KEY, locale=locale, body=body)
        row.body, row.updated_at, row.updated_by = body, utcnow(), actor[:96]
        session.add(row)
    await record(
        session,
        actor=actor,
        action="privacy.notice",
        target=locale,
        details={"characters": len(body)},
        ip=ip,
        user_agent=user_agent,
    )


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


async def export_my_data(session: AsyncSession, employee: Employee) -> dict[str, Any]:
    """Everything kept about one person: profile, events, entries, redemptions, appeals."""
    assert employee.id is not None
    department = await session.get(Department, employee.department_id)
    events = (
        await session.exec(
            select(ActivityEvent)
            .where(ActivityEvent.employee_id == employee.id)
            .order_by(col(ActivityEvent.occurred_at), col(ActivityEvent.id))
        )
    ).all()
    entries = (
        await session.exec(
            select(LedgerTransaction)
            .where(LedgerTransaction.employee_id == employee.id)
            .order_by(col(LedgerTransaction.effective_at), col(LedgerTransaction.id))
        )
    ).all()
    redemptions = (
        await session.exec(
            select(Redemption, Reward)
            .join(Reward, col(Reward.id) == col(Redemption.reward_id))
            .where(Redemption.employee_id == employee.id)
            .order_by(col(Redemption.id))
        )
    ).all()
    appeals = (
        await session.exec(
            select(Appeal).where(Appeal.employee_id == employee.id).order_by(col(Appeal.id))
        )
    ).all()
    return {
        "person": {
            "userid": employee.userid,
            "name": employee.name,
            "department": department.name if department else None,
            "title": employee.title,
            "status": employee.status,
            "joined_on": _iso(employee.joined_on),
            "left_on": _iso(employee.left_on),
            "board_opt_out": employee.board_opt_out,
            "locale": employee.locale,
        },
        "events": [
            {
                "id": e.id,
                "source": e.source,
                "external_id": e.external_id,
                "type": e.type,
                "occurred_at": _iso(e.occurred_at),
                "attributes": e.attributes,
                "status": e.status,
            }
            for e in events
        ],
        "entries": [
            {
                "id": t.id,
                "kind": t.kind,
                "points": t.points,
                "effective_at": _iso(t.effective_at),
                "reason": t.reason,
                "rule_id": t.rule_id,
                "rule_version": t.rule_version,
                "event_id": t.event_id,
                "author": t.author,
            }
            for t in entries
        ],
        "redemptions": [
            {
                "id": r.id,
                "reward": w.name,
                "price": r.price,
                "status": r.status,
                "requested_at": _iso(r.requested_at),
                "closed_at": _iso(r.closed_at),
                "reason": r.reason,
            }
            for r, w in redemptions
        ],
        "appeals": [
            {
                "id": a.id,
                "status": a.status,
                "message": a.message,
                "entry_id": a.entry_id,
                "occurred_on": _iso(a.occurred_on),
                "created_at": _iso(a.created_at),
                "decision_reason": a.decision_reason,
                "points": a.points,
            }
            for a in appeals
        ],
    }


def export_csv(data: dict[str, Any]) -> str:
    """One CSV (UTF-8 with BOM, for Excel): a section column, then each record's fields."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "field", "value"])
    for key, value in data["person"].items():
        writer.writerow(["person", key, "" if value is None else value])
    for section in ("events", "entries", "redemptions", "appeals"):
        for item in data[section]:
            writer.writerow(
                [
                    section,
                    item.get("id"),
                    json.dumps(item, ensure_ascii=False, sort_keys=True),
                ]
            )
    return "\ufeff" + out.getvalue()


async def clear_old_event_attributes(
    session: AsyncSession, settings: Settings, now: datetime | None = None
) -> int:
    """Clear the raw attributes of events older than the retention setting.

    The ledger keeps each point with its reason, rule and event id; the payload
    hash stays, so a late replay of the same event is still recognised.
    """
    if settings.EVENT_RETENTION_DAYS <= 0:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=settings.EVENT_RETENTION_DAYS)
    result = await session.exec(
        update(ActivityEvent)
        .where(
            col(ActivityEvent.occurred_at) < cutoff,
            cast(col(ActivityEvent.attributes), String) != "{}",
        )
        .values(attributes={})
    )
    return int(result.rowcount or 0)


def is_anonymised(employee: Employee) -> bool:
    return employee.userid == f"{LEAVER_PREFIX}{employee.id}"


async def anonymise_leavers(session: AsyncSession, settings: Settings, today: date) -> int:
    """Leavers gone longer than the setting lose their name and WeCom id everywhere.

    Rows refer to people by id, so boards, exports and history show the placeholder;
    the person's raw events lose their attributes and actor too. The audit log keeps
    what happened (and names the employee id only).
    """
    if settings.LEAVER_ANONYMISE_DAYS <= 0:
        return 0
    cutoff = today - timedelta(days=settings.LEAVER_ANONYMISE_DAYS)
    leavers = (
        await session.exec(
            select(Employee).where(
                Employee.status == EmployeeStatus.left,
                col(Employee.left_on).is_not(None),
                col(Employee.left_on) <= cutoff,
                col(Employee.userid).not_like(f"{LEAVER_PREFIX}%"),
            )
        )
    ).all()
    for employee in leavers:
        assert employee.id is not None
        pseudonym = f"{LEAVER_PREFIX}{employee.id}"
        await session.exec(
            update(ActivityEvent)
            .where(col(ActivityEvent.employee_id) == employee.id)
            .values(actor=pseudonym, attributes={})
        )
        employee.userid = pseudonym
        employee.name = f"已离职员工 #{employee.id}"
        employee.title = ""
        employee.locale = None
        session.add(employee)
        await record(
            session,
            actor="system",
            action="privacy.anonymise",
            target=f"employee:{employee.id}",
            details={"left_on": _iso(employee.left_on)},
        )
    return len(leavers)
