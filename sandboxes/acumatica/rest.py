"""The contract-based REST API: ``/entity/{Endpoint}/{Version}/...``."""

from __future__ import annotations

import contextvars
import copy
import re
import threading
import time
import uuid
from typing import Any

from flask import Blueprint, Response, g, request

from .custom_fields import CUSTOM_FIELDS, ad_hoc_custom, apply_custom, with_custom
from .entities import top_level
from .entities.model import EntityDef
from .errors import (
    NO_ENTITY,
    NO_ENTITY_TEXT,
    empty_body,
    http_error,
    invalid_request,
    json_response,
    not_found_resource,
    not_logged_in,
)
from .files import add_file_routes, file_links
from .filters import (
    NOT_TEXT_TYPES,
    FilterError,
    Node,
    TypeConversion,
    UnknownField,
    check_literal_types,
    equality_hints,
    evaluate,
    field_paths,
    may_match,
    parse,
)
from .graphs import ActionError, graph_for
from .graphs.base import Graph
from .queries import order_by, resolver, sort_records
from .rendering import ERRORS, ad_hoc_schema, parse_tree, render
from .request_context import BRANCH_HEADER, BUSINESS_DATE_HEADER, BadHeader, enter, leave
from .sandbox import LongOperation, Sandbox
from .store import Record
from .swagger import build_swagger
from .writes import has_errors, link_tree, merge, strip_marks

ENDPOINT = "Default"
VERSIONS = ("24.200.001", "23.200.001")
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class _Invalid(Exception):
    def __init__(self, record: Record) -> None:
        super().__init__("invalid")
        self.record = record


class _Precondition(Exception):
    pass


