"""OpenAPI paths of appeals, one's data export and the spend report."""

from __future__ import annotations

from typing import Any

from points.appeals.schemas import AppealIn, RejectIn, ResolveIn

_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _body(model: Any) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": model.model_json_schema()}},
    }


OPERATIONS_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/appeals": {
        "get": {
            "summary": "Appeals: HR/admin all, heads their subtrees, everyone else their own",
            "parameters": [
                {
                    "name": "status",
                    "in": "query",
                    "schema": {"enum": ["open", "resolved", "rejected"]},
                }
            ],
        },
        "post": {
            "summary": "File an appeal (the caller's own) about a ledger line or a day → 201",
            "requestBody": _body(AppealIn),
        },
    },
    "/api/v1/appeals/{id}": {
        "get": {"summary": "One appeal (someone else's is 404)", "parameters": [_ID]}
    },
    "/api/v1/appeals/{id}/resolve": {
        "post": {
            "summary": "Uphold with an adjustment linked to the appeal (HR/admin, not one's own)",
            "parameters": [_ID],
            "requestBody": _body(ResolveIn),
        }
    },
    "/api/v1/appeals/{id}/reject": {
        "post": {
            "summary": "Turn an appeal down with a reason (HR/admin, not one's own)",
            "parameters": [_ID],
            "requestBody": _body(RejectIn),
        }
    },
    "/api/v1/me/export": {
        "get": {
            "summary": "Everything kept about the caller: events, entries, redemptions, appeals"
        }
    },
    "/api/v1/reports/spend": {
        "get": {
            "summary": "Reward spend per reward or department (HR, finance, admin); CSV audited",
            "parameters": [
                {"name": "by", "in": "query", "schema": {"enum": ["reward", "department"]}},
                {"name": "since", "in": "query", "schema": {"type": "string", "format": "date"}},
                {"name": "until", "in": "query", "schema": {"type": "string", "format": "date"}},
                {"name": "format", "in": "query", "schema": {"enum": ["json", "csv"]}},
            ],
        }
    },
}
