"""Checks every record passes before anything is written to the target (pure, no I/O)."""
