"""Emulators of the X-Cart 5.5 REST API (``xcart``) and of Acumatica's contract-based REST API
(``acumatica``), each an HTTP server of its own; ``python -m sandboxes`` runs both.

A package beside the engine: the engine reaches the sandboxes only over HTTP, and the sandboxes
import nothing of the engine (``tests/deploy/test_imports.py`` holds both to it).
"""
