"""HR's approval on-time policy: the shipped defaults overridden per template, audited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.db import utcnow
from points.errors import InvalidInput, NotFound
from points.i18n import _
from points.wecom.mapping import DEFAULT_APPROVAL_POLICY, ApprovalPolicy, OnTimeRule
from points.wecom.models import ApprovalPolicyRule


def _rule_config(rule: OnTimeRule) -> dict[str, Any]:
    return {
        "controls": list(rule.controls),
        "titles": list(rule.titles),
        "min_hours_before": rule.min_hours_before,
        "max_hours_after": rule.max_hours_after,
    }


async def load_policy(session: AsyncSession) -> ApprovalPolicy:
    """The effective policy: the shipped defaults, overridden per template by HR's rows."""
    rules: dict[str, OnTimeRule] = dict(DEFAULT_APPROVAL_POLICY.rules)
    for row in (await session.exec(select(ApprovalPolicyRule))).all():
        if not row.enabled:
            rules.pop(row.template, None)
            continue
        config = {
            "controls": row.controls,
            "titles": row.titles,
            "min_hours_before": row.min_hours_before,
            "max_hours_after": row.max_hours_after,
        }
        rules.update(ApprovalPolicy.from_config({row.template: config}).rules)
    return ApprovalPolicy(rules)


@dataclass(frozen=True)
class PolicyLine:
    """One template's rule as the policy page shows it."""

    template: str
    enabled: bool
    controls: tuple[str, ...]
    titles: tuple[str, ...]
    min_hours_before: float | None
    max_hours_after: float | None
    customised: bool
    updated_by: str | None = None
    updated_at: datetime | None = None


async def policy_lines(session: AsyncSession) -> list[PolicyLine]:
    """Every template with a rule (default or HR's), HR's changes marked."""
    stored = {r.template: r for r in (await session.exec(select(ApprovalPolicyRule))).all()}
    lines: list[PolicyLine] = []
    for template, rule in DEFAULT_APPROVAL_POLICY.rules.items():
        if template not in stored:
            lines.append(
                PolicyLine(
                    template,
                    True,
                    rule.controls,
                    rule.titles,
                    rule.min_hours_before,
                    rule.max_hours_after,
                    customised=False,
                )
            )
    for row in stored.values():
        lines.append(
            PolicyLine(
                row.template,
                row.enabled,
                tuple(row.controls),
                tuple(row.titles),
                row.min_hours_before,
                row.max_hours_after,
                customised=True,
                updated_by=row.updated_by,
                updated_at=row.updated_at,
            )
        )
    return sorted(lines, key=lambda line: line.template)


async def save_policy_rule(
    session: AsyncSession,
    *,
    template: str,
    enabled: bool,
    controls: Sequence[str],
    titles: Sequence[str],
    min_hours_before: float | None,
    max_hours_after: float | None,
    author: str,
) -> ApprovalPolicyRule:
    """Store HR's on-time rule for a template (validated like the defaults); audited.

    Changing a rule changes ``on_time`` for approvals seen from now on; events already
    stored keep the value they were stored with.
    """
    template = template.strip()
    if not template or len(template) > 64:
        raise InvalidInput(_("Name the approval template (at most 64 characters)."))
    controls = [c.strip() for c in controls if c.strip()]
    titles = [t.strip() for t in titles if t.strip()]
    if enabled:
        try:
            ApprovalPolicy.from_config(
                {
                    template: {
                        "controls": controls,
                        "titles": titles,
                        "min_hours_before": min_hours_before,
                        "max_hours_after": max_hours_after,
                    }
                }
            )
        except ValueError:
            raise InvalidInput(
                _("Give at least one of: hours before the start, hours after the date.")
            ) from None
        if not controls and not titles:
            raise InvalidInput(_("Name the form controls or field titles that hold the date."))
    row = await session.get(ApprovalPolicyRule, template)
    before = None if row is None else row.model_dump(mode="json", exclude={"updated_at"})
    if row is None:
        row = ApprovalPolicyRule(template=template)
    row.enabled = enabled
    row.controls = controls
    row.titles = titles
    row.min_hours_before = min_hours_before
    row.max_hours_after = max_hours_after
    row.updated_at = utcnow()
    row.updated_by = author
    session.add(row)
    await session.flush()
    await record(
        session,
        actor=author,
        action="wecom.policy.save",
        target=template,
        details={
            "before": before,
            "after": row.model_dump(mode="json", exclude={"updated_at", "updated_by"}),
        },
    )
    return row


async def reset_policy_rule(session: AsyncSession, *, template: str, author: str) -> None:
    """Drop HR's rule for a template (the default, if any, applies again); audited."""
    row = await session.get(ApprovalPolicyRule, template)
    if row is None:
        raise NotFound(_("No such approval template rule."))
    await session.delete(row)
    await record(session, actor=author, action="wecom.policy.reset", target=template)
