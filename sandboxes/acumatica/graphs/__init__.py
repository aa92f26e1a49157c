"""Business logic per entity, by entity name."""

from __future__ import annotations

from .attributes import AttributeDefinitionGraph
from .base import ActionError, Env, Graph, Settings
from .configuration import GRAPHS as CONFIGURATION_GRAPHS
from .customers import CustomerGraph
from .ledger import AccountGraph, JournalTransactionGraph
from .payments import PaymentGraph
from .sales_orders import SalesOrderGraph
from .shipments import ShipmentGraph
from .stock import (
    InventoryAdjustmentGraph,
    InventoryQuantityAvailableGraph,
    InventoryReceiptGraph,
    InventorySummaryGraph,
    StockItemGraph,
    availability,
)

_ALL: tuple[type[Graph], ...] = (
    CustomerGraph,
    SalesOrderGraph,
    StockItemGraph,
    InventorySummaryGraph,
    InventoryQuantityAvailableGraph,
    InventoryAdjustmentGraph,
    InventoryReceiptGraph,
    PaymentGraph,
    ShipmentGraph,
    AccountGraph,
    JournalTransactionGraph,
    *CONFIGURATION_GRAPHS,
    AttributeDefinitionGraph,
)
GRAPHS: dict[str, type[Graph]] = {g.defn.name: g for g in _ALL}


def graph_for(name: str, env: Env) -> Graph:
    return GRAPHS[name](env)


__all__ = ["GRAPHS", "ActionError", "Env", "Graph", "Settings", "availability", "graph_for"]
