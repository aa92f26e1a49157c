"""Who may send: every request under ``/webhooks/`` is authenticated before it is routed.

So an unauthenticated caller gets 401 (403 when the matching secret is not configured) whatever
the path or method, and learns nothing from a 404 or 405, not even the names of the flows.

* ``/webhooks/xcart``: ``X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` with
  ``WEBHOOK_XCART_SECRET``. The signature covers the body, so the body is read here (a body over
  ``WEBHOOK_MAX_BODY_BYTES`` is 413 before it can be checked).
* everything else under ``/webhooks/`` (the Acumatica push endpoints, and any path that matches
  nothing): the custom header ``WEBHOOK_ACUMATICA_HEADER`` carrying ``WEBHOOK_ACUMATICA_SECRET``,
  checked before the body is read.

Secrets are compared in constant time and never echoed.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from flask import request

from sync_workers.webhooks.context import receiver
from sync_workers.webhooks.errors import refuse

XCART_PATH = "/webhooks/xcart"
SIGNATURE_HEADER = "X-Webhook-Signature"
SIGNATURE = re.compile(r"sha256=[0-9a-fA-F]{64}")


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body`` (what the X-Cart store module computes)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_protected(path: str) -> bool:
    """The path is under ``/webhooks`` (repeated slashes count as one, as routing merges them)."""
    parts = [part for part in path.split("/") if part]
    return bool(parts) and parts[0] == "webhooks"


def authenticate() -> None:
    """``before_request`` of the receiver: refuses (401/403) an unauthenticated webhook request."""
    if not is_protected(request.path):
        return
    parts = [part for part in request.path.split("/") if part]
    if parts[:2] == ["webhooks", "xcart"]:
        verify_xcart_signature()
    else:
        verify_acumatica_header()


def verify_acumatica_header() -> None:
    settings = receiver().settings
    secret = settings.webhook_acumatica_secret
    if not secret:
        refuse(403, "push notifications are disabled: WEBHOOK_ACUMATICA_SECRET is not set")
    header = settings.webhook_acumatica_header
    given = request.headers.get(header, "")
    if not given:
        refuse(401, f"missing {header} header")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), str(secret.reveal()).encode()):
        refuse(401, f"wrong {header} header")


def verify_xcart_signature() -> None:
    secret = receiver().settings.webhook_xcart_secret
    if not secret:
        refuse(403, "X-Cart webhooks are disabled: WEBHOOK_XCART_SECRET is not set")
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not given:
        refuse(401, f"missing {SIGNATURE_HEADER} header")
    if not SIGNATURE.fullmatch(given):
        refuse(401, f"{SIGNATURE_HEADER} must be sha256=<64 hex digits>")
    raw = request.get_data(cache=True)
    expected = sign(str(secret.reveal()), raw)
    if not hmac.compare_digest(given.lower().encode(), expected.encode()):
        refuse(401, "signature does not match the body")
