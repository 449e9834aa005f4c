"""HR's rule pages: the active rules, the editor, try it, simulate, diff, activate, history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from points.auth.permissions import Permission
from points.errors import InvalidInput
from points.i18n import _, current_locale
from points.org.models import Employee
from points.rulesets import service
from points.rulesets.models import RuleVersion, VersionStatus
from points.team_goals import service as team_goals
from points.workbench import service as workbench
from points.workbench.simulation import simulate_stored, window_for
from rules import SimulationReport, parse_ruleset
from rules.catalog import BUILTIN_EVENT_TYPES, SOURCE_KINDS
from rules.loader import DEFAULT_RULES_PATH
from web.forms import int_param
from web.security import Ctx, page
from web.templating import render

SIMULATION_DAYS = (30, 90)
MAX_SOURCE = 200_000


async def _form_text(request: Request, name: str, limit: int = MAX_SOURCE) -> str:
    form = await request.form()
    value = form.get(name, "")
    text = value if isinstance(value, str) else ""
    if len(text) > limit:
        raise InvalidInput(_("This is too long."))
    return text.replace("\r\n", "\n")


def _days(request: Request) -> int:
    days = int_param(request, "days") or 30
    if days not in SIMULATION_DAYS:
        raise InvalidInput(_("Choose 30 or 90 days."))
    return days


async def _simulation(
    ctx: Ctx, candidate: RuleVersion, active: RuleVersion, days: int
) -> SimulationReport:
    window = window_for(ctx.settings.zone, days=days)
    return await simulate_stored(
        ctx.session,
        service.compiled(candidate),
        service.compiled(active),
        window,
        ctx.settings.zone,
    )


def _titles(*versions: RuleVersion) -> Callable[[str], str]:
    """Rule id → title in the reader's language, from these versions (first wins)."""
    titles: dict[str, str] = {}
    for version in versions:
        for rule in workbench.rules_of(version):
            titles.setdefault(rule.id, workbench.rule_title(rule))
    return lambda rule_id: titles.get(rule_id, rule_id)


async def _names(ctx: Ctx, report: SimulationReport) -> dict[str, str]:
    from sqlmodel import col, select

    wanted = [p for p, _t in report.winners(10) + report.losers(10)]
    if not wanted:
        return {}
    rows = await ctx.session.exec(
        select(Employee.userid, Employee.name).where(col(Employee.userid).in_(wanted))
    )
    return dict(rows.all())


@page(Permission.manage_rules)
async def index(ctx: Ctx) -> Response:
    """The active version's rules with what each gave in the last 30 days."""
    active = await service.ensure_active(ctx.session)
    await ctx.session.commit()
    return render(
        ctx.request,
        "rules/index.html",
        active=active,
        rules=workbench.rules_of(active),
        figures=await workbench.rule_figures(ctx.session, days=30),
        title_of=workbench.rule_title,
    )


@page(Permission.manage_rules)
async def editor(ctx: Ctx) -> Response:
    """The YAML editor, starting from a stored version (default: the active one)."""
    version_id = int_param(ctx.request, "version")
    active = await service.ensure_active(ctx.session)
    await ctx.session.commit()
    start = await service.get_version(ctx.session, version_id) if version_id else active
    return render(
        ctx.request,
        "rules/editor.html",
        source=start.source,
        based_on=start,
        errors=[],
        note="",
        example=_example(),
    )


def _example() -> str:
    # The first two rules of the shipped defaults: a real, commented example.
    text = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    start = text.index("- id: approval-on-time")
    end = text.index("- id: doc-created")
    return text[start:end].rstrip()


@page(Permission.manage_rules)
async def validate(ctx: Ctx) -> Response:
    """htmx: the errors block for the editor's current text."""
    source = await _form_text(ctx.request, "source")
    rule_file, errors = parse_ruleset(source)
    return render(
        ctx.request,
        "rules/editor.html",
        block="errors",
        errors=errors,
        checked=True,
        rule_count=len(rule_file.rules) if rule_file else 0,
    )


