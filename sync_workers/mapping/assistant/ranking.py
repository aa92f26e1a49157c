"""Rank Acumatica codes for one store value: pure, deterministic, explained.

Each candidate gets a score from 0 to 1, the strongest of three signals plus a small prior:

* **name**: fuzzy similarity (rapidfuzz) of the store value to the candidate's code and to its
  description, after folding case, accents, punctuation and ``camelCase``;
* **precedent**: the template already maps a similar store value to this code (``Credit
  card`` is mapped to ``CREDITCARD``, so ``Credit card (Stripe)`` probably is too), weighted by
  how similar the two store values are;
* **resolved**: records already linked whose field a person set in Acumatica (for example
  sales orders of this shipping method whose ``ShipVia`` was keyed by hand): a code chosen for
  any of them scores from :data:`RESOLVED_FLOOR` (one of many) to 1 (all of them);
* **prior**: a little for codes the template already uses often (at most :data:`PRIOR_MAX`).

Every signal that counts is listed as evidence with its number. Ties are broken by the code,
so the same inputs always give the same ranking. A suggestion is ``confident`` when its score
is at least :data:`CONFIDENCE` and it leads the runner-up by :data:`MARGIN`; only confident
suggestions may be accepted in a batch, anything else waits for a person's choice.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

CONFIDENCE = 0.85
MARGIN = 0.05
#: Suggestions kept per value.
TOP = 3
PRECEDENT_WEIGHT = 0.95
#: A code a person chose for records with this value scores at least this, and 1 when every
#: such record got it.
RESOLVED_FLOOR = 0.6
PRIOR_STEP = 0.01
PRIOR_MAX = 0.03
#: A signal below this is not worth showing as evidence.
SHOWN = 0.3

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
_NOT_WORD = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class Candidate:
    """One Acumatica code a value may map to."""

    code: str
    description: str = ""
    #: More words that name it (a state's name, a region's country): compared like the
    #: description.
    aliases: tuple[str, ...] = ()
    #: What the template entry needs beside the code (a payment method's cash account).
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Suggestion:
    code: str
    score: float
    description: str = ""
    evidence: list[str] = field(default_factory=list)
    confident: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.code,
            "score": round(self.score, 3),
            "description": self.description,
            "confident": self.confident,
            "evidence": list(self.evidence),
        }


def fold(text: str) -> str:
    """Lower-case words: accents, punctuation and ``camelCase`` boundaries taken apart."""
    spaced = _CAMEL.sub(" ", str(text))
    plain = "".join(
        c for c in unicodedata.normalize("NFKD", spaced) if not unicodedata.combining(c)
    )
    return " ".join(_NOT_WORD.sub(" ", plain.casefold()).split())


def _compact(text: str) -> str:
    return fold(text).replace(" ", "")


def similarity(a: str, b: str) -> float:
    """How alike two names are, 0 to 1: shared words and their order, and the spelling."""
    x, y = fold(a), fold(b)
    if not x or not y:
        return 0.0
    if x == y:
        return 1.0
    words = fuzz.token_set_ratio(x, y)
    whole = fuzz.token_sort_ratio(x, y)
    return (0.5 * words + 0.5 * whole) / 100


def code_similarity(value: str, code: str) -> float:
    """How well a code spells the value: ``Credit Card`` and ``CREDITCARD`` are the same, and a
    code that is a word of the value (``UPS`` in ``UPS Ground``) counts nearly as much."""
    x, y = _compact(value), _compact(code)
    if not x or not y:
        return 0.0
    if x == y:
        return 1.0
    score = fuzz.ratio(x, y) / 100
    if y in fold(value).split():
        score = max(score, 0.8)
    elif len(y) >= 4 and x.startswith(y[:3]):
        score = max(score, fuzz.partial_ratio(y, x) / 100 * 0.85)
    return score


def name_score(value: str, candidate: Candidate) -> tuple[float, str]:
    """The best of the value against the code, the description and the aliases; what matched."""
    best, what = code_similarity(value, candidate.code), f"code {candidate.code}"
    for text in (candidate.description, *candidate.aliases):
        if text:
            score = similarity(value, text)
            if score > best:
                best, what = score, repr(text)
    return best, what


def rank(
    value: str,
    candidates: Iterable[Candidate],
    *,
    mapped: Mapping[str, str] | None = None,
    resolved: Mapping[str, int] | None = None,
    count: int | None = None,
    hints: Mapping[str, tuple[float, str]] | None = None,
    top: int = TOP,
) -> list[Suggestion]:
    """The best ``top`` candidates for ``value``, best first.

    ``mapped``: the template's entries of this field (store value -> code), the precedents;
    ``resolved``: code -> how many already-linked records with this value a person resolved
    to it; ``count``: how many records carry the value (shown as evidence, it ranks nothing);
    ``hints``: code -> (score, evidence) of a field's own signal (a tax ID that starts with the
    region's code).
    """
    mapped = dict(mapped or {})
    resolved = {str(k): int(v) for k, v in (resolved or {}).items() if int(v) > 0}
    resolved_total = sum(resolved.values())
    uses: dict[str, int] = {}
    for target in mapped.values():
        uses[target.upper()] = uses.get(target.upper(), 0) + 1
    found: list[Suggestion] = []
    for candidate in {c.code: c for c in candidates}.values():
        evidence: list[str] = []
        name, matched = name_score(value, candidate)
        if name >= SHOWN:
            evidence.append(f"name: {value!r} is {name:.0%} like {matched}")
        precedent, example = 0.0, ""
        for key, target in sorted(mapped.items()):
            if target.upper() != candidate.code.upper():
                continue
            alike = similarity(value, key)
            if alike * PRECEDENT_WEIGHT > precedent:
                precedent = alike * PRECEDENT_WEIGHT
                example = key
        if precedent >= SHOWN:
            evidence.append(
                f"precedent: the template maps {example!r} ({precedent / PRECEDENT_WEIGHT:.0%} "
                f"alike) to {candidate.code}"
            )
        share = 0.0
        if resolved_total:
            chosen = resolved.get(candidate.code, 0)
            if chosen:
                share = RESOLVED_FLOOR + (1 - RESOLVED_FLOOR) * chosen / resolved_total
                evidence.append(
                    f"resolved: {chosen} of {resolved_total} linked record(s) with this value "
                    f"were set to {candidate.code} in Acumatica"
                )
        hint, why = (hints or {}).get(candidate.code, (0.0, ""))
        if hint:
            evidence.append(why)
        prior = min(PRIOR_MAX, PRIOR_STEP * uses.get(candidate.code.upper(), 0))
        if prior:
            evidence.append(
                f"frequency: the template maps {uses[candidate.code.upper()]} value(s) to "
                f"{candidate.code}"
            )
        score = min(1.0, max(name, precedent, share, hint) + prior)
        found.append(Suggestion(candidate.code, score, candidate.description, evidence))
    found.sort(key=lambda s: (-round(s.score, 6), s.code))
    if found and count is not None:
        found[0].evidence.append(f"frequency: {count} record(s) carry {value!r}")
    if found:
        runner_up = found[1].score if len(found) > 1 else 0.0
        found[0].confident = found[0].score >= CONFIDENCE and found[0].score - runner_up >= MARGIN
    return found[:top]
