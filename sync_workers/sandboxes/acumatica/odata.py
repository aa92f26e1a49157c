"""OData v4 reads: generic inquiries (``/gi``) and data access classes (``/dac``).

Both answer flat JSON (``{"@odata.context": …, "value": [rows]}``) with raw values, accept
HTTP Basic (``admin:sandbox``, or ``admin@Company:sandbox``) or a Bearer token, and are
read-only. DAC rows carry database codes (``ItemStatus`` "AC", order ``Status`` "N").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from flask import Blueprint, Response, jsonify, request

from .errors import http_error, not_found_resource
from .filters import FilterError, evaluate, parse
from .graphs.stock import availability
from .inquiries import EDM_BOOLEAN, EDM_DATETIME, EDM_DECIMAL, EDM_STRING, INQUIRIES, Row
from .sandbox import Sandbox
from .store import Store

EDM_INT = "Edm.Int32"
HIDDEN_INQUIRIES = frozenset({"ItemCostHistory"})

_ORDER_CODES = {
    "Open": "N",
    "On Hold": "H",
    "Pending Approval": "P",
    "Rejected": "V",
    "Pending Processing": "E",
    "Awaiting Payment": "A",
    "Credit Hold": "R",
    "Completed": "C",
    "Canceled": "L",
    "Back Order": "B",
    "Shipping": "S",
    "Invoiced": "I",
    "Expired": "D",
}
_ITEM_CODES = {
    "Active": "AC",
    "No Sales": "NS",
    "No Purchases": "NP",
    "No Request": "NR",
    "Inactive": "IN",
    "Marked for Deletion": "DE",
}
_CUSTOMER_CODES = {
    "Active": "A",
    "On Hold": "H",
    "Credit Hold": "C",
    "Inactive": "I",
    "One-Time": "T",
}


@dataclass(frozen=True)
class Dac:
    name: str
    full_name: str
    columns: tuple[tuple[str, str], ...]
    rows: Callable[[Store], list[Row]]


def _so_orders(store: Store) -> list[Row]:
    ids = _baccounts(store)
    return [
        {
            "OrderType": o.get("OrderType"),
            "OrderNbr": o.get("OrderNbr"),
            "Status": _ORDER_CODES.get(o.get("Status") or "", "N"),
            "CustomerID": ids.get(str(o.get("CustomerID")).upper()),
            "CustomerOrderNbr": o.get("CustomerOrder"),
            "OrderDate": o.get("Date"),
            "CuryID": o.get("CurrencyID"),
            "CuryOrderTotal": o.get("OrderTotal"),
            "OrderQty": o.get("OrderedQty"),
            "Hold": o.get("Hold"),
            "LastModifiedDateTime": o.get("LastModified"),
        }
        for o in store.all("SalesOrder")
    ]


def _inventory_items(store: Store) -> list[Row]:
    return [
        {
            "InventoryCD": i.get("InventoryID"),
            "Descr": i.get("Description"),
            "ItemStatus": _ITEM_CODES.get(i.get("ItemStatus") or "", "AC"),
            "StkItem": True,
            "BasePrice": i.get("DefaultPrice"),
            "ItemClassCD": i.get("ItemClass"),
            "LastModifiedDateTime": i.get("LastModifiedDateTime"),
        }
        for i in store.all("StockItem")
    ]


def _site_status(store: Store) -> list[Row]:
    names = {
        str(i.get("InventoryID", "")).upper(): i.get("InventoryID") for i in store.all("StockItem")
    }
    return [
        {
            "InventoryCD": names.get(sku, sku),
            "SiteCD": wh,
            "QtyOnHand": q["on_hand"],
            "QtyAvail": q["available"],
            "QtyHardAvail": q["available_for_shipment"],
        }
        for (sku, wh), q in sorted(availability(store).items())
    ]


def _customers(store: Store) -> list[Row]:
    return [
        {
            "BAccountID": c.get("BAccountID"),
            "AcctCD": c.get("CustomerID"),
            "AcctName": c.get("CustomerName"),
            "CustomerClassID": c.get("CustomerClass"),
            "Status": _CUSTOMER_CODES.get(c.get("Status") or "", "A"),
            "LastModifiedDateTime": c.get("LastModifiedDateTime"),
        }
        for c in store.all("Customer")
    ]


_SHIPMENT_CODES = {
    "Open": "N",
    "On Hold": "H",
    "Confirmed": "F",
    "Completed": "C",
    "Canceled": "L",
    "Invoiced": "I",
    "Partially Invoiced": "Y",
    "Receipted": "R",
    "Auto-Generated": "A",
}
_PAYMENT_TYPES = {
    "Payment": "PMT",
    "Prepayment": "PPM",
    "Refund": "REF",
    "Credit Memo": "CRM",
    "Voided Payment": "RPM",
}
_PAYMENT_CODES = {
    "On Hold": "H",
    "Balanced": "B",
    "Voided": "V",
    "Open": "N",
    "Closed": "C",
    "Pending Processing": "W",
}


def _baccounts(store: Store) -> dict[str, Any]:
    return {str(c.get("CustomerID")).upper(): c.get("BAccountID") for c in store.all("Customer")}


def _shipments(store: Store) -> list[Row]:
    ids = _baccounts(store)
    return [
        {
            "ShipmentNbr": s.get("ShipmentNbr"),
            "ShipmentType": "I",
            "Status": _SHIPMENT_CODES.get(s.get("Status") or "", "N"),
            "CustomerID": ids.get(str(s.get("CustomerID")).upper()),
            "ShipDate": s.get("ShipmentDate"),
            "ShipVia": s.get("ShipVia"),
            "ShipmentQty": s.get("ShippedQty"),
            "LastModifiedDateTime": s.get("LastModifiedDateTime"),
        }
        for s in store.all("Shipment")
    ]


def _payments(store: Store) -> list[Row]:
    ids = _baccounts(store)
    return [
        {
            "DocType": _PAYMENT_TYPES.get(p.get("Type") or "", "PMT"),
            "RefNbr": p.get("ReferenceNbr"),
            "Status": _PAYMENT_CODES.get(p.get("Status") or "", "B"),
            "CustomerID": ids.get(str(p.get("CustomerID")).upper()),
            "PaymentMethodID": p.get("PaymentMethod"),
            "CuryOrigDocAmt": p.get("PaymentAmount"),
            "ExtRefNbr": p.get("PaymentRef"),
            "LastModifiedDateTime": p.get("LastModifiedDateTime"),
        }
        for p in store.all("Payment")
    ]


def _cols(spec: str, types: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((n, types.get(n, EDM_STRING)) for n in spec.split())


DACS: dict[str, Dac] = {
    d.name: d
    for d in (
        Dac(
            "SOOrder",
            "PX_Objects_SO_SOOrder",
            _cols(
                "OrderType OrderNbr Status CustomerID CustomerOrderNbr OrderDate CuryID CuryOrderTotal OrderQty Hold"
                " LastModifiedDateTime",
                {
                    "CustomerID": EDM_INT,
                    "OrderDate": EDM_DATETIME,
                    "CuryOrderTotal": EDM_DECIMAL,
                    "OrderQty": EDM_DECIMAL,
                    "Hold": EDM_BOOLEAN,
                    "LastModifiedDateTime": EDM_DATETIME,
                },
            ),
            _so_orders,
        ),
        Dac(
            "InventoryItem",
            "PX_Objects_IN_InventoryItem",
            _cols(
                "InventoryCD Descr ItemStatus StkItem BasePrice ItemClassCD LastModifiedDateTime",
                {
                    "StkItem": EDM_BOOLEAN,
                    "BasePrice": EDM_DECIMAL,
                    "LastModifiedDateTime": EDM_DATETIME,
                },
            ),
            _inventory_items,
        ),
        Dac(
            "INSiteStatus",
            "PX_Objects_IN_INSiteStatus",
            _cols(
                "InventoryCD SiteCD QtyOnHand QtyAvail QtyHardAvail",
                {"QtyOnHand": EDM_DECIMAL, "QtyAvail": EDM_DECIMAL, "QtyHardAvail": EDM_DECIMAL},
            ),
            _site_status,
        ),
        Dac(
            "Customer",
            "PX_Objects_AR_Customer",
            _cols(
                "BAccountID AcctCD AcctName CustomerClassID Status LastModifiedDateTime",
                {"BAccountID": EDM_INT, "LastModifiedDateTime": EDM_DATETIME},
            ),
            _customers,
        ),
        Dac(
            "SOShipment",
            "PX_Objects_SO_SOShipment",
            _cols(
                "ShipmentNbr ShipmentType Status CustomerID ShipDate ShipVia ShipmentQty LastModifiedDateTime",
                {
                    "CustomerID": EDM_INT,
                    "ShipDate": EDM_DATETIME,
                    "ShipmentQty": EDM_DECIMAL,
                    "LastModifiedDateTime": EDM_DATETIME,
                },
            ),
            _shipments,
        ),
        Dac(
            "ARPayment",
            "PX_Objects_AR_ARPayment",
            _cols(
                "DocType RefNbr Status CustomerID PaymentMethodID CuryOrigDocAmt ExtRefNbr LastModifiedDateTime",
                {
                    "CustomerID": EDM_INT,
                    "CuryOrigDocAmt": EDM_DECIMAL,
                    "LastModifiedDateTime": EDM_DATETIME,
                },
            ),
            _payments,
        ),
    )
}
_DAC_ALIASES = {
    **{d.name.lower(): d for d in DACS.values()},
    **{d.full_name.lower(): d for d in DACS.values()},
}


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


def query_rows(rows: list[Row], columns: tuple[tuple[str, str], ...], args: Any) -> list[Row]:
    """Apply ``$filter``, ``$orderby``, ``$skip``, ``$top`` and ``$select`` to flat rows."""
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
            key = types.get(clause[0].lower(), (clause[0], "String"))[0]
            desc = len(clause) > 1 and clause[1].lower() == "desc"
            rows = sorted(
                rows,
                key=lambda r, k=key: (
                    r.get(k) is not None,
                    r.get(k) if r.get(k) is not None else 0,
                ),
                reverse=desc,
            )
    skip = int(args.get("$skip") or 0)
    top = args.get("$top")
    rows = rows[skip : skip + int(top)] if top else rows[skip:]
    select = args.get("$select")
    if select:
        wanted = [
            types.get(s.strip().lower(), (s.strip(), ""))[0] for s in select.split(",") if s.strip()
        ]
        rows = [{k: r.get(k) for k in wanted} for r in rows]
    return rows


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

    def rows_response(name: str, rows: list[Row], columns: tuple[tuple[str, str], ...]) -> Response:
        try:
            value = query_rows(rows, columns, request.args)
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
    @bp.route("/gi/", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
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
    @bp.route("/dac/", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def dac_root(tenant: str) -> Response:
        return root("dac", sorted(DACS))

    @bp.route("/dac/$metadata", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def dac_metadata(tenant: str) -> Response:
        return Response(
            metadata_xml({d.name: d.columns for d in DACS.values()}), mimetype="application/xml"
        )

    @bp.route("/dac/<name>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def dac(tenant: str, name: str) -> Response:
        entry = _DAC_ALIASES.get(name.lower())
        if entry is None:
            return not_found_resource(request.url)
        with sandbox.store.lock:
            rows = entry.rows(sandbox.store)
        return rows_response(entry.name, rows, entry.columns)

    return bp
