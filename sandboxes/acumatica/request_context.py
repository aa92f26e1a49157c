"""The business date and current branch of one contract-API request.

The contract-based API uses the current date as the business date and the branch given at
sign-in as the current branch; the ``PX-CbApiBusinessDate`` and ``PX-CbApiBranch`` headers
override them for one request (Integration Development Guide, "Change the Business Date or
Current Branch"). Document dates default from the business date and new documents take the
current branch. The values live in context variables, so code deep in a graph reads them
without their being passed through every call.
"""

from __future__ import annotations

import re
from contextvars import ContextVar, Token
from datetime import date, datetime

from . import reference

BUSINESS_DATE_HEADER = "PX-CbApiBusinessDate"
BRANCH_HEADER = "PX-CbApiBranch"

_business_date: ContextVar[date | None] = ContextVar("acumatica_business_date", default=None)
_branch: ContextVar[str | None] = ContextVar("acumatica_branch", default=None)

# "The date can be specified in any format": the common forms that .NET's DateTime.Parse reads
# in the invariant and en-US cultures (ISO first), with or without a time of day.
_DATES = (
    "%Y/%m/%d",
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%m-%d-%Y",
    "%m.%d.%Y",
    "%d-%b-%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
    "%B %d %Y",
)
_TIMES = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p")
_SPACES = re.compile(r"\s+")


class BadHeader(Exception):
    """A header value the API refuses; answered 500 with this text and exception type."""

    def __init__(self, message: str, exception_type: str) -> None:
        super().__init__(message)
        self.exception_type = exception_type


def parse_business_date(text: str) -> date:
    """The date a ``PX-CbApiBusinessDate`` value names; :class:`BadHeader` when none."""
    value = _SPACES.sub(" ", text.strip())
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        pass
    for day in _DATES:
        for time in _TIMES:
            try:
                return datetime.strptime(value, day + time).date()
            except ValueError:
                continue
    raise BadHeader("String was not recognized as a valid DateTime.", "System.FormatException")


def branch_from_header(text: str) -> str:
    """The branch ID a ``PX-CbApiBranch`` value names (a branch name, or its ID)."""
    branch = reference.branch_id(text)
    if branch is None:
        raise BadHeader(
            f"Branch '{text.strip()}' cannot be found in the system.", "PX.Data.PXException"
        )
    return branch


Tokens = tuple[Token[date | None], Token[str | None]]


def enter(date_header: str | None, branch_header: str | None, session_branch: str | None) -> Tokens:
    """Set the request's business date and branch from its two headers (empty means absent).

    Raises :class:`BadHeader` for a value the API refuses; nothing is set then.
    """
    raw_date = (date_header or "").strip()
    raw_branch = (branch_header or "").strip()
    business = parse_business_date(raw_date) if raw_date else None
    branch = branch_from_header(raw_branch) if raw_branch else session_branch
    return _business_date.set(business), _branch.set(branch)


def leave(tokens: Tokens | None) -> None:
    if tokens is not None:
        _business_date.reset(tokens[0])
        _branch.reset(tokens[1])


def business_date() -> date | None:
    """The request's business date when a header set one; otherwise ``None`` (today)."""
    return _business_date.get()


def current_branch() -> str:
    """The branch new documents take: the header's, the session's, or the default branch."""
    return _branch.get() or reference.DEFAULT_BRANCH
