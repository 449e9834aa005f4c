"""Approvals: one shape for callbacks and the detail API, HR's on-time rules, and the
events an approval's state implies.

``external_id`` is keyed on the approval and its state change, never on the delivery:
``approval:{SpNo}:submitted``, ``approval:{SpNo}:decided:{userid}``, ... Events are
derived from the approval's *state* (every decision and the final status seen so far),
not only from the transition named in the callback: if WeCom loses the "submitted"
delivery, the next callback for that approval still yields it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from points.events.schemas import EventIn
from points.wecom.fields import as_int, as_text, dig, make_event, required, to_datetime
from points.wecom.xmlmsg import as_list

__all__ = [
    "DEFAULT_APPROVAL_POLICY",
    "Approval",
    "ApprovalEvents",
    "ApprovalPolicy",
    "ApprovalStep",
    "FormControl",
    "OnTimeRule",
    "approval_events",
    "events_from_approval_detail",
]

# SpStatus of a whole approval.
SP_PENDING, SP_APPROVED, SP_REJECTED, SP_REVOKED, SP_REVOKED_AFTER_APPROVAL = 1, 2, 3, 4, 6
SP_DELETED, SP_PAID = 7, 10
# SpStatus of one approver's entry in SpRecord.Details: which of them are decisions.
_STEP_DECISIONS = {2: "approved", 3: "rejected", 11: "returned", 13: "approved"}


@dataclass(frozen=True)
class ApprovalStep:
    """One approver's entry in one node of the approval flow."""

    node: int
    approver: str
    status: int
    sp_time: int

    @property
    def decision(self) -> str | None:
        """``"approved"``/``"rejected"``/``"returned"`` once the approver acted, else None."""
        if self.sp_time <= 0:
            return None
        return _STEP_DECISIONS.get(self.status)


@dataclass(frozen=True)
class FormControl:
    """One control of the approval form (only the detail API returns the form)."""

    control: str
    titles: tuple[str, ...]
    value: Mapping[str, Any]

    def timestamp(self) -> int | None:
        """The start / date this control holds, as Unix seconds, if it holds one."""
        value = self.value
        candidates: list[Any] = [
            dig(value, "vacation", "attendance", "date_range", "new_begin"),
            dig(value, "attendance", "date_range", "new_begin"),
            dig(value, "date_range", "new_begin"),
            dig(value, "date", "s_timestamp"),
        ]
        for candidate in candidates:
            seconds = as_int(candidate)
            if seconds > 0:
                return seconds
        return None


@dataclass(frozen=True)
class Approval:
    """An approval in one shape, whether it came from a callback or the detail API.

    ``form`` is None when the source does not carry the form (callbacks), which is
    different from an empty form.
    """

    sp_no: str
    sp_name: str
    sp_status: int
    template_id: str
    apply_time: int
    applicant: str
    steps: tuple[ApprovalStep, ...] = ()
    form: tuple[FormControl, ...] | None = None
    status_change: int | None = None

    @classmethod
    def from_callback(cls, info: Mapping[str, Any]) -> Approval:
        """Build from the callback's ``ApprovalInfo`` element (parsed XML dict)."""
        steps: list[ApprovalStep] = []
        for node, record in enumerate(as_list(info.get("SpRecord"))):
            if not isinstance(record, Mapping):
                continue
            for detail in as_list(record.get("Details")):
                if not isinstance(detail, Mapping):
                    continue
                approver = as_text(dig(detail, "Approver", "UserId"))
                if approver:
                    steps.append(
                        ApprovalStep(
                            node=node,
                            approver=approver,
                            status=as_int(detail.get("SpStatus")),
                            sp_time=as_int(detail.get("SpTime")),
                        )
                    )
        change = as_int(info.get("StatuChangeEvent"), default=-1)
        return cls(
            sp_no=required(info, "SpNo"),
            sp_name=as_text(info.get("SpName")),
            sp_status=as_int(info.get("SpStatus")),
            template_id=as_text(info.get("TemplateId")),
            apply_time=as_int(info.get("ApplyTime")),
            applicant=as_text(dig(info, "Applyer", "UserId")),
            steps=tuple(steps),
            form=None,
            status_change=change if change >= 0 else None,
        )

    @classmethod
    def from_detail(cls, info: Mapping[str, Any]) -> Approval:
        """Build from ``getapprovaldetail``'s ``info`` object (JSON)."""
        steps: list[ApprovalStep] = []
        for node, record in enumerate(info.get("sp_record") or []):
            for detail in record.get("details") or []:
                approver = str(dig(detail, "approver", "userid") or "").strip()
                if approver:
                    steps.append(
                        ApprovalStep(
                            node=node,
                            approver=approver,
                            status=as_int(detail.get("sp_status")),
                            sp_time=as_int(detail.get("sptime")),
                        )
                    )
        form: list[FormControl] = []
        for content in dig(info, "apply_data", "contents") or []:
            titles = tuple(
                str(t.get("text", "")) for t in content.get("title") or [] if isinstance(t, Mapping)
            )
            form.append(
                FormControl(
                    control=str(content.get("control", "")),
                    titles=titles,
                    value=content.get("value") or {},
                )
            )
        sp_no = str(info.get("sp_no") or "").strip()
        if not sp_no:
            raise ValueError("approval detail without sp_no")
        return cls(
            sp_no=sp_no,
            sp_name=str(info.get("sp_name") or ""),
            sp_status=as_int(info.get("sp_status")),
            template_id=str(info.get("template_id") or ""),
            apply_time=as_int(info.get("apply_time")),
            applicant=str(dig(info, "applyer", "userid") or "").strip(),
            steps=tuple(steps),
            form=tuple(form),
        )

    def first_decisions(self) -> list[ApprovalStep]:
        """Each approver's earliest decision (one ``approval.decided`` per approver)."""
        first: dict[str, ApprovalStep] = {}
        for step in sorted(self.steps, key=lambda s: (s.sp_time, s.node)):
            if step.decision is not None and step.approver not in first:
                first[step.approver] = step
        return list(first.values())

    def last_decision_time(self) -> int:
        """When the latest decision was made; ``apply_time`` if nobody acted yet."""
        times = [s.sp_time for s in self.steps if s.decision is not None]
        return max([self.apply_time, *times])


