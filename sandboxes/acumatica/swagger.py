"""``swagger.json`` of the endpoint, generated from the entity definitions.

Same structure as a real Acumatica endpoint document: OpenAPI 3.0.1, one tag per top-level
entity described "Title (SCREENID)", operation ids ``{Entity}_{Operation}``, entity schemas as
``allOf`` of ``Entity`` and the entity's properties, ``*Value`` wrappers for fields, and every
``$ref`` resolvable.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .entities import SCHEMAS, TOP_LEVEL
from .entities.model import VALUE_TYPES, EntityDef

_VALUE_JSON = {
    "String": {"type": "string"},
    "Decimal": {"type": "number", "format": "double"},
    "Boolean": {"type": "boolean"},
    "DateTime": {"type": "string", "format": "date-time"},
    "Int": {"type": "integer", "format": "int32"},
    "Short": {"type": "integer", "format": "int32"},
    "Guid": {"type": "string", "format": "uuid"},
}
_CUSTOM_TYPES = (
    "String",
    "Int",
    "Short",
    "Long",
    "Byte",
    "Decimal",
    "Double",
    "Boolean",
    "DateTime",
    "Guid",
)
_CUSTOM_JSON = {
    **_VALUE_JSON,
    "Long": {"type": "integer", "format": "int64"},
    "Byte": {"type": "integer", "format": "int32"},
    "Double": {"type": "number", "format": "double"},
}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}, "text/json": {"schema": schema}}


def _entity_schema(defn: EntityDef) -> dict[str, Any]:
    props: dict[str, Any] = {f.name: _ref("schemas", f"{f.type}Value") for f in defn.fields}
    for link in defn.links:
        target = _ref("schemas", link.schema)
        props[link.name] = {"type": "array", "items": target} if link.many else target
    ordered = dict(sorted(props.items(), key=lambda kv: kv[0].lower()))
    return {"allOf": [_ref("schemas", "Entity"), {"type": "object", "properties": ordered}]}


def _common_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Entity": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "rowNumber": {"type": "integer", "format": "int64"},
                "note": _ref("schemas", "StringValue"),
                "custom": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": _ref("schemas", "CustomField"),
                    },
                },
                "error": {"type": "string"},
                "files": {"type": "array", "items": _ref("schemas", "FileLink")},
            },
        },
        "FileLink": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "filename": {"type": "string"},
                "href": {"type": "string", "format": "uri"},
                "comment": {"type": "string", "nullable": True},
            },
        },
        "CustomField": {
            "required": ["type"],
            "type": "object",
            "properties": {"type": {"type": "string"}},
            "discriminator": {"propertyName": "type"},
        },
        "HttpError": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "exceptionMessage": {"type": "string", "nullable": True},
                "exceptionType": {"type": "string", "nullable": True},
                "stackTrace": {"type": "string", "nullable": True},
                "modelState": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
                "messageDetail": {"type": "string"},
            },
            "additionalProperties": {"type": "object"},
        },
    }
    for type_ in VALUE_TYPES:
        schemas[f"{type_}Value"] = {
            "type": "object",
            "properties": {"value": dict(_VALUE_JSON[type_]), "error": {"type": "string"}},
        }
    for type_ in _CUSTOM_TYPES:
        schemas[f"Custom{type_}Field"] = {
            "allOf": [
                _ref("schemas", "CustomField"),
                {
                    "type": "object",
                    "properties": {"value": dict(_CUSTOM_JSON[type_]), "error": {"type": "string"}},
                },
            ]
        }
    return schemas


def _parameters() -> dict[str, Any]:
    def query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "description": description,
            "schema": schema or {"type": "string"},
        }

    def path(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "name": name,
            "in": "path",
            "description": description,
            "required": True,
            "schema": schema or {"type": "string"},
        }

    return {
        "select": query("$select", "The fields of the entity to be returned from the system."),
        "filter": query(
            "$filter",
            "The conditions that determine which records should be selected from the system.",
        ),
        "expand": query("$expand", "The linked and detail entities that should be expanded."),
        "custom": query(
            "$custom",
            "The fields that are not defined in the contract of the endpoint to be returned from the system.",
        ),
        "skip": query(
            "$skip",
            "The number of records to be skipped from the list of returned records.",
            {"type": "integer", "format": "int32"},
        ),
        "top": query(
            "$top",
            "The number of records to be returned from the system.",
            {"type": "integer", "format": "int32"},
        ),
        "id": path("id", "The session ID of the record.", {"type": "string", "format": "uuid"}),
        "ids": path(
            "ids", "The values of the key fields of the record. The values are slash-delimited."
        ),
        "filename": path(
            "filename", "The name of the file that you are going to attach with the extension."
        ),
        "actionName": path("actionName", "The name of the action."),
    }


def _responses() -> dict[str, Any]:
    error = _content(_ref("schemas", "HttpError"))
    location = {
        "Location": {
            "description": "A URL of the processed entity or of the operation status.",
            "schema": {"type": "string", "format": "uri"},
        }
    }
    return {
        "ContractBasedControllerBase_401": {
            "description": "The user is not logged in to the system.",
            "content": error,
        },
        "ContractBasedControllerBase_500": {
            "description": "Internal server error.",
            "content": error,
        },
        "InvokeAction_204": {
            "description": "The operation that was initiated by the action is completed.",
            "headers": location,
        },
        "InvokeAction_202": {"description": "The operation is in progress.", "headers": location},
        "InvokeAction_400": {
            "description": "The data specified in the request is invalid.",
            "content": error,
        },
        "InvokeAction_412": {
            "description": "A precondition of the request failed.",
            "content": error,
        },
        "PutEntity_400": {
            "description": "The data specified in the request is invalid.",
            "content": error,
        },
        "PutEntity_412": {"description": "A precondition of the request failed.", "content": error},
        "DeleteById_204": {"description": "The record has been deleted."},
        "DeleteByKeys_204": {"description": "The record has been deleted."},
        "PutFile_204": {"description": "The file has been attached.", "headers": location},
    }


def _std(extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "401": _ref("responses", "ContractBasedControllerBase_401"),
        "500": _ref("responses", "ContractBasedControllerBase_500"),
        **extra,
    }


def _params(*names: str) -> list[dict[str, str]]:
    return [_ref("parameters", n) for n in names]


def _entity_paths(defn: EntityDef) -> dict[str, Any]:
    name = defn.name
    tags = [name]
    one = _content(_ref("schemas", name))
    many = _content({"type": "array", "items": _ref("schemas", name)})
    body = {
        "description": "The record to be passed to the system.",
        "content": one,
        "required": True,
        "x-bodyName": "entity",
    }
    paths: dict[str, Any] = {
        f"/{name}": {
            "get": {
                "tags": tags,
                "summary": "Retrieves records that satisfy the specified conditions from the system.",
                "operationId": f"{name}_GetList",
                "parameters": _params("select", "filter", "expand", "custom", "skip", "top"),
                "responses": _std(
                    {"200": {"description": "The list of records.", "content": many}}
                ),
            },
            "put": {
                "tags": tags,
                "summary": "Creates a record or updates an existing record.",
                "operationId": f"{name}_PutEntity",
                "parameters": _params("select", "filter", "expand", "custom"),
                "requestBody": body,
                "responses": _std(
                    {
                        "200": {"description": "The created or updated record.", "content": one},
                        "400": _ref("responses", "PutEntity_400"),
                        "412": _ref("responses", "PutEntity_412"),
                        "422": {
                            "description": "The data specified in the request is invalid.",
                            "content": one,
                        },
                    }
                ),
            },
        },
        f"/{name}/{{id}}": {
            "get": {
                "tags": tags,
                "summary": "Retrieves a record by its session ID from the system.",
                "operationId": f"{name}_GetById",
                "parameters": _params("id", "select", "filter", "expand", "custom"),
                "responses": _std(
                    {"200": {"description": "The requested record.", "content": one}}
                ),
            },
            "delete": {
                "tags": tags,
                "summary": "Deletes the record by its session ID.",
                "operationId": f"{name}_DeleteById",
                "parameters": _params("id"),
                "responses": _std({"204": _ref("responses", "DeleteById_204")}),
            },
        },
        f"/{name}/{{ids}}": {
            "get": {
                "tags": tags,
                "summary": "Retrieves a record by the values of its key fields from the system.",
                "operationId": f"{name}_GetByKeys",
                "parameters": _params("ids", "select", "filter", "expand", "custom"),
                "responses": _std(
                    {"200": {"description": "The requested record.", "content": one}}
                ),
            },
            "delete": {
                "tags": tags,
                "summary": "Deletes the record by the values of its key fields.",
                "operationId": f"{name}_DeleteByKeys",
                "parameters": _params("ids"),
                "responses": _std({"204": _ref("responses", "DeleteByKeys_204")}),
            },
        },
        f"/{name}/$adHocSchema": {
            "get": {
                "tags": tags,
                "summary": "Retrieves the schema of custom fields of the entity from the system.",
                "operationId": f"{name}_GetAdHocSchema",
                "responses": _std(
                    {"200": {"description": "The schema of custom fields.", "content": one}}
                ),
            }
        },
        f"/{name}/{{ids}}/files/{{filename}}": {
            "put": {
                "tags": tags,
                "summary": "Attaches a file to a record.",
                "operationId": f"{name}_PutFile",
                "parameters": _params("ids", "filename"),
                "requestBody": {
                    "content": {
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    },
                    "required": True,
                },
                "responses": _std({"204": _ref("responses", "PutFile_204")}),
            }
        },
        f"/{name}/{{actionName}}": _action_op(defn, "CustomAction", f"{name}CustomAction"),
    }
    for action in defn.actions:
        paths[f"/{name}/{action.name}"] = _action_op(defn, action.name, action.name)
    return paths


def _action_op(defn: EntityDef, op_name: str, schema_name: str) -> dict[str, Any]:
    params = _params("actionName") if op_name == "CustomAction" else []
    op: dict[str, Any] = {
        "tags": [defn.name],
        "summary": "Performs an action in the system.",
        "operationId": f"{defn.name}_InvokeAction_{op_name}",
        "requestBody": {
            "description": "The record to which the action should be applied and the parameters of the action.",
            "content": _content(_ref("schemas", schema_name)),
            "required": True,
            "x-bodyName": "invocation",
        },
        "responses": _std(
            {
                "204": _ref("responses", "InvokeAction_204"),
                "202": _ref("responses", "InvokeAction_202"),
                "400": _ref("responses", "InvokeAction_400"),
                "412": _ref("responses", "InvokeAction_412"),
                "422": {
                    "description": "The data specified in the request is invalid.",
                    "content": _content(_ref("schemas", defn.name)),
                },
            }
        ),
    }
    if params:
        op["parameters"] = params
    return {"post": op}


def _action_schemas(defn: EntityDef) -> dict[str, Any]:
    out: dict[str, Any] = {
        f"{defn.name}CustomAction": {
            "required": ["entity"],
            "type": "object",
            "properties": {
                "entity": _ref("schemas", defn.name),
                "parameters": {
                    "type": "object",
                    "properties": {
                        "custom": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "additionalProperties": _ref("schemas", "CustomField"),
                            },
                        }
                    },
                    "description": "The parameters of the action.",
                },
            },
        }
    }
    for action in defn.actions:
        schema: dict[str, Any] = {
            "required": ["entity"],
            "type": "object",
            "properties": {"entity": _ref("schemas", defn.name)},
        }
        if action.parameters:
            schema["required"] = ["entity", "parameters"]
            schema["properties"]["parameters"] = {
                "type": "object",
                "properties": {
                    p.name: _ref("schemas", f"{p.type}Value") for p in action.parameters
                },
                "description": "The parameters of the action.",
            }
        out[action.name] = schema
    return out


@lru_cache(maxsize=4)
def _document(version: str, server: str) -> dict[str, Any]:
    schemas = _common_schemas()
    paths: dict[str, Any] = {}
    for name in sorted(SCHEMAS):
        schemas[name] = _entity_schema(SCHEMAS[name])
    for name in sorted(TOP_LEVEL):
        defn = TOP_LEVEL[name]
        paths.update(_entity_paths(defn))
        schemas.update(_action_schemas(defn))
    return {
        "openapi": "3.0.1",
        "info": {"title": f"Default/{version}", "version": "4"},
        "servers": [{"url": f"{server}/entity/Default/{version}"}],
        "paths": paths,
        "components": {"schemas": schemas, "responses": _responses(), "parameters": _parameters()},
        "tags": [
            {"name": name, "description": f"{TOP_LEVEL[name].screen} ({TOP_LEVEL[name].screen_id})"}
            for name in sorted(TOP_LEVEL)
        ],
    }


def build_swagger(version: str, server: str) -> dict[str, Any]:
    return _document(version, server)
