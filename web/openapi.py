"""The OpenAPI document for /api/v1, kept next to the routes it describes."""

from __future__ import annotations

from typing import Any

from web.openapi_operations import OPERATIONS_PATHS

_ERROR = {"$ref": "#/components/schemas/Error"}

_REDEMPTION_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}

REWARD_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/leaderboards/{period}": {
        "get": {
            "summary": "A leaderboard: top N and the viewer (or `around`) with two neighbours",
            "description": "period: week, month, quarter, year, all or campaign (with from/to). "
            "Closed weeks and months answer their frozen (published) result with "
            "adjustments. view=departments ranks departments by points per head and "
            "participation (departments under 5 people folded into their parent).",
            "parameters": [
                {"name": "period", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "key", "in": "query", "schema": {"type": "string"}},
                {"name": "scope", "in": "query", "schema": {"type": "string"}},
                {"name": "around", "in": "query", "schema": {"type": "string"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 200}},
                {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
                {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
                {"name": "view", "in": "query", "schema": {"enum": ["people", "departments"]}},
                {"name": "order", "in": "query", "schema": {"enum": ["per_head", "participation"]}},
            ],
        }
    },
    "/api/v1/dashboard": {
        "get": {
            "summary": "Adoption figures of a department subtree (heads: their own; HR: any)",
            "parameters": [
                {"name": "department", "in": "query", "schema": {"type": "integer"}},
                {"name": "period", "in": "query", "schema": {"enum": ["week", "month", "quarter"]}},
                {"name": "key", "in": "query", "schema": {"type": "string"}},
            ],
        }
    },
    "/api/v1/rewards": {
        "get": {"summary": "The catalogue the caller may redeem, with affordability"},
        "post": {
            "summary": "Add a reward (HR/admin)",
            "requestBody": {
                "content": {
                    "application/json": {
                        "example": {
                            "name": "咖啡券",
                            "price": 30,
                            "stock": 100,
                            "fulfilment": "voucher",
                        }
                    }
                }
            },
        },
    },
    "/api/v1/redemptions": {
        "post": {
            "summary": "Request a redemption (the price is held); honours Idempotency-Key",
            "parameters": [
                {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}
            ],
            "requestBody": {
                "content": {
                    "application/json": {
                        "example": {"reward_id": 1, "employee": "zhangsan (HR/admin only)"}
                    }
                }
            },
        }
    },
    "/api/v1/redemptions/{id}": {
        "get": {
            "summary": "One redemption (owner, HR, or its approver)",
            "parameters": [_REDEMPTION_ID],
        }
    },
    **{
        f"/api/v1/redemptions/{{id}}/{action}": {
            "post": {"summary": summary, "parameters": [_REDEMPTION_ID]}
        }
        for action, summary in (
            ("approve", "Approve (the reward's approver)"),
            ("decline", 'Decline with {"reason": …}; the hold is released'),
            ("fulfil", "Fulfil (HR): points spent, voucher code given"),
            ("cancel", "Cancel (the requester, before fulfilment)"),
        )
    },
}

PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/employees": {
        "get": {
            "summary": "Employees, paged; a head sees their subtree",
            "parameters": [
                {"name": "department", "in": "query", "schema": {"type": "integer"}},
                {"name": "q", "in": "query", "schema": {"type": "string"}},
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                },
            ],
        }
    },
    "/api/v1/employees/{userid}": {
        "get": {
            "summary": "One employee (self, or someone in a department the caller may see)",
            "parameters": [
                {"name": "userid", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
        }
    },
    **REWARD_PATHS,
    **OPERATIONS_PATHS,
}


def openapi_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for path, operations in PATHS.items():
        paths[path] = {}
        for method, operation in operations.items():
            paths[path][method] = {
                **operation,
                "security": [{"bearer": []}],
                "responses": {
                    "200": {"description": "OK"},
                    "401": {
                        "description": "No or bad token",
                        "content": {"application/json": {"schema": _ERROR}},
                    },
                    "403": {
                        "description": "Not allowed",
                        "content": {"application/json": {"schema": _ERROR}},
                    },
                },
            }
    return {
        "openapi": "3.1.0",
        "info": {"title": "WeCom Points API", "version": "1"},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        }
                    },
                }
            },
        },
    }
