"""Finding a record in the ledger and reading its page, with the ledger's own indexes.

A search term is tried, in one query on the unique indexes, as every chain's source id (with
the chain's ledger prefix: ``profile:5``; an e-mail as a guest's ``email:…``) and as every
target key, for each flow and direction the flows declare. When that finds nothing, one scan
reads what the ledger keeps beside the ids: an order's X-Cart number, a customer's e-mail, and
an Acumatica number typed without its type (``000123`` for ``SO/000123``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Engine, Text, and_, cast, or_, select

from sync_workers.flows import NAMES
from sync_workers.flows.shape import Chain
from sync_workers.ledger import history
from sync_workers.ledger.db import session_scope
from sync_workers.ledger.models import SyncRecord

RESULT_LIMIT = 50
#: Ledger data keys a search may match, each with the flow that keeps it.
DATA_KEYS = (("orders", "order_number"), ("customers", "email"))


@cache
def chains() -> tuple[tuple[str, Chain], ...]:
    """Every (flow, chain) the engine runs."""
    from sync_workers.flows.runner import definition

    return tuple((name, chain) for name in NAMES for chain in definition(name).chains)


def directions(flow: str) -> list[str]:
    return sorted({chain.direction for name, chain in chains() if name == flow})


def chain_of(flow: str, direction: str, source_id: str) -> Chain | None:
    """The chain whose records a ledger row holds (the longest matching prefix wins)."""
    found = [
        chain
        for name, chain in chains()
        if name == flow
        and chain.direction == direction
        and source_id.startswith(chain.ledger_prefix)
    ]
    return max(found, key=lambda c: len(c.ledger_prefix), default=None)


def record_id_of(chain: Chain, source_id: str) -> str:
    return source_id[len(chain.ledger_prefix) :]


def systems(direction: str) -> tuple[str, str]:
    """(the source's system, the target's) of a direction such as ``xcart_to_acumatica``."""
    source, _, target = direction.partition("_to_")
    names = {"xcart": "X-Cart", "acumatica": "Acumatica"}
    return names.get(source, source), names.get(target, target)


def _candidates(term: str) -> dict[tuple[str, str], set[str]]:
    wanted: dict[tuple[str, str], set[str]] = {}
    for flow, chain in chains():
        ids = wanted.setdefault((flow, chain.direction), set())
        ids.add(term)
        if chain.ledger_prefix and not term.startswith(chain.ledger_prefix):
            ids.add(chain.ledger_prefix + term)
    if "@" in term:
        wanted.setdefault(("customers", "xcart_to_acumatica"), set()).add(
            "email:" + term.casefold()
        )
    return wanted


def _rows(engine: Engine, condition: Any) -> list[dict[str, Any]]:
    query = (
        select(SyncRecord.__table__)
        .where(condition)
        .order_by(SyncRecord.updated_at.desc())
        .limit(RESULT_LIMIT)
    )
    with session_scope(engine) as session:
        return [dict(row._mapping) for row in session.connection().execute(query)]


def search(engine: Engine, term: str) -> list[dict[str, Any]]:
    """Ledger rows the term names, newest change first (at most ``RESULT_LIMIT``)."""
    term = term.strip()
    if not term:
        return []
    exact = []
    for (flow, direction), ids in _candidates(term).items():
        same_place = and_(SyncRecord.flow == flow, SyncRecord.direction == direction)
        exact.append(and_(same_place, SyncRecord.source_id.in_(sorted(ids))))
        exact.append(and_(same_place, SyncRecord.target_key == term))
    found = _rows(engine, or_(*exact))
    if found:
        return found
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    text = cast(SyncRecord.data, Text)
    # SQLite's LIKE ignores ASCII case already; PostgreSQL's does not.
    match = text.like if engine.dialect.name == "sqlite" else text.ilike
    loose: list[Any] = [
        and_(SyncRecord.flow == flow, match(f'%"{key}": "{escaped}"%', escape="\\"))
        for flow, key in DATA_KEYS
    ]
    if "/" not in term:
        loose.append(SyncRecord.target_key.like(f"%/{escaped}", escape="\\"))
    return _rows(engine, or_(*loose))


def records_at(
    engine: Engine, flow: str, source_id: str, direction: str | None
) -> list[dict[str, Any]]:
    """The ledger rows of ``source_id`` in ``flow`` (one per direction, or the one asked)."""
    wanted: Iterable[str] = [direction] if direction else directions(flow)
    query = select(SyncRecord.__table__).where(
        SyncRecord.flow == flow,
        SyncRecord.direction.in_(list(wanted)),
        SyncRecord.source_id == source_id,
    )
    with session_scope(engine) as session:
        return [dict(row._mapping) for row in session.connection().execute(query)]


@dataclass
class RecordPage:
    row: dict[str, Any] | None
    flow: str
    direction: str
    source_id: str
    chain: Chain | None
    runs: list[dict[str, Any]]

    @property
    def record_id(self) -> str:
        return record_id_of(self.chain, self.source_id) if self.chain else self.source_id


def record_page(engine: Engine, flow: str, direction: str, source_id: str) -> RecordPage:
    rows = records_at(engine, flow, source_id, direction)
    runs = history.runs_of(flow, direction, source_id, limit=100, engine=engine)
    return RecordPage(
        rows[0] if rows else None,
        flow,
        direction,
        source_id,
        chain_of(flow, direction, source_id),
        runs,
    )
