"""The API's OpenAPI 3.1 document, generated from the operation registry and the models.

Served at ``GET /openapi.json`` (no token needed) and used by the schemathesis tests, so the
document cannot drift from what the API validates.
"""

from __future__ import annotations

from typing import Any

from retouch import ops
from retouch.models import FORMAT_CHOICES
from retouch.ops.registry import Param

_KINDS: dict[str, dict[str, Any]] = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "aspect": {"type": "string", "pattern": r"^\d+(\.\d+)?:\d+(\.\d+)?$"},
}


def _param_schema(p: Param) -> dict[str, Any]:
    if p.kind == "choice":
        schema: dict[str, Any] = {"type": "string", "enum": list(p.choices)}
    elif p.kind == "numbers":
        schema = {"type": "array", "items": {"type": "number", "minimum": 0}, "minItems": p.count, "maxItems": p.count}
    else:
        schema = dict(_KINDS.get(p.kind, {"type": "string"}))
    if p.minimum is not None and p.kind in ("int", "float"):
        schema["minimum"] = p.minimum
    if p.maximum is not None and p.kind in ("int", "float"):
        schema["maximum"] = p.maximum
    if p.default is not None:
        schema["default"] = p.default
    # null means "the default", as the API treats it
    return {"anyOf": [schema, {"type": "null"}], "description": p.help}


def _operation_schema(op: ops.Operation) -> dict[str, Any]:
    return {
        "type": "object",
        "title": op.name,
        "description": op.summary,
        "required": ["op"],
        "additionalProperties": False,
        "properties": {
            "op": {"const": op.name},
            "params": {
                "type": ["object", "null"],
                "additionalProperties": False,
                "properties": {p.name: _param_schema(p) for p in op.params},
            },
        },
    }


def _unauthorized() -> dict[str, Any]:
    """API Gateway's JWT authorizer answers 401 itself, in its own shape; the function answers
    401 in ours when a request reaches it without verified claims."""
    return {
        "description": "no or invalid token",
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/Error"},
                        {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}},
                    ]
                }
            }
        },
    }


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def document(max_images: int = 1000) -> dict[str, Any]:
    image_status = {"type": "string", "enum": ["pending", "queued", "succeeded", "failed"]}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Retouch API", "version": "1"},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["type", "message"],
                            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
                        }
                    },
                },
                "Operation": {"oneOf": [_operation_schema(o) for o in ops.REGISTRY.values()]},
                "Output": {
                    "oneOf": [
                        {
                            "type": "null",
                            "description": "the default: auto (the source's format where it can be written, "
                            "else JPEG, or PNG with transparency), quality 88",
                        },
                        {"type": "string", "enum": list(FORMAT_CHOICES)},
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "format": {"type": "string", "enum": list(FORMAT_CHOICES)},
                                "quality": {"type": "integer", "minimum": 1, "maximum": 100},
                            },
                        },
                    ]
                },
                "JobRequest": {
                    "type": "object",
                    "required": ["images", "operations"],
                    "additionalProperties": False,
                    "properties": {
                        "images": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": max_images,
                            "items": {
                                "type": "object",
                                "required": ["name", "content_type", "size"],
                                "additionalProperties": False,
                                "properties": {
                                    "name": {"type": "string", "minLength": 1, "maxLength": 255},
                                    "content_type": {"type": "string", "pattern": "^image/"},
                                    "size": {"type": "integer", "minimum": 0},
                                },
                            },
                        },
                        "operations": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": ops.registry.MAX_OPERATIONS,
                            "items": {"$ref": "#/components/schemas/Operation"},
                        },
                        "output": {"$ref": "#/components/schemas/Output"},
                        "callback_url": {
                            "type": ["string", "null"],
                            "maxLength": 2048,
                            "pattern": "^https://[^\\s]+$",
                            "description": "receives the job summary, signed (X-Retouch-Signature: sha256=HMAC), on completion",
                        },
                    },
                },
                "JobCreated": {
                    "type": "object",
                    "required": ["job_id", "status", "total", "uploads"],
                    "properties": {
                        "job_id": {"type": "string"},
                        "status": {"type": "string"},
                        "total": {"type": "integer"},
                        "uploads": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["image_id", "url", "fields"],
                                "properties": {
                                    "image_id": {"type": "string"},
                                    "name": {"type": "string"},
                                    "url": {"type": "string"},
                                    "fields": {"type": "object"},
                                },
                            },
                        },
                    },
                },
                "JobStatus": {
                    "type": "object",
                    "required": ["job_id", "status", "total", "succeeded", "failed", "remaining", "images"],
                    "properties": {
                        "job_id": {"type": "string"},
                        "status": {"type": "string", "enum": ["running", "complete"]},
                        "total": {"type": "integer"},
                        "succeeded": {"type": "integer"},
                        "failed": {"type": "integer"},
                        "remaining": {"type": "integer"},
                        "images": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["image_id", "status"],
                                "properties": {
                                    "image_id": {"type": "string"},
                                    "status": image_status,
                                    "error": {"type": "string"},
                                    "download_url": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/jobs": {
                "post": {
                    "operationId": "createJob",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobRequest"}}},
                    },
                    "responses": {
                        "201": {
                            "description": "created",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobCreated"}}},
                        },
                        "400": _error("invalid request"),
                        "401": _unauthorized(),
                    },
                },
                "get": {
                    "operationId": "listJobs",
                    "responses": {"200": {"description": "the caller's jobs"}, "401": _unauthorized()},
                },
            },
            "/jobs/{job_id}": {
                "get": {
                    "operationId": "getJob",
                    "parameters": [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {
                            "description": "status",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobStatus"}}},
                        },
                        "401": _unauthorized(),
                        "404": _error("no such job (or not yours)"),
                    },
                }
            },
            "/operations": {
                "get": {
                    "operationId": "listOperations",
                    "responses": {"200": {"description": "the registry"}, "401": _unauthorized()},
                }
            },
        },
    }