def make_rest_blueprint(sandbox: Sandbox) -> Blueprint:
    bp = Blueprint("acumatica_rest", __name__, url_prefix="/entity/<endpoint>/<version>")

    @bp.url_value_preprocessor
    def _pull(endpoint: str | None, values: dict[str, Any] | None) -> None:
        values = values or {}
        g.endpoint = values.pop("endpoint", "")
        g.version = values.pop("version", "")

    @bp.before_request
    def _check() -> Response | None:
        if g.endpoint.lower() != ENDPOINT.lower() or g.version not in VERSIONS:
            return not_found_resource(request.url)
        if g.get("session") is None:
            return not_logged_in()
        g.base = f"/entity/{ENDPOINT}/{g.version}"
        try:
            g.request_context = enter(
                request.headers.get(BUSINESS_DATE_HEADER),
                request.headers.get(BRANCH_HEADER),
                g.session.branch,
            )
        except BadHeader as exc:
            return http_error(500, str(exc), exc.exception_type)
        return None

    @bp.teardown_request
    def _forget(_exc: BaseException | None) -> None:
        leave(g.pop("request_context", None))

    def entity_or_404(name: str) -> EntityDef | Response:
        defn = top_level(name)
        if defn is None:
            return not_found_resource(request.url)
        return defn

    def not_found() -> Response:
        status = sandbox.settings.not_found_status
        return http_error(status, NO_ENTITY_TEXT, NO_ENTITY)

    def query_trees() -> tuple[Any, Any]:
        return parse_tree(request.args.get("$expand")), parse_tree(request.args.get("$select"))

    def filtered(defn: EntityDef, text: str | None) -> list[Record]:
        records = sandbox.store.all(defn.name)
        if text:
            node = parse(text, bare_dates=False)
            check = resolver(defn, {})
            for path in field_paths(node):
                check(path)
            check_literal_types(node, lambda path: check(path)[1])
            hints = equality_hints(node)
            if hints:
                # what an index gives the real Acumatica: a look-up by CustomerOrder reads the
                # records holding the values asked for, not every sales order stored
                text_hints = [
                    (fld.name, texts)
                    for fld, texts in ((defn.field(name), texts) for name, texts in hints)
                    if fld is not None and fld.type not in NOT_TEXT_TYPES
                ]
                if text_hints:
                    records = sandbox.store.may_equal(defn.name, text_hints)
                records = [r for r in records if may_match(hints, resolver(defn, r))]
            records = [r for r in records if _matches(node, defn, r)]
        return sort_records(defn, records)

    @bp.get("/swagger.json")
    def swagger() -> Response:
        return json_response(build_swagger(g.version, request.host_url.rstrip("/")))

    @bp.route("/<name>", methods=["GET", "PUT", "PATCH", "POST", "DELETE"])
    def collection(name: str) -> Response:
        defn = entity_or_404(name)
        if isinstance(defn, Response):
            return defn
        if request.method == "GET":
            return get_list(defn)
        if request.method in ("PUT", "PATCH"):
            return put(defn, patch=request.method == "PATCH")
        return http_error(406, "The requested resource does not support this HTTP method.")

    def shown(defn: EntityDef, record: Record, expand: Any, select: Any) -> dict[str, Any]:
        """The record as the contract API answers it: rendered, with the custom fields the
        request's ``$custom`` names."""
        rendered = render(defn, record, base=g.base, expand=expand, select=select)
        return with_custom(defn.name, record, rendered, request.args.get("$custom"))

    def get_list(defn: EntityDef) -> Response:
        if defn.inquiry:
            return http_error(
                500,
                "Optimization cannot be performed.The following fields cause the error:\r\n"
                "Results: View Filter has BQL delegate",
                "PX.Api.ContractBased.OptimizedExport.CannotOptimizeException",
            )
        expand, select = query_trees()
        # Stored records are replaced, never changed in place, so they can be read unlocked.
        try:
            records = filtered(defn, request.args.get("$filter"))
            orderby = request.args.get("$orderby")
            if orderby:
                records = order_by(defn, records, orderby)
            skip = int(request.args.get("$skip") or 0)
            top = request.args.get("$top")
            records = records[skip : skip + int(top)] if top not in (None, "") else records[skip:]
            body = [shown(defn, with_files(defn, r, expand), expand, select) for r in records]
        except FilterError as exc:
            return filter_refused(exc)
        except ValueError as exc:
            return invalid_request(f"The query specified in the URI is not valid. {exc}")
        return json_response(body)

    def put(defn: EntityDef, *, patch: bool = False) -> Response:
        raw = request.get_data()
        body = request.get_json(silent=True) if raw else None
        if not body or not isinstance(body, dict):
            return empty_body()
        expand, select = query_trees()
        if defn.inquiry:
            return inquiry(defn, body, expand, select)
        graph = graph_for(defn.name, sandbox.env)
        try:
            with sandbox.store.transaction():
                record, _old = _upsert(defn, graph, body, patch=patch)
        except _Precondition as exc:
            return http_error(412, str(exc), "PX.Api.ContractBased.PreconditionFailedException")
        except _PatchMissing:
            return http_error(404, NO_ENTITY_TEXT, NO_ENTITY)
        except FilterError as exc:
            return filter_refused(exc)
        except _Invalid as exc:
            record = exc.record
            echo_expand = {**link_tree(defn, body), **(expand or {})}
            errors = record.setdefault(ERRORS, {})
            if not errors.get(""):
                verb = "Inserting" if record.get("_inserting") else "Updating"
                errors[""] = (
                    f"{verb} '{defn.title}' record raised at least one error. Please review the errors."
                )
            return json_response(render(defn, record, base=g.base, expand=echo_expand), 422)
        return json_response(shown(defn, record, expand, select))

    def _upsert(
        defn: EntityDef, graph: Graph, body: dict[str, Any], *, patch: bool
    ) -> tuple[Record, Record | None]:
        text = request.args.get("$filter")
        if text:
            matches = filtered(defn, text)
            existing = copy.deepcopy(matches[0]) if matches else None
        else:
            existing = graph.locate(body)
        insert_only = request.headers.get("If-None-Match", "").strip() == "*"
        if insert_only and (existing is not None or patch):
            raise _Precondition("The entity already exists and cannot be inserted.")
        if request.headers.get("If-Match", "").strip() == "*" and existing is None:
            raise _Precondition("The entity does not exist and cannot be updated.")
        if patch and existing is None:
            raise _PatchMissing()
        old = copy.deepcopy(existing)
        record = existing if existing is not None else graph.new_record(body)
        keys = {k: record.get(k) for k in defn.keys if record.get(k) is not None}
        merge(defn, record, body)
        apply_custom(defn.name, record, body.get("custom"))
        record.update(keys)
        graph.validate_put(record, old)
        graph.prepare(record, old)
        if has_errors(record):
            record["_inserting"] = old is None
            raise _Invalid(record)
        graph.save(record, old)
        return record, old

    def inquiry(defn: EntityDef, body: dict[str, Any], expand: Any, select: Any) -> Response:
        filter_record: Record = {}
        merge(defn, filter_record, body)
        graph = graph_for(defn.name, sandbox.env)
        result = graph.inquire(filter_record)
        if has_errors(result):
            result.setdefault(ERRORS, {})[""] = (
                "The inquiry raised at least one error. Please review the errors."
            )
            return json_response(render(defn, result, base=g.base, expand=expand), 422)
        return json_response(
            render(defn, strip_marks(result), base=g.base, expand=expand, select=select)
        )

    @bp.get("/<name>/$adHocSchema")
    def adhoc(name: str) -> Response:
        defn = entity_or_404(name)
        if isinstance(defn, Response):
            return defn
        schema = ad_hoc_schema(defn)
        if CUSTOM_FIELDS.get(defn.name):
            schema["custom"] = ad_hoc_custom(defn.name)
        return json_response(schema)

    def find(defn: EntityDef, rest: str) -> Record | None:
        graph = graph_for(defn.name, sandbox.env)
        if GUID.match(rest):
            return graph.by_id(rest.lower()) or graph.by_id(rest)
        parts = rest.split("/") if "/" in rest else rest.split("|")
        return graph.by_keys(parts)

    add_file_routes(bp, sandbox.store, find)

    def with_files(defn: EntityDef, record: Record, expand: Any) -> Record:
        if expand and "files" in expand:
            record = {**record, "files": file_links(sandbox.store, defn, record, g.base)}
        return record

    @bp.route("/<name>/<path:rest>", methods=["GET", "DELETE"])
    def record_by_key(name: str, rest: str) -> Response:
        defn = entity_or_404(name)
        if isinstance(defn, Response):
            return defn
        status = _STATUS_URL.match(rest)
        if status and request.method == "GET":
            return operation_status(status.group(2))
        record = find(defn, rest)
        if record is None:
            return not_found()
        if request.method == "DELETE":
            return delete(defn, record)
        expand, select = query_trees()
        record = with_files(defn, record, expand)
        return json_response(shown(defn, record, expand, select))

    def delete(defn: EntityDef, record: Record) -> Response:
        graph = graph_for(defn.name, sandbox.env)
        problem = graph.can_delete(record)
        if problem:
            return http_error(500, problem)
        with sandbox.store.transaction():
            sandbox.store.delete(defn.name, record["id"])
            graph.after_delete(record)
        return Response(status=204)

    def operation_status(op_id: str) -> Response:
        op = sandbox.operations.get(op_id)
        if op is None:
            return not_found_resource(request.url)
        if not op.done.is_set():
            return Response(status=202)
        if op.error:
            return http_error(500, op.error)
        return Response(status=204)

    @bp.post("/<name>/<action_name>")
    def action(name: str, action_name: str) -> Response:
        defn = entity_or_404(name)
        if isinstance(defn, Response):
            return defn
        graph = graph_for(defn.name, sandbox.env)
        actions = graph.actions()
        chosen = next((a for a in actions if a.lower() == action_name.lower()), None)
        if chosen is None:
            return not_found_resource(request.url)
        body = request.get_json(silent=True) if request.get_data() else None
        if not isinstance(body, dict) or not isinstance(body.get("entity"), dict):
            return empty_body()
        entity = body["entity"]
        record = graph.locate(entity)
        if record is None:
            return not_found()
        params = {k: _param(v) for k, v in (body.get("parameters") or {}).items() if k != "custom"}
        run = actions[chosen]
        location = f"{g.base}/{defn.name}/{record['id']}"
        if chosen.lower() in (a.lower() for a in sandbox.settings.long_actions):
            op_id = str(uuid.uuid4())
            op = LongOperation()
            sandbox.operations[op_id] = op
            threading.Thread(  # the request's business date and branch go along
                target=contextvars.copy_context().run,
                args=(_run_later, sandbox, op, graph, chosen, record["id"], params),
                daemon=True,
                name="acumatica-action",
            ).start()
            response = Response(status=202)
            response.headers["Location"] = f"{g.base}/{defn.name}/{chosen}/status/{op_id}"
            return response
        try:
            with sandbox.store.transaction():
                # Read again under the write lock so a concurrent change is not overwritten.
                current = graph.by_id(record["id"])
                if current is None:
                    return not_found()
                record = current
                run(record, params)
        except ActionError as exc:
            strip_marks(record)
            record[ERRORS] = {"": str(exc)}
            return json_response(render(defn, record, base=g.base), 422)
        response = Response(status=204)
        response.headers["Location"] = location
        return response

    return bp


