"""Emulator of the X-Cart 5.5+ REST API (API Platform, ``/api``), see docs/sandboxes/xcart.md."""

from sandboxes.xcart.app import create_app

__all__ = ["create_app"]
