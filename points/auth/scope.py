"""Which departments a person may look into: the whole company, or the subtrees they run."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from points.auth.permissions import Permission, Principal
from points.errors import Forbidden
from points.i18n import _
from points.org.service import subtree_ids


async def visible_departments(session: AsyncSession, principal: Principal) -> set[int] | None:
    """None means every department; otherwise the ids this person may see."""
    if principal.can(Permission.view_company):
        return None
    if not principal.can(Permission.view_department):
        return set()
    visible: set[int] = set()
    for department_id in principal.head_of:
        visible.update(await subtree_ids(session, department_id))
    return visible


async def require_department(
    session: AsyncSession, principal: Principal, department_id: int
) -> None:
    visible = await visible_departments(session, principal)
    if visible is not None and department_id not in visible:
        raise Forbidden(_("You can only see the departments you run."))
