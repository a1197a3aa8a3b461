"""OpenAPI documents that show each served model's real feature schema.

The predict handlers read raw bodies (no pydantic model on the hot path), so
the request schemas are written here from each champion's feature manifest:
one path per served model (``/v1/models/credit/predict``) with its fields,
types, nullability, categories and training ranges. The document is rebuilt
whenever the served routes change. The registry routes read raw bodies too
(they authenticate first): :func:`registry_operation` documents their
parameters and bodies from the route table. The document itself is served
only to a token with ``read`` (it shows feature ranges and categories).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

if TYPE_CHECKING:
    from glmops.model import Model
    from glmops.serving.app import ServingState
    from glmops.serving.registry_routes import RegistryRoute

__all__ = ["feature_schema", "install_openapi", "registry_operation"]


def feature_schema(model: Model, *, strict: bool = True) -> dict[str, Any]:
    """Return the JSON schema of one instance of ``model``."""
    properties: dict[str, Any] = {}
    required = []
    imputed = {
        s.name
        for s in model.preprocessor.steps
        if getattr(s, "impute_value", 0) is not None  # categorical steps always encode null
    }
    for col in model.preprocessor.schema.columns:
        nullable = col.nullable and col.name in imputed
        if col.kind == "numeric":
            prop: dict[str, Any] = {"type": "number"}
            if col.minimum is not None and col.maximum is not None:
                prop["description"] = f"training range [{col.minimum:g}, {col.maximum:g}]"
        elif col.kind == "boolean":
            prop = {"type": "boolean"}
        else:
            prop = {"type": "string"}
            if col.categories:
                prop["examples"] = list(col.categories[:20])
                prop["description"] = (
                    f"{len(col.categories)} known categories; others go to the unknown bucket"
                )
        if nullable:
            described = {k: v for k, v in prop.items() if k in ("description", "examples")}
            kind = {k: v for k, v in prop.items() if k not in described}
            prop = {"anyOf": [kind, {"type": "null"}], **described}
        properties[col.name] = prop
        required.append(col.name)
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": not strict,
    }


def _predict_body(name: str, model: Model, strict: bool, max_rows: int) -> dict[str, Any]:
    instance = {"$ref": f"#/components/schemas/{_component(name)}"}
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {
                            "type": "object",
                            "properties": {
                                "instances": {
                                    "type": "array",
                                    "items": instance,
                                    "minItems": 1,
                                    "maxItems": max_rows,
                                },
                                "explain": {"type": "boolean"},
                            },
                            "required": ["instances"],
                            "additionalProperties": False,
                        },
                        {
                            "type": "object",
                            "properties": {
                                "columns": {
                                    "type": "array",
                                    "items": {"type": "string", "enum": model.feature_names},
                                    "minItems": 1,
                                    "uniqueItems": True,
                                },
                                "data": {
                                    "type": "array",
                                    "items": {"type": "array"},
                                    "minItems": 1,
                                    "maxItems": max_rows,
                                },
                                "explain": {"type": "boolean"},
                            },
                            "required": ["columns", "data"],
                            "additionalProperties": False,
                        },
                    ]
                }
            }
        },
    }


def _component(name: str) -> str:
    return "Instance_" + "".join(c if c.isalnum() else "_" for c in name)


_RESPONSES = {
    "200": {"description": "Predictions with the model name, version, route and request id."},
    "400": {"description": "Malformed JSON."},
    "401": {"description": "Missing or unknown bearer token."},
    "403": {"description": "The token lacks the predict role."},
    "404": {"description": "No such served model or version."},
    "413": {"description": "Body or rows over the limits."},
    "422": {"description": "The input breaks the feature manifest: one entry per field."},
}


_REGISTRY_RESPONSES = {
    "400": {"description": "Malformed JSON."},
    "401": {"description": "Missing or unknown bearer token (checked before the body is read)."},
    "403": {"description": "The token's roles do not permit the operation."},
    "404": {"description": "No such model, version or alias."},
    "409": {"description": "The registry's rules refuse it (gates, aliases, archived)."},
    "413": {"description": "The body is over its cap."},
    "422": {"description": "Invalid parameters or body: one entry per field."},
}
_PATH_PARAM = re.compile(r"{(\w+)}")
_QUERY_SCHEMAS: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 100},
    "a": {"type": "string", "minLength": 1},
    "b": {"type": "string", "minLength": 1},
}


def registry_operation(route: RegistryRoute) -> dict[str, Any]:
    """Return the OpenAPI fields of a registry route: parameters, body, responses."""
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": (
                {"type": "integer", "minimum": 1} if name == "version" else {"type": "string"}
            ),
        }
        for name in _PATH_PARAM.findall(route.path)
    ]
    parameters += [
        {
            "name": name,
            "in": "query",
            "required": name in ("a", "b"),
            "schema": _QUERY_SCHEMAS.get(name, {"type": "string", "maxLength": 2000}),
        }
        for name in route.query
    ]
    extra: dict[str, Any] = {
        "parameters": parameters,
        "responses": _REGISTRY_RESPONSES,
        "security": [{"bearer": []}],
    }
    if route.upload:
        zipped = {"schema": {"type": "string", "format": "binary"}}
        extra["requestBody"] = {"required": True, "content": {"application/zip": zipped}}
    elif route.body is not None:
        schema = route.body.model_json_schema()
        extra["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    return extra


def install_openapi(app: FastAPI, state: ServingState) -> None:
    """Replace ``app.openapi`` with a builder that documents every served model."""
    cache: dict[str, Any] = {}

    def build() -> dict[str, Any]:
        routes = dict(state.host.routes)
        key = tuple(sorted((n, r.champion.digest) for n, r in routes.items()))
        if cache.get("key") == key:
            return cache["doc"]  # type: ignore[no-any-return]
        doc = get_openapi(
            title=app.title, version=app.version, routes=app.routes, description=__doc__
        )
        components = doc.setdefault("components", {}).setdefault("schemas", {})
        strict = state.policy.reject_unexpected
        for name, r in sorted(routes.items()):
            model = r.champion.model
            components[_component(name)] = feature_schema(model, strict=strict)
            body = _predict_body(name, model, strict, state.policy.max_rows)
            for action in ("predict", "explain"):
                doc["paths"][f"/v1/models/{name}/{action}"] = {
                    "post": {
                        "tags": [f"model {name}"],
                        "summary": f"{action.title()} with {name} ({model.task})",
                        "operationId": f"{action}_{_component(name)}",
                        "requestBody": body,
                        "responses": _RESPONSES,
                        "security": [{"bearer": []}],
                    }
                }
        doc["paths"]["/v1/models/{name}/versions/{version}/predict"] = {
            "post": {
                "tags": ["predict"],
                "summary": "Predict with one explicit registered version",
                "operationId": "predict_version",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                    {
                        "name": "version",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": _RESPONSES,
                "security": [{"bearer": []}],
            }
        }
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        cache["key"], cache["doc"] = key, doc
        return doc

    app.openapi = build  # type: ignore[method-assign]
