"""The OpenAPI document for /api/v1, kept next to the routes it describes."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}

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
