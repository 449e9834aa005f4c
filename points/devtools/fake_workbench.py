"""The fake WeCom's workbench endpoints: ``set_workbench_template`` and ``set_workbench_data``.

Kept beside :mod:`points.devtools.fake_wecom`, which routes to it. Like WeCom it
refuses a template that is not ``keydata``-shaped (at most 4 items, each with
``key`` and ``data``), data for a member it does not know (60111), a wrong AgentId
(40056), and more than :attr:`FakeWorkbench.limit` data calls a minute for one person
(45009). It records every call, so tests can check the limit was never reached.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_ITEMS = 4


def _error(errcode: int, errmsg: str) -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": errmsg}


def _items_problem(body: dict[str, Any]) -> str:
    if body.get("type") != "keydata":
        return "type must be keydata"
    keydata = body.get("keydata")
    items = keydata.get("items") if isinstance(keydata, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        return f"keydata.items must hold 1..{MAX_ITEMS} items"
    for item in items:
        if not isinstance(item, dict) or not item.get("key") or "data" not in item:
            return "every item needs key and data"
        if not isinstance(item["data"], str):
            return "data must be a string"
    return ""


@dataclass
class FakeWorkbench:
    """What the app set on the fake workbench."""

    limit: int = 10
    window: float = 60.0
    clock: Callable[[], float] = time.time
    template: dict[str, Any] | None = None
    #: The last data set per userid.
    data: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: (time, userid, accepted) of every data call.
    calls: list[tuple[float, str, bool]] = field(default_factory=list)

    def most_in_a_window(self, userid: str) -> int:
        """The most data calls for ``userid`` inside any window (accepted or not)."""
        times = sorted(t for t, user, _ok in self.calls if user == userid)
        best = 0
        for index, start in enumerate(times):
            best = max(best, sum(1 for t in times[index:] if t < start + self.window))
        return best

    def refused(self) -> int:
        return sum(1 for _t, _user, accepted in self.calls if not accepted)

    def set_template(self, agent_id: int, body: dict[str, Any]) -> dict[str, Any]:
        if str(body.get("agentid", "")) != str(agent_id):
            return _error(40056, "invalid agentid")
        problem = _items_problem(body)
        if problem:
            return _error(40058, f"invalid parameter: {problem}")
        self.template = body
        return {"errcode": 0, "errmsg": "ok"}

    def set_data(
        self, agent_id: int, users: list[dict[str, Any]], body: dict[str, Any]
    ) -> dict[str, Any]:
        if str(body.get("agentid", "")) != str(agent_id):
            return _error(40056, "invalid agentid")
        userid = str(body.get("userid", ""))
        if userid.lower() not in {str(u["userid"]).lower() for u in users}:
            return _error(60111, "userid not found")
        now = self.clock()
        recent = [t for t, user, _ok in self.calls if user == userid and t > now - self.window]
        if len(recent) >= self.limit:
            self.calls.append((now, userid, False))
            return _error(45009, "api freq out of limit, hint: [fake workbench]")
        problem = _items_problem(body)
        self.calls.append((now, userid, not problem))
        if problem:
            return _error(40058, f"invalid parameter: {problem}")
        self.data[userid] = body["keydata"]
        return {"errcode": 0, "errmsg": "ok"}
