"""A local emulator of an Acumatica ERP instance (contract REST, OAuth, OData, push notifications).

``create_app(data_dir, **options)`` builds the Flask app; ``python -m sandboxes.acumatica``
serves it on 127.0.0.1:8092. See ``docs/sandboxes/acumatica.md``.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
