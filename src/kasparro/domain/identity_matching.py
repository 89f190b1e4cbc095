"""Which coins of two sources are one coin: candidates, scores, then a one-to-one assignment.

Candidates of a coin are the other source's coins that share its ticker, its name (the same
run-together form or a distinctive word that few coins use), or a contract. Every candidate
pair is scored (`identity_evidence.score_pair`); pairs are then taken best total score first,
each coin at most once per other source (a coin claimed by a better pair is not available to a
worse one). Pinned coins (overrides) take no part.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from kasparro.domain.identity_evidence import (
    AMBIGUOUS_MARGIN,
    MERGE_AT,
    SUGGEST_AT,
    Listing,
    NameParts,
    Score,
    name_parts,
    score_pair,
)

# A word shared by more coins than this at the other source is no lead ("bitcoin", "inu").
MAX_WORD_FANOUT = 8

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Match:
    a: Listing
    b: Listing
    score: float
    evidence: dict[str, Any]
    ambiguous: bool = False


@dataclass(slots=True)
class Matching:
    merges: list[Match] = field(default_factory=list)
    suggestions: list[Match] = field(default_factory=list)


def _index(listings: Sequence[Listing], names: dict[Key, NameParts]) -> dict[str, list[int]]:
    index: dict[str, list[int]] = defaultdict(list)
    for i, coin in enumerate(listings):
        index["t:" + coin.ticker.casefold()].append(i)
        parts = names[coin.key]
        if parts.joined:
            index["n:" + parts.joined].append(i)
        for word in parts.words:
            index["w:" + word].append(i)
        for platform, address in coin.contracts:
            index[f"c:{platform}:{address}"].append(i)
    return index


def _leads(coin: Listing, parts: NameParts) -> list[str]:
    leads = ["t:" + coin.ticker.casefold()]
    if parts.joined:
        leads.append("n:" + parts.joined)
    leads += ["w:" + w for w in parts.words if len(w) > 2]
    leads += [f"c:{p}:{a}" for p, a in coin.contracts]
    return leads


def candidate_pairs(
    a_side: Sequence[Listing], b_side: Sequence[Listing], names: dict[Key, NameParts]
) -> set[tuple[int, int]]:
    """(index in a_side, index in b_side) for every pair worth scoring."""
    index = _index(b_side, names)
    pairs: set[tuple[int, int]] = set()
    for i, coin in enumerate(a_side):
        for lead in _leads(coin, names[coin.key]):
            hits = index.get(lead, ())
            if lead.startswith("w:") and len(hits) > MAX_WORD_FANOUT:
                continue
            pairs.update((i, j) for j in hits)
    return pairs


def match_sources(
    a_side: Sequence[Listing],
    b_side: Sequence[Listing],
    max_skew: timedelta,
    pinned: Iterable[Key] = (),
    focus: Iterable[Key] | None = None,
) -> Matching:
    """Merges (score >= MERGE_AT) and suggestions (SUGGEST_AT..MERGE_AT), one-to-one.

    With `focus`, only the pairs connected to those coins through candidate pairs are scored:
    the assignment never crosses from one connected group to another, so their merges are
    exactly what matching everything would give them, at a fraction of the scoring.
    """
    skip = set(pinned)
    a_side = [c for c in a_side if c.key not in skip]
    b_side = [c for c in b_side if c.key not in skip]
    names = {c.key: name_parts(c.name) for c in [*a_side, *b_side]}
    pairs = candidate_pairs(a_side, b_side, names)
    if focus is not None:
        pairs = _connected(pairs, a_side, b_side, set(focus))
    scored: list[tuple[float, str, str, int, int, Score]] = []
    for i, j in pairs:
        s = score_pair(a_side[i], b_side[j], max_skew, names)
        if s.value >= SUGGEST_AT:
            scored.append((s.value, a_side[i].coin_id, b_side[j].coin_id, i, j, s))
    scored.sort(key=lambda p: (-p[0], p[1], p[2]))
    return _assign(scored, a_side, b_side)


def _connected(
    pairs: set[tuple[int, int]],
    a_side: Sequence[Listing],
    b_side: Sequence[Listing],
    focus: set[Key],
) -> set[tuple[int, int]]:
    """The pairs in the connected groups (of the candidate-pair graph) of the `focus` coins."""
    by_a: dict[int, list[int]] = defaultdict(list)
    by_b: dict[int, list[int]] = defaultdict(list)
    for i, j in pairs:
        by_a[i].append(j)
        by_b[j].append(i)
    seen_a = {i for i, c in enumerate(a_side) if c.key in focus}
    seen_b = {j for j, c in enumerate(b_side) if c.key in focus}
    todo_a, todo_b = list(seen_a), list(seen_b)
    while todo_a or todo_b:
        for j in (j for i in todo_a for j in by_a.get(i, ())):
            if j not in seen_b:
                seen_b.add(j)
                todo_b.append(j)
        todo_a = []
        for i in (i for j in todo_b for i in by_b.get(j, ())):
            if i not in seen_a:
                seen_a.add(i)
                todo_a.append(i)
        todo_b = []
    return {(i, j) for i, j in pairs if i in seen_a}


def _assign(
    scored: list[tuple[float, str, str, int, int, Score]],
    a_side: Sequence[Listing],
    b_side: Sequence[Listing],
) -> Matching:
    result = Matching()
    rivals = _merge_scores(scored)
    taken_a: set[int] = set()
    taken_b: set[int] = set()
    for value, _, _, i, j, s in scored:
        if i in taken_a or j in taken_b:
            continue
        taken_a.add(i)
        taken_b.add(j)
        contested = value >= MERGE_AT and _contested(rivals, i, j, value)
        match = Match(a_side[i], b_side[j], value, s.evidence, contested)
        (result.merges if value >= MERGE_AT else result.suggestions).append(match)
    return result


def _merge_scores(
    scored: list[tuple[float, str, str, int, int, Score]],
) -> dict[tuple[str, int], list[tuple[float, int]]]:
    """Per coin ("a"/"b", index): its pairs that score a merge, as (score, partner)."""
    out: dict[tuple[str, int], list[tuple[float, int]]] = defaultdict(list)
    for value, _, _, i, j, _ in scored:
        if value >= MERGE_AT:
            out[("a", i)].append((value, j))
            out[("b", j)].append((value, i))
    return out


def _contested(
    rivals: dict[tuple[str, int], list[tuple[float, int]]], i: int, j: int, value: float
) -> bool:
    """Another pair of either coin scores a merge within the margin: a human should look."""
    near = value - AMBIGUOUS_MARGIN
    return any(v > near and p != j for v, p in rivals.get(("a", i), ())) or any(
        v > near and p != i for v, p in rivals.get(("b", j), ())
    )