@dataclass(frozen=True)
class OnTimeRule:
    """When an approval of one template counts as submitted on time.

    The reference time is read from the form: the first control whose title is in
    ``titles`` (if given), else the first control of a type in ``controls``
    (``Vacation``, ``Date``, ``DateRange``, ``Attendance``). Then:
    ``min_hours_before``: submitted at least that long before the reference (leave);
    ``max_hours_after``: submitted at most that long after the reference (expenses).
    """

    controls: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()
    min_hours_before: float | None = None
    max_hours_after: float | None = None

    def reference_time(self, form: Sequence[FormControl]) -> int | None:
        """The reference Unix time found in ``form``, or None."""
        if self.titles:
            for control in form:
                if set(control.titles) & set(self.titles):
                    seconds = control.timestamp()
                    if seconds is not None:
                        return seconds
        for control in form:
            if control.control in self.controls:
                seconds = control.timestamp()
                if seconds is not None:
                    return seconds
        return None

    def is_on_time(self, apply_time: int, reference: int) -> bool:
        """Apply the thresholds to ``apply_time`` against ``reference`` (Unix seconds)."""
        hours_before = (reference - apply_time) / 3600
        if self.min_hours_before is not None and hours_before < self.min_hours_before:
            return False
        return not (self.max_hours_after is not None and -hours_before > self.max_hours_after)


@dataclass(frozen=True)
class ApprovalPolicy:
    """On-time rules keyed by template name (SpName) or template id."""

    rules: Mapping[str, OnTimeRule] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Mapping[str, Mapping[str, Any]]) -> ApprovalPolicy:
        """Build from plain data (settings, YAML), e.g.
        ``{"请假": {"controls": ["Vacation"], "min_hours_before": 24}}``.

        Raises ValueError naming the template and field for anything unknown, so a
        typo fails at startup instead of silently making every approval "unknown".
        """
        allowed = {"controls", "titles", "min_hours_before", "max_hours_after"}
        rules: dict[str, OnTimeRule] = {}
        for template, spec in config.items():
            unknown = sorted(set(spec) - allowed)
            if unknown:
                raise ValueError(
                    f"on-time rule for {template!r}: unknown field(s) {unknown}; "
                    f"use {sorted(allowed)}"
                )
            before, after = spec.get("min_hours_before"), spec.get("max_hours_after")
            if before is None and after is None:
                raise ValueError(
                    f"on-time rule for {template!r} needs min_hours_before or max_hours_after"
                )
            rules[template] = OnTimeRule(
                controls=tuple(str(c) for c in spec.get("controls") or ()),
                titles=tuple(str(t) for t in spec.get("titles") or ()),
                min_hours_before=None if before is None else float(before),
                max_hours_after=None if after is None else float(after),
            )
        return cls(rules)

    def rule_for(self, approval: Approval) -> OnTimeRule | None:
        """The rule for this approval's template, by id first, then by name."""
        return self.rules.get(approval.template_id) or self.rules.get(approval.sp_name)

    def on_time(self, approval: Approval) -> tuple[bool | None, bool]:
        """Return ``(on_time, needs_detail)``.

        ``on_time`` is None when there is no rule for the template or the reference
        date is unknown; ``needs_detail`` is True when the detail API would supply
        the missing form (the approval came from a callback).
        """
        rule = self.rule_for(approval)
        if rule is None:
            return None, False
        if approval.form is None:
            return None, True
        reference = rule.reference_time(approval.form)
        if reference is None or approval.apply_time <= 0:
            return None, False
        return rule.is_on_time(approval.apply_time, reference), False


