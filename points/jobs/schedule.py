"""When the worker runs the periodic jobs (arq cron), in the company's time zone.

Without Redis, ``points serve`` runs the same schedule itself (``points/ops/scheduler.py``,
one process per slot by a database claim); ``points jobs run NAME`` runs one by hand.
"""

from __future__ import annotations

from typing import Any

SCHEDULE: tuple[tuple[str, dict[str, Any]], ...] = (
    # WeCom: the outbox often, approvals twice an hour, the rest nightly.
    ("wecom_send_outbox", {"minute": set(range(0, 60, 5))}),
    ("wecom_pull_approvals", {"minute": {7, 37}}),
    ("wecom_sync_contacts", {"hour": 1, "minute": 30}),
    ("wecom_pull_checkins", {"hour": 2, "minute": 10}),
    ("wecom_pull_behavior", {"hour": 3, "minute": 10}),
    ("wecom_pull_meetings", {"hour": 3, "minute": 25}),
    ("wecom_daily_digest", {"hour": 20, "minute": 0}),
    # Pilots: the pulse from Friday afternoon, last week's report on Monday morning
    # (both daily and once a week each, so a missed day catches up).
    ("pilot_weekly_pulse", {"hour": 15, "minute": 0}),
    ("pilot_weekly_report", {"hour": 9, "minute": 30}),
    # Workbench tiles follow scoring within a minute (batched, within WeCom's limits).
    ("wecom_workbench_cards", {"minute": set(range(60))}),
    # Boards of a week or month that just closed are published as they stood.
    ("freeze_closed_boards", {"minute": {5}}),
    # Redemptions nobody acted on release their hold; old points expire.
    ("expire_redemptions", {"hour": 0, "minute": 20}),
    ("expire_points", {"hour": 0, "minute": 40}),
    # A warning before points expire; raw event detail and leavers' names are cleared.
    ("remind_expiring_points", {"hour": 9, "minute": 0}),
    ("privacy_retention", {"hour": 3, "minute": 40}),
    # The integrity review's patterns, over the last 28 days, once the night's pulls are in.
    ("integrity_scan", {"hour": 4, "minute": 30}),
    # Awards waiting for review past their `expires` are rejected with that reason.
    ("expire_pending_awards", {"minute": {25}}),
    # Department challenges whose window closed (at local midnight) are settled and paid.
    ("settle_team_goals", {"hour": 0, "minute": 50}),
)
