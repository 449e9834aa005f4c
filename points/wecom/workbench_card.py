"""The app's tile on each person's WeCom workbench (工作台): their own points at a glance.

WeCom shows a "key data" (``keydata``) tile: the app sets the template once
(``/cgi-bin/agent/set_workbench_template``, type ``keydata``) and then each person's
figures (``/cgi-bin/agent/set_workbench_data``): available points, this week's points
and this month's rank, each linking into the app.

A periodic job (every minute) keeps the tiles current:

- **after scoring**: the people with new ledger lines since the last runs are due (the
  ledger is read, so adjustments, redemptions and expiry count too);
- **batched**: however many events of a person were scored in between, one call carries
  their figures as they are now; a card that would show the same is not sent again;
- **rate-limited**: never more than WeCom's 10 calls a minute per person and app
  (:class:`points.wecom.workbench_state.CallLimiter`, shared through Redis); a person
  over it waits for the next run after a slot frees;
- **retried with backoff**: a failed card is tried again after 30 s, 1, 2, 4 … minutes
  (at most :data:`MAX_ATTEMPTS`); a configuration error stops the run and says what to
  fix; a rate-limit answer from WeCom backs that person off and ends the run.

The template is set before the first card (and again when it changes), or now with
``points wecom workbench-template``. ``POINTS_WECOM_WORKBENCH=false`` turns it all off.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from points.boards.personal import person_figures
from points.db import Database
from points.i18n import _, use_locale
from points.jobs import JobContext, job
from points.ledger.models import LedgerTransaction
from points.org.models import Employee, EmployeeStatus
from points.settings import Settings
from points.wecom.client import WeComClient, WeComError
from points.wecom.config import api_ready, open_client
from points.wecom.messages import absolute_url
from points.wecom.workbench_state import CardState, Pending, open_state

log = logging.getLogger(__name__)

CARDS_JOB = "wecom_workbench_cards"
TEMPLATE_JOB = "wecom_workbench_template"
TEMPLATE_PATH = "/cgi-bin/agent/set_workbench_template"
DATA_PATH = "/cgi-bin/agent/set_workbench_data"
#: Cards sent in one run at most; the rest wait for the next minute.
MAX_CALLS_PER_RUN = 500
MAX_ATTEMPTS = 6
FIRST_RETRY_SECONDS = 30.0
MAX_RETRY_SECONDS = 1800.0
#: WeCom errors about the person, not the call (not in the app's range, no such member).
PERSON_ERRORS = frozenset({60111, 60123, 60011, 46004, 81013})
#: The tile's items: label, the path it opens.
ITEMS = (
    ("available", "/"),
    ("week", "/history"),
    ("rank", "/boards"),
)


def enabled(settings: Settings) -> bool:
    """The card is on: WeCom's API is configured, an AgentId set, the setting not off."""
    return bool(api_ready(settings) and settings.WECOM_AGENT_ID and settings.WECOM_WORKBENCH)


def _agent(settings: Settings) -> int | str:
    agent = settings.WECOM_AGENT_ID
    return int(agent) if agent.isdigit() else agent


def _labels() -> dict[str, str]:
    return {
        "available": _("Available points"),
        "week": _("Points this week"),
        "rank": _("Rank this month"),
    }


@dataclass(frozen=True)
class CardFigures:
    available: int
    week: int
    rank: int | None


def keydata(settings: Settings, figures: CardFigures | None) -> dict[str, Any]:
    """The ``keydata`` object: three items, each a link into the app."""
    labels = _labels()
    values = {
        "available": str(figures.available) if figures else "0",
        "week": str(figures.week) if figures else "0",
        "rank": (_("No. {rank}").format(rank=figures.rank) if figures and figures.rank else "—"),
    }
    return {
        "items": [
            {"key": labels[name], "data": values[name], "jump_url": absolute_url(settings, path)}
            for name, path in ITEMS
        ]
    }


def template_payload(settings: Settings) -> dict[str, Any]:
    """``set_workbench_template``: type keydata, company default data for people not set yet.

    ``replace_user_data`` stays false: people's own figures survive a template change.
    """
    with use_locale(settings.DEFAULT_LOCALE):
        data = keydata(settings, None)
    return {
        "agentid": _agent(settings),
        "type": "keydata",
        "keydata": data,
        "replace_user_data": False,
    }


def data_payload(
    settings: Settings, userid: str, locale: str | None, figures: CardFigures
) -> dict[str, Any]:
    """``set_workbench_data`` for one person, labelled in their language."""
    with use_locale(locale or settings.DEFAULT_LOCALE):
        data = keydata(settings, figures)
    return {"agentid": _agent(settings), "userid": userid, "type": "keydata", "keydata": data}


def digest(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def retry_delay(attempts: int) -> float:
    """Seconds before try ``attempts + 1``: 30 s, 1, 2, 4 … minutes, at most 30 minutes."""
    return float(min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0)))


