"""Blueprints of the emulated ``/api`` (X-Cart 5.5 API Platform routes)."""