@page(Permission.manage_rules)
async def save(ctx: Ctx) -> Response:
    """Save the editor's text as a draft version; invalid text comes back with its errors."""
    source = await _form_text(ctx.request, "source")
    note = (await _form_text(ctx.request, "note", 500)).strip()
    rule_file, errors = parse_ruleset(source)
    if rule_file is None:
        return render(
            ctx.request,
            "rules/editor.html",
            status_code=422,
            source=source,
            based_on=None,
            errors=errors,
            saving=True,
            note=note,
            example=_example(),
        )
    draft = await service.save_draft(
        ctx.session, source=source, author=ctx.principal.audit_name, note=note
    )
    await ctx.session.commit()
    return RedirectResponse(f"/rules/versions/{draft.id}?saved=1", status_code=303)


@page(Permission.manage_rules)
async def versions(ctx: Ctx) -> Response:
    """Every version with who wrote and activated it, and when."""
    await service.ensure_active(ctx.session)
    await ctx.session.commit()
    return render(
        ctx.request, "rules/versions.html", versions=await service.list_versions(ctx.session)
    )


@page(Permission.manage_rules)
async def version_page(ctx: Ctx) -> Response:
    version = await service.get_version(ctx.session, int(ctx.request.path_params["id"]))
    active = await service.ensure_active(ctx.session)
    await ctx.session.commit()
    return render(
        ctx.request,
        "rules/version.html",
        version=version,
        active=active,
        rules=workbench.rules_of(version),
        title_of=workbench.rule_title,
        saved=ctx.request.query_params.get("saved") == "1",
        activated=ctx.request.query_params.get("activated") == "1",
    )


@page(Permission.manage_rules)
async def diff(ctx: Ctx) -> Response:
    """Two versions side by side: rules added, removed, changed, and the YAML diff."""
    active = await service.ensure_active(ctx.session)
    await ctx.session.commit()
    old_id = int_param(ctx.request, "old") or active.id
    new_id = int_param(ctx.request, "new") or active.id
    assert old_id is not None and new_id is not None
    old = await service.get_version(ctx.session, old_id)
    new = await service.get_version(ctx.session, new_id)
    return render(
        ctx.request,
        "rules/diff.html",
        diff=workbench.diff_versions(old, new),
        versions=await service.list_versions(ctx.session),
    )


@page(Permission.manage_rules)
async def try_it(ctx: Ctx) -> Response:
    """Paste an event (or pick a recent one) and see what each rule makes of it, and why."""
    request = ctx.request
    active = await service.ensure_active(ctx.session)
    await ctx.session.commit()
    result = None
    error = None
    if request.method == "POST":
        form = await request.form()
        raw_version = str(form.get("version", "") or active.id)
        version = await service.get_version(
            ctx.session,
            int(raw_version) if raw_version.isdigit() and len(raw_version) <= 9 else active.id or 0,
        )
        event_text = await _form_text(request, "event", 20_000)
        try:
            data = workbench.event_from_json(event_text)
            result = await workbench.try_event(
                ctx.session, ctx.settings, service.compiled(version), data
            )
        except InvalidInput as problem:
            error = problem.message
    else:
        version_id = int_param(request, "version")
        version = await service.get_version(ctx.session, version_id) if version_id else active
        event_id = int_param(request, "event")
        event_text = (
            await workbench.stored_event_json(ctx.session, event_id)
            if event_id
            else _sample_event()
        )
    return render(
        request,
        "rules/try.html",
        block="result",
        version=version,
        versions=await service.list_versions(ctx.session),
        event_text=event_text,
        recent=await workbench.recent_events(ctx.session),
        result=result,
        error=error,
        title_of=workbench.rule_title,
    )