@dataclass
class CardRun:
    """What one run did."""

    sent: int = 0
    unchanged: int = 0
    limited: int = 0
    failed: int = 0
    dropped: int = 0
    pending: int = 0
    template: str = ""
    stopped: str = ""
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "sent": self.sent,
            "unchanged": self.unchanged,
            "limited": self.limited,
            "failed": self.failed,
            "pending": self.pending,
        }
        for key in ("dropped", "template", "stopped"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


async def _due_people(db: Database, state: CardState) -> None:
    """Add the people with ledger lines since the run before last to the pending set.

    Reading from the run *before* last covers lines whose transaction committed after
    a later one was already seen (ids are handed out before commit); a person seen
    twice costs nothing, their unchanged card is not sent again.
    """
    async with db.session() as session:
        top = int((await session.exec(select(func.max(LedgerTransaction.id)))).one() or 0)
        cursor = await state.cursor()
        if cursor is None or cursor[1] > top:  # first run, or the database was replaced
            cursor = [0, 0]
        people = (
            await session.exec(
                select(LedgerTransaction.employee_id)
                .where(col(LedgerTransaction.id) > cursor[0])
                .distinct()
            )
        ).all()
    pending = await state.pending()
    for employee_id in people:
        pending.setdefault(int(employee_id), Pending())
    await state.save_pending(pending)
    await state.save_cursor(cursor[1], top)


async def _figures(
    db: Database, settings: Settings, ids: Sequence[int], now: datetime
) -> dict[int, tuple[Employee, CardFigures]]:
    found: dict[int, tuple[Employee, CardFigures]] = {}
    async with db.session() as session:
        employees = (
            await session.exec(
                select(Employee).where(
                    col(Employee.id).in_(list(ids)), Employee.status == EmployeeStatus.active
                )
            )
        ).all()
        for employee in employees:
            assert employee.id is not None
            figures = await person_figures(session, settings, employee, now)
            found[employee.id] = (
                employee,
                CardFigures(figures.available, figures.week, figures.rank_company),
            )
    return found


async def ensure_template(
    client: WeComClient, settings: Settings, state: CardState, *, force: bool = False
) -> bool:
    """Set the tile's template unless this very template was set already; True if called."""
    payload = template_payload(settings)
    key = digest(payload)
    if not force and await state.template_set(key):
        return False
    await client.call("POST", TEMPLATE_PATH, json=payload)
    await state.remember_template(key)
    return True


async def refresh_cards(
    db: Database, settings: Settings, client: WeComClient, state: CardState, now: datetime
) -> CardRun:
    """One run: find who is due, send what changed, within WeCom's limits."""
    run = CardRun()
    await _due_people(db, state)
    pending = await state.pending()
    moment = now.timestamp()
    due = sorted(eid for eid, p in pending.items() if p.next_at <= moment)[:MAX_CALLS_PER_RUN]
    if due:
        try:
            if await ensure_template(client, settings, state):
                run.template = "set"
        except WeComError as exc:
            run.stopped = str(exc)[:500]
            run.pending = len(pending)
            return run
    people = await _figures(db, settings, due, now) if due else {}
    for employee_id in due:
        if employee_id not in people:  # left, or no longer known: nothing to show
            pending.pop(employee_id, None)
            continue
        employee, figures = people[employee_id]
        payload = data_payload(settings, employee.userid, employee.locale, figures)
        shown = digest(payload)
        if await state.shown(employee.userid) == shown:
            pending.pop(employee_id)
            run.unchanged += 1
            continue
        wait = await state.limiter.take(employee.userid, moment)
        if wait > 0:
            pending[employee_id].next_at = moment + wait
            run.limited += 1
            continue
        if not await _send(
            client, state, payload, employee.userid, shown, pending, employee_id, moment, run
        ):
            break
    await state.save_pending(pending)
    run.pending = len(pending)
    return run


async def _send(
    client: WeComClient,
    state: CardState,
    payload: dict[str, Any],
    userid: str,
    shown: str,
    pending: dict[int, Pending],
    employee_id: int,
    moment: float,
    run: CardRun,
) -> bool:
    """One ``set_workbench_data`` call; False when the run must stop."""
    try:
        await client.call("POST", DATA_PATH, json=payload)
    except WeComError as exc:
        run.errors.append(f"{userid}: errcode {exc.errcode}")
        entry = pending[employee_id]
        if exc.errcode in PERSON_ERRORS:
            pending.pop(employee_id)  # WeCom cannot show this person a tile
            run.dropped += 1
            return True
        entry.attempts += 1
        run.failed += 1
        if entry.attempts >= MAX_ATTEMPTS:
            pending.pop(employee_id)
            run.dropped += 1
        else:
            entry.next_at = moment + retry_delay(entry.attempts)
        if exc.is_config_error or exc.is_rate_limited:
            run.stopped = str(exc)[:500]
            if exc.is_config_error:
                entry.attempts -= 1  # not this person's fault
            return False
        return True
    await state.remember_shown(userid, shown)
    pending.pop(employee_id)
    run.sent += 1
    return True


def _client_for_cards(client: WeComClient) -> WeComClient:
    # Every call WeCom sees must have passed the limiter: the card's retries are the
    # job's (with backoff, through the limiter), not the client's.
    client.max_retries = 0
    return client


@job(CARDS_JOB)
async def workbench_cards_job(ctx: JobContext) -> dict[str, Any]:
    """Every minute: set the workbench card of everyone whose points changed."""
    if not enabled(ctx.settings):
        return {"skipped": "the workbench card is off (POINTS_WECOM_WORKBENCH, WeCom settings)"}
    state = open_state(ctx.settings)
    try:
        async with open_client(ctx.settings) as client:
            run = await refresh_cards(
                ctx.db, ctx.settings, _client_for_cards(client), state, ctx.clock()
            )
    finally:
        await state.close()
    if run.stopped:
        log.warning("WeCom workbench cards stopped: %s", run.stopped)
    return run.to_dict()


@job(TEMPLATE_JOB)
async def workbench_template_job(ctx: JobContext) -> dict[str, Any]:
    """Set the tile's template now (``points wecom workbench-template``)."""
    if not enabled(ctx.settings):
        return {"skipped": "the workbench card is off (POINTS_WECOM_WORKBENCH, WeCom settings)"}
    state = open_state(ctx.settings)
    try:
        async with open_client(ctx.settings) as client:
            await ensure_template(client, ctx.settings, state, force=True)
    finally:
        await state.close()
    return {"template": "set", "items": [name for name, _path in ITEMS]}
