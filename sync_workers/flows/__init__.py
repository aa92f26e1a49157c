"""The entity syncs. Each flow module declares its :class:`~sync_workers.flows.shape.Flow`
(``FLOW``): chains of named steps, poll, realtime triggers, plan and drift; the runner
(:mod:`sync_workers.flows.runner`) runs them all the same way."""

#: Every flow, by name; each has a queue of its own.
NAMES = ("orders", "customers", "payments", "shipments", "products", "inventory")
