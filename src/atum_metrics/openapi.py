"""The OpenAPI 3 description of the REST routes, encoded once."""

from __future__ import annotations

import functools
from typing import Any

import orjson

_ERROR = {"$ref": "#/components/schemas/Error"}
_SNAPSHOT = {"$ref": "#/components/schemas/Snapshot"}
_ORG_PARAM = {
    "name": "organization_id",
    "in": "query",
    "required": False,
    "description": "Another organization; needs the metrics:admin scope.",
    "schema": {"type": "string", "format": "uuid"},
}


def _errors(*codes: int) -> dict[str, Any]:
    return {
        str(c): {"description": "Error", "content": {"application/json": {"schema": _ERROR}}}
        for c in codes
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
_MINUTES = {"type": "number", "nullable": True}

_COMPONENTS = {
    "securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        "query": {"type": "apiKey", "in": "query", "name": "access_token"},
    },
    "schemas": {
        "Error": {
            "type": "object",
            "required": ["error", "detail"],
            "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
        },
        "Snapshot": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "organization_id": {"type": "string", "format": "uuid"},
                "snapshot_ts": {"type": "string", "format": "date-time"},
                "tickets_by_status": _COUNTS,
                "tickets_by_priority": _COUNTS,
                "frt_p50": _MINUTES,
                "frt_p95": _MINUTES,
                "mttr_p50": _MINUTES,
                "mttr_p95": _MINUTES,
                "sla_compliance_pct": {"type": "number", "nullable": True},
                "agent_load": _COUNTS,
            },
        },
    },
}


def _paths() -> dict[str, Any]:
    history = {
        "type": "object",
        "properties": {
            "organization_id": {"type": "string", "format": "uuid"},
            "range": {"type": "string", "nullable": True},
            "from": {"type": "string", "format": "date-time"},
            "to": {"type": "string", "format": "date-time"},
            "items": {"type": "array", "items": _SNAPSHOT},
        },
    }
    orgs = {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "name": {"type": "string"},
                        "latest_snapshot_ts": {
                            "type": "string",
                            "format": "date-time",
                            "nullable": True,
                        },
                    },
                },
            }
        },
    }
    return {
        "/api/v1/metrics/live": {
            "get": {
                "summary": "The latest snapshot (ETag = its id; If-None-Match → 304)",
                "parameters": [_ORG_PARAM],
                "responses": {
                    "200": _json(_SNAPSHOT, "The latest snapshot"),
                    "304": {"description": "Not modified"},
                    **_errors(400, 401, 403, 404),
                },
            }
        },
        "/api/v1/metrics/history": {
            "get": {
                "summary": "Snapshots over (from, to], oldest first, downsampled to max_points",
                "parameters": [
                    _ORG_PARAM,
                    _query("range", {"type": "string", "default": "24h"}, "e.g. 15m, 24h, 7d"),
                    _query("from", {"type": "string", "format": "date-time"}, "ISO-8601 with zone"),
                    _query("to", {"type": "string", "format": "date-time"}, "default now"),
                    _query(
                        "max_points",
                        {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000},
                        "most items returned",
                    ),
                ],
                "responses": {"200": _json(history, "The snapshots"), **_errors(400, 401, 403)},
            }
        },
        "/api/v1/metrics/stream": {
            "get": {
                "summary": "Server-Sent Events: the latest snapshot, then every new one",
                "parameters": [_ORG_PARAM],
                "responses": {
                    "200": {
                        "description": "text/event-stream",
                        "content": {"text/event-stream": {}},
                    },
                    **_errors(400, 401, 403, 429),
                },
            }
        },
        "/api/v1/organizations": {
            "get": {
                "summary": "Organizations the token may read",
                "responses": {"200": _json(orgs, "Organizations"), **_errors(401)},
            }
        },
    }


@functools.cache
def openapi() -> bytes:
    return orjson.dumps(
        {
            "openapi": "3.0.3",
            "info": {"title": "atum-metrics", "version": "1"},
            "security": [{"bearer": []}, {"query": []}],
            "paths": _paths(),
            "components": _COMPONENTS,
        }
    )
