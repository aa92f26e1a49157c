"""The reliability proof: orders through the engine under faults, then the invariants (``make chaos``)."""
