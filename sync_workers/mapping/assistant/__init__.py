"""The mapping assistant: for each store value no template maps, the Acumatica codes it most
likely means, each with a score and the evidence behind it; accepted by a person in one step.

* :mod:`.fields`: the mapped fields (payment method, shipping method, tax region, state), where
  each lives in the templates and which Acumatica list holds its codes.
* :mod:`.reference`: those lists, read through the contract-based API (and the state table).
* :mod:`.profile`: the store values, with counts: the open dead letters' unmapped values and
  the values of the store's recent orders.
* :mod:`.ranking`: pure, deterministic ranking (fuzzy similarity of codes and descriptions with
  rapidfuzz, precedents in the template, records already resolved, frequencies).
* :mod:`.suggest`: everything open, ranked.
* :mod:`.accept`: a person's choice written to the template (validated, the previous file kept,
  audited) and the dead letters it fixes replayed.

Nothing here calls an outside service and nothing applies itself: a suggestion becomes a
mapping only when a person accepts it (``celery -A sync_workers mapping accept`` or the
console's button); a batch accept takes only suggestions at or above :data:`CONFIDENCE`.
"""

from __future__ import annotations

from sync_workers.mapping.assistant.ranking import CONFIDENCE

__all__ = ["CONFIDENCE"]