class _PatchMissing(Exception):
    pass


_STATUS_URL = re.compile(r"^([A-Za-z]+)/status/([0-9a-fA-F-]{36})$")


def _run_later(
    sandbox: Sandbox, op: LongOperation, graph: Graph, action: str, rid: str, params: dict[str, Any]
) -> None:
    time.sleep(sandbox.settings.long_action_seconds)
    try:
        with sandbox.store.transaction():
            record = graph.by_id(rid)
            if record is None:
                raise ActionError(NO_ENTITY_TEXT)
            graph.actions()[action](record, params)
    except ActionError as exc:
        op.error = str(exc)
    except Exception as exc:
        op.error = f"{type(exc).__name__}: {exc}"
    finally:
        op.done.set()


def filter_refused(exc: FilterError) -> Response:
    """A refused ``$filter``: unknown field and literal type 500, syntax 400."""
    if isinstance(exc, TypeConversion):
        return http_error(500, str(exc), TypeConversion.exception_type)
    if isinstance(exc, UnknownField):
        return http_error(500, str(exc))
    return invalid_request(f"The query specified in the URI is not valid. {exc}")


def _param(raw: Any) -> Any:
    """A parameter value; tolerates the doubly wrapped values some clients send."""
    while isinstance(raw, dict) and "value" in raw:
        raw = raw["value"]
    return None if isinstance(raw, dict) else raw


def _matches(node: Node, defn: EntityDef, record: Record) -> bool:
    return bool(evaluate(node, resolver(defn, record)))