DEFAULT_APPROVAL_POLICY = ApprovalPolicy(
    {
        # Leave must be requested at least a day ahead of its start.
        "请假": OnTimeRule(controls=("Vacation", "DateRange"), min_hours_before=24),
        # Expenses must be claimed within 30 days of the expense date.
        "报销": OnTimeRule(
            controls=("Date",),
            titles=("费用日期", "报销日期", "发生日期", "日期"),
            max_hours_after=30 * 24,
        ),
        # Business trips must be requested before they start.
        "出差": OnTimeRule(controls=("Attendance", "DateRange", "Date"), min_hours_before=0),
    }
)


@dataclass
class ApprovalEvents:
    """Events derived from one approval's state.

    ``incomplete`` holds a submitted event whose ``on_time`` is unknown only because
    the callback lacks the form; ``needs_detail`` says the detail API would complete it.
    """

    events: list[EventIn]
    incomplete: list[EventIn]
    needs_detail: bool


def approval_events(
    approval: Approval, policy: ApprovalPolicy = DEFAULT_APPROVAL_POLICY
) -> ApprovalEvents:
    """All events implied by the approval's current state.

    ``approval.submitted`` (applicant, at ApplyTime, with ``on_time``);
    ``approval.decided`` per approver who acted (at their SpTime, with
    ``turnaround_hours`` from ApplyTime); ``approval.approved``/``rejected`` when the
    final status says so (at the last decision); ``approval.revoked`` for SpStatus 4/6.
    Revocation carries no time of its own in the detail API, so it uses the last known
    time of the approval: callback and pull then agree on the payload.
    """
    if not approval.applicant:
        raise ValueError(f"approval {approval.sp_no} has no applicant")
    if approval.apply_time <= 0:
        # Never an approval "of 1970": a detail without apply_time is refused.
        raise ValueError(f"approval {approval.sp_no} has no apply_time")
    base = {
        "sp_no": approval.sp_no,
        "template": approval.sp_name,
        "template_id": approval.template_id,
    }
    applied_at = to_datetime(approval.apply_time)
    events: list[EventIn] = []
    incomplete: list[EventIn] = []

    on_time, needs_detail = policy.on_time(approval)
    submitted = make_event(
        f"approval:{approval.sp_no}:submitted",
        "approval.submitted",
        approval.applicant,
        applied_at,
        {**base, "on_time": on_time},
    )
    (incomplete if needs_detail else events).append(submitted)

    for step in approval.first_decisions():
        events.append(
            make_event(
                f"approval:{approval.sp_no}:decided:{step.approver}",
                "approval.decided",
                step.approver,
                to_datetime(step.sp_time),
                {
                    **base,
                    "applicant": approval.applicant,
                    "decision": step.decision,
                    "turnaround_hours": round(max(0, step.sp_time - approval.apply_time) / 3600, 2),
                },
            )
        )

    final: str | None = None
    if approval.sp_status in (SP_APPROVED, SP_PAID):
        final = "approved"
    elif approval.sp_status == SP_REJECTED:
        final = "rejected"
    elif approval.sp_status in (SP_REVOKED, SP_REVOKED_AFTER_APPROVAL):
        final = "revoked"
    if final is not None:
        events.append(
            make_event(
                f"approval:{approval.sp_no}:{final}",
                f"approval.{final}",
                approval.applicant,
                to_datetime(approval.last_decision_time()),
                {**base, "sp_status": approval.sp_status},
            )
        )
    return ApprovalEvents(events=events, incomplete=incomplete, needs_detail=needs_detail)


def events_from_approval_detail(
    info: Mapping[str, Any], policy: ApprovalPolicy = DEFAULT_APPROVAL_POLICY
) -> list[EventIn]:
    """Events for one pulled approval (``getapprovaldetail``'s ``info``).

    Same external ids and payloads as the callbacks for that approval; the detail
    carries the form, so nothing is left incomplete.
    """
    result = approval_events(Approval.from_detail(info), policy)
    return result.events + result.incomplete
