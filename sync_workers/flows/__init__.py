"""Per-flow engine logic: the idempotent steps the thin Celery tasks of ``tasks/`` call.

Each module checks before it creates, keeps the ledger up to date and writes back; it also
offers ``plan`` (what a resync would do, without writing) and ``drift`` (reconcile).
"""
