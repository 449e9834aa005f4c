"""What happened, said after a redirect: ``?done=<what>`` names one of these messages.

A query parameter rather than a session flash: it survives a reload, needs no state,
and a made-up value simply shows nothing.
"""

from __future__ import annotations

from starlette.requests import Request

from points.i18n import N_, gettext_

MESSAGES = {
    "redeemed": N_("Request received. We will let you know in WeCom."),
    "cancelled": N_("Cancelled. The points are back in your balance."),
    "approved": N_("Approved. HR has been asked to hand it over."),
    "declined": N_("Declined. The points went back to the person."),
    "fulfilled": N_("Marked as handed over; the points are spent."),
    "reward_saved": N_("Reward saved."),
    "granted": N_("Role granted."),
    "revoked": N_("Role removed."),
    "token_revoked": N_("Token revoked: it no longer opens the API."),
    "adjusted": N_("Adjustment saved; the person sees it with your reason."),
    "repeat": N_("This adjustment was already saved."),
    "pending": N_("This adjustment is large: it waits for a second HR or admin person."),
    "levels_saved": N_("Levels saved: everyone's level follows the new ladder."),
    "goal_pinned": N_("Pinned: your home page shows how close you are."),
    "goal_unpinned": N_("Goal unpinned."),
    "activated": N_("Rules activated: new events are scored with this version."),
    "calendar_imported": N_("Calendar imported: working-day streaks follow it from now on."),
    "calendar_saved": N_("Day saved in the calendar."),
    "calendar_removed": N_("Day removed: it follows the ordinary week again."),
    "award_accepted": N_("Accepted: the points are now in the person's balance."),
    "award_rejected": N_("Rejected: the points were not paid. The person has been told."),
    "pulse": N_("Thank you! Your pilot feedback was received."),
    "nudged": N_("Reminder sent: they get a WeCom message with what is left to do."),
    "nudged_already": N_("They were already reminded today; one reminder a day is enough."),
}


def flash_message(request: Request) -> str:
    done = request.query_params.get("done", "")
    return gettext_(MESSAGES[done]) if done in MESSAGES else ""
