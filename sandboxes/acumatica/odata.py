"""OData v4 reads: generic inquiries (``/gi``) and data access classes (``/dac``).

Both answer flat JSON (``{"@odata.context": …, "value": [rows]}``) with raw values, accept
HTTP Basic (``admin:sandbox``, or ``admin@Company:sandbox``) or a Bearer token, and are
read-only. DAC rows carry database codes (``ItemStatus`` "AC", order ``Status`` "N").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

from flask import Blueprint, Response, jsonify, request

from .dacs import DAC_ALIASES, DACS, EDM_INT, Dac
from .errors import http_error, not_found_resource
from .filters import FilterError, evaluate, parse
from .inquiries import EDM_BOOLEAN, EDM_DATETIME, EDM_DECIMAL, INQUIRIES, Row
from .sandbox import Sandbox
from .values import parse_datetime

HIDDEN_INQUIRIES = frozenset({"ItemCostHistory"})


def _edm_to_type(edm: str) -> str:
    return {
        EDM_DECIMAL: "Decimal",
        EDM_DATETIME: "DateTime",
        EDM_BOOLEAN: "Boolean",
        EDM_INT: "Int",
    }.get(edm, "String")


def metadata_xml(sets: dict[str, tuple[tuple[str, str], ...]]) -> str:
    types = []
    entity_sets = []
    for name, columns in sets.items():
        props = "".join(f'<Property Name="{escape(c)}" Type="{t}" />' for c, t in columns)
        types.append(f'<EntityType Name="{escape(name)}">{props}</EntityType>')
        entity_sets.append(
            f'<EntitySet Name="{escape(name)}" EntityType="Default.{escape(name)}" />'
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">'
        '<edmx:DataServices><Schema Namespace="Default" xmlns="http://docs.oasis-open.org/odata/ns/edm">'
        + "".join(types)
        + '<EntityContainer Name="Default">'
        + "".join(entity_sets)
        + "</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>"
    )


def _sort_key(value: Any, type_: str) -> tuple[bool, Any]:
    """Nulls first; date-times by instant (the database's order), whatever offset they carry."""
    if value is None:
        return (False, 0)
    if type_ == "DateTime" and isinstance(value, str):
        return (True, parse_datetime(value))
    return (True, value)


Expander = Callable[[list[Row], str], list[Row]]


def split_top_level(text: str) -> list[str]:
    """``a,b($select=x,y),c`` -> ``["a", "b($select=x,y)", "c"]``."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def dac_expander(store_rows: Callable[[str], list[Row]], entry: Dac) -> Expander:
    """``$expand`` of the DAC's navigation properties, each with an optional nested
    ``$select``: the linked row as a nested object (``null`` when none)."""
    navigation = {n.name.lower(): n for n in entry.navigation}

    def expand(rows: list[Row], text: str) -> list[Row]:
        for item in split_top_level(text):
            name, _, options = item.partition("(")
            nav = navigation.get(name.strip().lower())
            if nav is None:
                raise FilterError(
                    f"Could not find a property named '{name.strip()}' on type"
                    f" '{entry.full_name.replace('_', '.')}'."
                )
            wanted: list[str] | None = None
            for option in options.rstrip(")").split(";"):
                key, _, value = option.partition("=")
                if key.strip().lower() == "$select":
                    wanted = [c.strip() for c in value.split(",") if c.strip()]
            linked = {row.get(nav.remote): row for row in store_rows(nav.target)}
            for row in rows:
                target = linked.get(row.get(nav.local))
                if target is not None and wanted is not None:
                    target = {c: target.get(c) for c in wanted}
                row[nav.name] = target
        return rows

    return expand


def query_rows(
    rows: list[Row],
    columns: tuple[tuple[str, str], ...],
    args: Any,
    expand: Expander | None = None,
) -> list[Row]:
    """Apply ``$filter``, ``$orderby``, ``$skip``, ``$top``, ``$expand`` (with ``expand``, the
    DAC's navigation properties) and ``$select`` to flat rows."""
    types = {c.lower(): (c, _edm_to_type(t)) for c, t in columns}

    def resolve_for(row: Row) -> Callable[[str], tuple[Any, str]]:
        def resolve(path: str) -> tuple[Any, str]:
            if path.lower() not in types:
                raise FilterError(f"Could not find a property named '{path}'.")
            name, type_ = types[path.lower()]
            return row.get(name), type_

        return resolve

    text = args.get("$filter")
    if text:
        node = parse(text)
        rows = [r for r in rows if evaluate(node, resolve_for(r))]
    order = args.get("$orderby")
    if order:
        for clause in reversed([c.split() for c in order.split(",") if c.strip()]):
            key, type_ = types.get(clause[0].lower(), (clause[0], "String"))
            desc = len(clause) > 1 and clause[1].lower() == "desc"
            rows = sorted(rows, key=lambda r, k=key, t=type_: _sort_key(r.get(k), t), reverse=desc)
    skip = int(args.get("$skip") or 0)
    top = args.get("$top")
    rows = rows[skip : skip + int(top)] if top else rows[skip:]
    links: list[str] = []
    text = args.get("$expand")
    if text:
        if expand is None:
            raise FilterError("The query option $expand is not supported here.")
        rows = expand([dict(r) for r in rows], text)
        links = [split.partition("(")[0].strip() for split in split_top_level(text)]
    select = args.get("$select")
    if select:
        wanted = [
            types.get(s.strip().lower(), (s.strip(), ""))[0] for s in select.split(",") if s.strip()
        ]
        linked = [n for r in rows[:1] for n in r if n.lower() in {x.lower() for x in links}]
        rows = [{k: r.get(k) for k in [*wanted, *linked]} for r in rows]
    return rows


def _index_keys(text: str | None, field: str | None) -> set[int] | None:
    """The integers ``field`` must equal for ``$filter`` to hold (``field eq 1 or field eq 2``,
    possibly and-ed with more), or None when the filter does not pin it: the rows an index on
    ``field`` would read. The full filter still runs on them, so the answer is the same."""
    if not text or not field:
        return None
    try:
        node = parse(text)
    except (FilterError, ValueError):
        return None  # the full read reports the error
    return _pinned(node, field.lower())


def _pinned(node: Any, field: str) -> set[int] | None:
    kind = node[0]
    if kind == "cmp" and node[1] == "eq":
        for side, const in ((node[2], node[3]), (node[3], node[2])):
            if side[0] == "field" and side[1].lower() == field and const[0] == "const":
                value = const[1]
                if isinstance(value, int) and not isinstance(value, bool):
                    return {value}
        return None
    if kind == "or":
        left, right = _pinned(node[1], field), _pinned(node[2], field)
        return None if left is None or right is None else left | right
    if kind == "and":
        left, right = _pinned(node[1], field), _pinned(node[2], field)
        if left is None or right is None:
            return left if right is None else right
        return left & right
    return None


def make_odata_blueprint(sandbox: Sandbox, authorised: Callable[[], bool]) -> Blueprint:
    bp = Blueprint("acumatica_odata", __name__, url_prefix="/t/<tenant>/api/odata")

    @bp.before_request
    def _auth() -> Response | None:
        if request.method not in ("GET", "HEAD"):
            return http_error(405, "The requested resource does not support this HTTP method.")
        if not authorised():
            response = jsonify({"message": "Authorization has been denied for this request."})
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Basic realm="Acumatica"'
            return response
        return None

    def root(kind: str, names: list[str]) -> Response:
        base = request.base_url.rstrip("/")
        return jsonify(
            {
                "@odata.context": f"{base}/$metadata",
                "value": [{"name": n, "kind": "EntitySet", "url": n} for n in names],
            }
        )

    def rows_response(
        name: str,
        rows: list[Row],
        columns: tuple[tuple[str, str], ...],
        expand: Expander | None = None,
    ) -> Response:
        try:
            value = query_rows(rows, columns, request.args, expand)
        except (FilterError, ValueError) as exc:
            response = jsonify(
                {
                    "error": {
                        "code": "",
                        "message": f"The query specified in the URI is not valid. {exc}",
                    }
                }
            )
            response.status_code = 400
            return response
        context = request.base_url.rsplit("/", 1)[0] + f"/$metadata#{name}"
        response = jsonify({"@odata.context": context, "value": value})
        response.headers["OData-Version"] = "4.0"
        return response

    @bp.route("/gi", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def gi_root(tenant: str) -> Response:
        return root("gi", sorted(INQUIRIES))

    @bp.route("/gi/$metadata", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def gi_metadata(tenant: str) -> Response:
        xml = metadata_xml({n: INQUIRIES[n].columns for n in sorted(INQUIRIES)})
        return Response(xml, mimetype="application/xml")

    @bp.route("/gi/<name>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def gi(tenant: str, name: str) -> Response:
        if name in HIDDEN_INQUIRIES:
            return http_error(403, f"The generic inquiry {name} is not exposed via OData.")
        inquiry = INQUIRIES.get(name)
        if inquiry is None:
            return not_found_resource(request.url)
        with sandbox.store.lock:
            rows = inquiry.rows(sandbox.store)
        return rows_response(name, rows, inquiry.columns)

    @bp.route("/dac", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def dac_root(tenant: str) -> Response:
        return root("dac", sorted(DACS))

    @bp.route("/dac/$metadata", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def dac_metadata(tenant: str) -> Response:
        return Response(
            metadata_xml({d.name: d.columns for d in DACS.values()}), mimetype="application/xml"
        )

    @bp.route("/dac/<name>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def dac(tenant: str, name: str) -> Response:
        entry = DAC_ALIASES.get(name.lower())
        if entry is None:
            return not_found_resource(request.url)

        def store_rows(dac_name: str) -> list[Row]:
            with sandbox.store.lock:
                return DACS[dac_name].rows(sandbox.store)

        keys = _index_keys(request.args.get("$filter"), entry.index)
        with sandbox.store.lock:
            if keys is not None and entry.indexed_rows is not None:
                rows = entry.indexed_rows(sandbox.store, keys)
            else:
                rows = entry.rows(sandbox.store)
        return rows_response(entry.name, rows, entry.columns, dac_expander(store_rows, entry))

    return bp
