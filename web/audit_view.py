"""The audit log in people's words: what an action means, who did it, what it changed."""

from __future__ import annotations

from typing import Any

from points.i18n import N_, gettext_

ACTION_LABELS = {
    "login": N_("Logged in"),
    "board.freeze": N_("Published a board"),
    "board.opt_out": N_("Changed name on boards"),
    "employee.left": N_("Employee left"),
    "employee.moved": N_("Employee moved department"),
    "employee.rejoined": N_("Employee rejoined"),
    "events.retry": N_("Retried parked events"),
    "export.board": N_("Exported a board"),
    "export.dashboard": N_("Exported a dashboard"),
    "export.department_board": N_("Exported the department board"),
    "pilot.create": N_("Created a pilot"),
    "points.adjust": N_("Adjusted points"),
    "redemption.request": N_("Requested a reward"),
    "redemption.approve": N_("Approved a redemption"),
    "redemption.decline": N_("Declined a redemption"),
    "redemption.cancel": N_("Cancelled a redemption"),
    "redemption.expire": N_("Redemption expired"),
    "redemption.fulfil": N_("Handed over a reward"),
    "reward.codes_upload": N_("Uploaded voucher codes"),
    "reward.create": N_("Saved a reward"),
    "reward.picture": N_("Changed a reward picture"),
    "rewards.export": N_("Exported spending"),
    "role.grant": N_("Granted a role"),
    "role.revoke": N_("Removed a role"),
    "rules.activate": N_("Activated rules"),
    "rules.backapply": N_("Applied rules to the past"),
    "rules.draft": N_("Saved a rules draft"),
    "token.create": N_("Created an API token"),
    "token.revoke": N_("Revoked an API token"),
    "wecom.policy.save": N_("Changed approval deadlines"),
    "wecom.policy.reset": N_("Reset approval deadlines"),
}


def action_label(action: str) -> str:
    return gettext_(ACTION_LABELS[action]) if action in ACTION_LABELS else action


def details_text(details: dict[str, Any] | None) -> str:
    """``key: value`` pairs, leaving out what is empty (the raw JSON read as ``null, null``)."""
    if not details:
        return ""
    parts = []
    for key, value in details.items():
        if value in (None, "", [], {}):
            continue
        if isinstance(value, list):
            value = "、".join(str(v) for v in value)
        parts.append(f"{key}: {value}")
    return " · ".join(parts)