def _sample_event() -> str:
    return (
        '{\n  "type": "approval.submitted",\n  "actor": "zhangsan",\n'
        f'  "occurred_at": "{date.today().isoformat()}T09:30:00+08:00",\n'
        '  "attributes": {"template": "报销", "sp_no": "202611240001", "on_time": true}\n}'
    )


@page(Permission.manage_rules)
async def simulate(ctx: Ctx) -> Response:
    """A version against the active one over the last 30 or 90 days: table and chart."""
    request = ctx.request
    active = await service.ensure_active(ctx.session)
    await ctx.session.commit()
    days = _days(request)
    version_id = int_param(request, "version")
    report = names = candidate = None
    if version_id:
        candidate = await service.get_version(ctx.session, version_id)
        report = await _simulation(ctx, candidate, active, days)
        names = await _names(ctx, report)
    return render(
        request,
        "rules/simulate.html",
        active=active,
        candidate=candidate,
        versions=await service.list_versions(ctx.session),
        days=days,
        report=report,
        names=names or {},
        rule_title=_titles(candidate, active) if candidate else None,
        team_goals=await team_goals.projected(
            ctx.session, ctx.settings, service.compiled(candidate)
        )
        if candidate
        else [],
        projection=True,
    )


@page(Permission.manage_rules)
async def activate(ctx: Ctx) -> Response:
    """Confirm (with the simulation summary) and activate; optional back-apply window."""
    request = ctx.request
    version = await service.get_version(ctx.session, int(request.path_params["id"]))
    active = await service.ensure_active(ctx.session)
    await ctx.session.commit()
    if request.method == "POST":
        form = await request.form()
        choice = str(form.get("backapply", "none"))
        window = None
        if choice in ("30", "90"):
            window = window_for(ctx.settings.zone, days=int(choice))
        elif choice == "custom":
            window = window_for(
                ctx.settings.zone,
                since=_form_date(str(form.get("since", ""))),
                until=_form_date(str(form.get("until", "")), required=False),
            )
        elif choice != "none":
            raise InvalidInput(_("Choose a back-apply window."))
        await workbench.activate(
            ctx.session,
            ctx.settings,
            version_id=version.id or 0,
            author=ctx.principal.audit_name,
            ip=ctx.client_ip,
            backapply=window,
        )
        await ctx.session.commit()
        return RedirectResponse(f"/rules/versions/{version.id}?activated=1", status_code=303)
    report = None
    if version.id != active.id:
        report = await _simulation(ctx, version, active, 30)
    return render(
        request,
        "rules/activate.html",
        version=version,
        active=active,
        report=report,
        rollback=version.status == VersionStatus.retired,
        rule_title=_titles(version, active),
        names=await _names(ctx, report) if report else {},
    )


@page(Permission.manage_rules)
async def sources(ctx: Ctx) -> Response:
    """Where each activity comes from: the event catalogue, for HR."""
    return render(
        ctx.request,
        "rules/sources.html",
        types=list(BUILTIN_EVENT_TYPES.values()),
        source_kinds=SOURCE_KINDS,
        english=current_locale.get() == "en",
    )


def _form_date(raw: str, required: bool = True) -> date | None:
    if not raw:
        if required:
            raise InvalidInput(_("Give the first day of the back-apply window."))
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(_("{name} must be a date like 2026-11-24").format(name=raw)) from None


routes = [
    Route("/rules", index),
    Route("/rules/edit", editor),
    Route("/rules/validate", validate, methods=["POST"]),
    Route("/rules/drafts", save, methods=["POST"]),
    Route("/rules/versions", versions),
    Route("/rules/versions/{id:int}", version_page),
    Route("/rules/versions/{id:int}/activate", activate, methods=["GET", "POST"]),
    Route("/rules/diff", diff),
    Route("/rules/try", try_it, methods=["GET", "POST"]),
    Route("/rules/simulate", simulate),
    Route("/rules/sources", sources),
]
