"""The OpenAPI document of /api/v1, built from the pydantic models the routes use.

Each operation names its request model and its answer models by status; their JSON
schemas go under ``components/schemas``. ``tests/web/test_openapi.py`` fails when a
route under /api/v1 is missing here, and the fuzz run checks every answer against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from points.events.schemas import EventIn
from points.rewards.schemas import (
    DeclineIn,
    RedemptionIn,
    RedemptionPublic,
    RewardCreate,
    RewardPublic,
)
from web.api_schemas import (
    AdjustmentIn,
    AdjustmentOut,
    Catalogue,
    EmployeeFigures,
    EmployeePage,
    EntryPage,
    Error,
    EventResults,
    IntegrityFlagList,
    PendingAwardOut,
    PendingAwardPage,
    PendingOut,
    ReviewDecisionIn,
)
from web.openapi_operations import OPERATIONS_PATHS

ANY_OBJECT: dict[str, Any] = {"type": "object"}
# Every operation may answer these; all carry the Error body.
ERRORS = {
    400: "Malformed: bad JSON, control characters, nested too deep",
    401: "No token, or a malformed, unknown or revoked one",
    403: "The token's role may not do this (or it is read-only)",
    404: "No such thing, or one the caller may not see",
    409: "It is no longer in a state that allows this",
    413: "The body is larger than POINTS_MAX_BODY_BYTES",
    422: "A field is missing, of the wrong type or out of range",
    429: "Too many rejected tokens from this client: see Retry-After",
}


def _param(name: str, where: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema}


USERID = _param("userid", "path", {"type": "string", "minLength": 1, "maxLength": 64})
ID = _param("id", "path", {"type": "integer", "minimum": 1, "maximum": 999_999_999})
PAGE = [
    _param("offset", "query", {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}),
    _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 200}),
]
IDEMPOTENCY = _param("Idempotency-Key", "header", {"type": "string", "maxLength": 100})


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    answers: dict[int, type[BaseModel] | dict[str, Any]]
    body: type[BaseModel] | dict[str, Any] | None = None
    parameters: list[dict[str, Any]] = field(default_factory=list)


def _transition(action: str, summary: str, body: type[BaseModel] | None = None) -> Operation:
    return Operation(
        "post",
        f"/api/v1/redemptions/{{id}}/{action}",
        summary,
        {200: RedemptionPublic},
        body=body,
        parameters=[ID],
    )


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "post",
        "/api/v1/events",
        "Submit one normalized event or a batch (≤ 1,000); per event created, duplicate, "
        "conflict or invalid (207 when any is invalid). Events about the submitter are "
        "refused; the submitter is recorded.",
        {200: EventResults, 207: EventResults},
        body={
            "oneOf": [
                {"$ref": "#/components/schemas/EventIn"},
                {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/EventIn"},
                    "minItems": 1,
                    "maxItems": 1000,
                },
            ]
        },
        parameters=[_param("source", "query", {"type": "string", "pattern": "^[a-z_]{1,32}$"})],
    ),
    Operation(
        "get",
        "/api/v1/employees",
        "Employees, paged; a head sees their subtree",
        {200: EmployeePage},
        parameters=[
            _param("department", "query", {"type": "integer", "minimum": 1}),
            _param("q", "query", {"type": "string", "maxLength": 64}),
            *PAGE,
        ],
    ),
    Operation(
        "get",
        "/api/v1/employees/{userid}",
        "One employee (self, or someone in a department the caller may see)",
        {200: EmployeeFigures},
        parameters=[USERID],
    ),
    Operation(
        "get",
        "/api/v1/employees/{userid}/entries",
        "One employee's ledger entries, newest first: why each point was given",
        {200: EntryPage},
        parameters=[USERID, *PAGE],
    ),
    Operation(
        "post",
        "/api/v1/employees/{userid}/adjustments",
        "Adjust someone's points with a reason (HR/admin): 201 applied, 202 waiting for a "
        "second HR/admin person (above POINTS_ADJUSTMENT_REVIEW_ABOVE), 403 for oneself",
        {201: AdjustmentOut, 202: AdjustmentOut},
        body=AdjustmentIn,
        parameters=[USERID, IDEMPOTENCY],
    ),
    *(
        Operation(
            "post",
            f"/api/v1/adjustments/{{id}}/{action}",
            summary,
            {200: PendingOut},
            parameters=[ID],
        )
        for action, summary in (
            ("approve", "A second HR/admin person approves a waiting adjustment"),
            ("reject", "Reject a waiting adjustment; nothing is written"),
        )
    ),
    Operation(
        "get",
        "/api/v1/reviews",
        "Awards of rules with `review` waiting for the caller's decision, oldest first: "
        "HR/admin see all, heads the `by: head` ones of their departments; never one's own",
        {200: PendingAwardPage},
    ),
    *(
        Operation(
            "post",
            f"/api/v1/reviews/{{id}}/{action}",
            summary,
            {200: PendingAwardOut},
            body=ReviewDecisionIn,
            parameters=[ID],
        )
        for action, summary in (
            (
                "accept",
                "Accept a pending award: posted to the ledger with its event and rule "
                "(a repeat answers the same; one's own is 403)",
            ),
            ("reject", "Reject a pending award with an optional reason; nothing is paid"),
        )
    ),
    Operation(
        "get",
        "/api/v1/leaderboards/{period}",
        "A leaderboard: top N and the viewer (or `around`) with two neighbours. period: "
        "week, month, quarter, year, all or campaign (with from/to). view=departments "
        "ranks departments by points per head and participation.",
        {200: ANY_OBJECT},
        parameters=[
            _param(
                "period",
                "path",
                {"enum": ["week", "month", "quarter", "year", "all", "campaign"]},
            ),
            _param("key", "query", {"type": "string", "maxLength": 32}),
            _param("scope", "query", {"type": "string", "maxLength": 32}),
            _param("around", "query", {"type": "string", "maxLength": 64}),
            _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 200}),
            _param("from", "query", {"type": "string", "format": "date"}),
            _param("to", "query", {"type": "string", "format": "date"}),
            _param("view", "query", {"enum": ["people", "departments"]}),
            _param("order", "query", {"enum": ["per_head", "participation"]}),
        ],
    ),
    Operation(
        "get",
        "/api/v1/dashboard",
        "Adoption figures of a department subtree (heads: their own; HR: any)",
        {200: ANY_OBJECT},
        parameters=[
            _param("department", "query", {"type": "integer", "minimum": 1}),
            _param("period", "query", {"enum": ["week", "month", "quarter"]}),
            _param("key", "query", {"type": "string", "maxLength": 32}),
        ],
    ),
    Operation(
        "get",
        "/api/v1/integrity/flags",
        "The integrity review's queue (HR/admin): patterns worth a look, each with its "
        "evidence, since when, and open or reviewed; open first. Never a penalty.",
        {200: IntegrityFlagList},
        parameters=[_param("status", "query", {"enum": ["open", "reviewed"]})],
    ),
    Operation("get", "/api/v1/rewards", "The catalogue the caller may redeem", {200: Catalogue}),
    Operation(
        "post",
        "/api/v1/rewards",
        "Add a reward (HR/admin)",
        {201: RewardPublic},
        body=RewardCreate,
    ),
    Operation(
        "post",
        "/api/v1/redemptions",
        "Request a redemption (the price is held); `employee` only for HR/admin acting "
        "on someone's behalf; honours Idempotency-Key (a retry answers 200)",
        {200: RedemptionPublic, 201: RedemptionPublic},
        body=RedemptionIn,
        parameters=[IDEMPOTENCY],
    ),
    Operation(
        "get",
        "/api/v1/redemptions/{id}",
        "One redemption (owner, HR, or its approver)",
        {200: RedemptionPublic},
        parameters=[ID],
    ),
    _transition("approve", "Approve (the reward's approver; never one's own)"),
    _transition("decline", "Decline with a reason; the hold is released", DeclineIn),
    _transition("fulfil", "Fulfil (HR; never one's own): points spent, voucher code given"),
    _transition("cancel", "Cancel (the requester, before fulfilment)"),
)


def _schema_ref(
    target: type[BaseModel] | dict[str, Any],
    schemas: dict[str, Any],
    mode: Literal["validation", "serialization"] = "serialization",
) -> dict[str, Any]:
    if isinstance(target, dict):
        return target
    found = target.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
    for name, definition in found.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas.setdefault(target.__name__, found)
    return {"$ref": f"#/components/schemas/{target.__name__}"}


def openapi_document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    error = _schema_ref(Error, schemas)
    _schema_ref(EventIn, schemas, "validation")
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        responses: dict[str, Any] = {
            str(status): {
                "description": "OK",
                "content": {"application/json": {"schema": _schema_ref(model, schemas)}},
            }
            for status, model in op.answers.items()
        }
        for status, description in ERRORS.items():
            responses[str(status)] = {
                "description": description,
                "content": {"application/json": {"schema": error}},
            }
        operation: dict[str, Any] = {
            "summary": op.summary,
            "security": [{"bearer": []}],
            "parameters": op.parameters,
            "responses": responses,
        }
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": _schema_ref(op.body, schemas, "validation")}
                },
            }
        paths.setdefault(op.path, {})[op.method] = operation
    for path, operations in OPERATIONS_PATHS.items():  # appeals, one's data, spend report
        for method, described in operations.items():
            answers = {"application/json": {"schema": ANY_OBJECT}}
            if path == "/api/v1/reports/spend":
                answers["text/csv"] = {"schema": {"type": "string"}}
            paths.setdefault(path, {})[method] = {
                **described,
                "security": [{"bearer": []}],
                "parameters": [
                    p if p.get("in") != "path" else {**p, "schema": ID["schema"]}
                    for p in described.get("parameters", [])
                ],
                "responses": {
                    "200": {"description": "OK", "content": answers},
                    "201": {"description": "Created", "content": answers},
                    **{
                        str(status): {
                            "description": description,
                            "content": {"application/json": {"schema": error}},
                        }
                        for status, description in ERRORS.items()
                    },
                },
            }
    return {
        "openapi": "3.1.0",
        "info": {"title": "WeCom Points API", "version": "1"},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        },
    }
