"""Whether the GL accounts the payments template posts journal entries to exist in Acumatica.

The template's shape is checked when a worker starts (``mapping.payments.journal_problems``);
the accounts themselves need Acumatica: :func:`account_problems` reads them (one
``GET Account``), and :func:`require_accounts` runs it once per process before the first
journal entry is posted, refusing every entry while an account is missing or inactive.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from sync_workers.connectors.acumatica.filters import Literal, one_of
from sync_workers.errors import PermanentError
from sync_workers.mapping import payments as payment_map

_checked: set[tuple[tuple[str, str], ...]] = set()
_guard = threading.Lock()


def account_problems(client: Any, template: Mapping[str, Any]) -> list[str]:
    """One line per journal setting whose account Acumatica does not have or has inactive."""
    named = {path: code for path, code in payment_map.journal_accounts(template).items() if code}
    if not named:
        return []
    codes: list[Literal] = [code for code in sorted(set(named.values()))]
    rows = client.get_list(
        "Account",
        filter=one_of("AccountCD", codes),
        select=["AccountCD", "Active"],
    )
    known = {str(r.get("AccountCD") or "").strip().upper(): r for r in rows}
    problems = []
    for path, code in sorted(named.items()):
        row = known.get(code.strip().upper())
        if row is None:
            problems.append(f"{path}: GL account {code!r} does not exist in Acumatica")
        elif row.get("Active") is False:
            problems.append(f"{path}: GL account {code!r} is inactive in Acumatica")
    return problems


def require_accounts(client: Any, template: Mapping[str, Any]) -> None:
    """Refuse (``PermanentError``) to post while a journal account is missing or inactive;
    reads Acumatica once per process and set of accounts."""
    key = tuple(sorted(payment_map.journal_accounts(template).items()))
    with _guard:
        if key in _checked:
            return
    problems = account_problems(client, template)
    if problems:
        raise PermanentError(
            "the payments template's journal accounts are wrong: " + "; ".join(problems),
            field_errors={p.split(":", 1)[0]: p.split(": ", 1)[1] for p in problems},
        )
    with _guard:
        _checked.add(key)


def forget() -> None:
    """Check the accounts again before the next entry (after the template changed)."""
    with _guard:
        _checked.clear()
