"""Schema drift in upstream payloads and CSV headers: missing, new, retyped and renamed fields.

Rename detection pairs each missing field with the most similar new one. Name similarity is

    0.5 * characters + 0.5 * tokens

where `characters` is the better `difflib.SequenceMatcher` ratio of (a) the two names lowercased
with separators removed and (b) their tokens sorted and space-joined (so reordering costs nothing),
and `tokens` is a soft Dice overlap of the token sets: a token counts as shared when its best ratio
against the other side is at least 0.75, credited with that ratio (so `prce` still shares with
`price`). Names split into tokens on `_`, `.`, `-`, spaces, camelCase and letter-to-digit.

Why a mix rather than the max: characters alone rate names that share a long tail but differ in
meaning too high (`price_change_24h` / `percent_change_24h` 0.88, `ath_date` / `atl_date` 0.88);
a hard token overlap alone scores typos zero (`tickr` / `ticker`). The soft mix keeps both in check:
current_price/price_current 1.00, tickr/ticker 0.91, price/last_price 0.69,
market_cap/total_volume 0.18, symbol/ticker 0.00.

Dotted paths compare their last segments; a field that moved to another parent object scores
`MOVED_FACTOR` (0.9) times that. In `detect_drift` a new field whose type the expected field
does not accept scores `TYPE_MISMATCH_FACTOR` (0.8) times; a matching type (or a null, which says
nothing) leaves it unchanged. A pair is reported when its final score reaches the threshold (0.6 by
default); pairs are taken greedily, best score first, and each name is used at most once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any, Literal, get_args

JsonType = Literal["number", "string", "boolean", "object", "array", "null"]
DriftKind = Literal["missing", "new", "type_changed", "renamed"]

DEFAULT_MAX_DEPTH = 3
RENAME_THRESHOLD = 0.6
CHARACTER_WEIGHT = 0.5
TOKEN_MATCH_RATIO = 0.75
MOVED_FACTOR = 0.9
TYPE_MISMATCH_FACTOR = 0.8

_JSON_TYPES: frozenset[str] = frozenset(get_args(JsonType))
_SEPARATORS = re.compile(r"[\s_.\-]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)")
_ABSENT = object()


@dataclass(frozen=True, slots=True)
class ExpectedField:
    """A field we expect in every payload of one source, with the JSON types it may have."""

    path: str
    types: frozenset[JsonType]
    required: bool = False
    # False for fields an upstream sends only on request (e.g. CoinGecko's *_in_currency):
    # their absence is not drift, though a changed type still is.
    always_present: bool = True

    def __post_init__(self) -> None:
        if not self.path or self.path.startswith(".") or self.path.endswith("."):
            raise ValueError(f"invalid field path: {self.path!r}")
        if not self.types or not set(self.types) <= _JSON_TYPES:
            raise ValueError(
                f"{self.path}: types must be non-empty and among {sorted(_JSON_TYPES)}"
                f", got {sorted(self.types)}"
            )


@dataclass(frozen=True, slots=True)
class DriftFinding:
    """One difference between what we expect and what arrived."""

    kind: DriftKind
    field: str
    expected: str | None = None
    actual: str | None = None
    confidence: float | None = None


def json_type(value: object) -> JsonType:
    """The JSON type of a decoded value; bool is checked before number because bool is an int."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    raise TypeError(f"not a decoded JSON value: {type(value).__name__}")


def flatten(payload: Mapping[str, Any], max_depth: int = DEFAULT_MAX_DEPTH) -> dict[str, Any]:
    """Dotted path -> leaf value; non-empty dicts are descended up to `max_depth` path segments."""
    if max_depth < 1:
        raise ValueError(f"max_depth must be at least 1, got {max_depth}")
    flat: dict[str, Any] = {}
    _flatten_into(flat, payload, "", max_depth)
    return flat


def _flatten_into(flat: dict[str, Any], node: Mapping[str, Any], prefix: str, depth: int) -> None:
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and depth > 1:
            _flatten_into(flat, value, f"{path}.", depth - 1)
        else:
            flat[path] = value


def _lookup(payload: Mapping[str, Any], path: str) -> object:
    node: object = payload
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _ABSENT
        node = node[part]
    return node


# --- similarity ---------------------------------------------------------------------------


def _tokens(name: str) -> tuple[str, ...]:
    parts = _SEPARATORS.split(name.strip())
    return tuple(token.lower() for part in parts for token in _CAMEL.split(part) if token)


def _ratio(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def _soft_token_dice(left: tuple[str, ...], right: tuple[str, ...]) -> float:
    def credit(tokens: set[str], others: set[str]) -> float:
        total = 0.0
        for token in tokens:
            best = max(_ratio(token, other) for other in others)
            total += best if best >= TOKEN_MATCH_RATIO else 0.0
        return total

    a, b = set(left), set(right)
    return (credit(a, b) + credit(b, a)) / (len(a) + len(b))


def name_similarity(a: str, b: str) -> float:
    """How alike two field names are, 0..1 (formula in the module docstring); symmetric."""
    # SequenceMatcher is not symmetric, so compare in one canonical order.
    return _name_similarity(a, b) if a <= b else _name_similarity(b, a)


@lru_cache(maxsize=8192)
def _name_similarity(a: str, b: str) -> float:
    left, right = _tokens(a), _tokens(b)
    if not left or not right:
        return 0.0
    characters = max(
        _ratio("".join(left), "".join(right)),
        _ratio(" ".join(sorted(left)), " ".join(sorted(right))),
    )
    tokens = _soft_token_dice(left, right)
    return CHARACTER_WEIGHT * characters + (1 - CHARACTER_WEIGHT) * tokens


def path_similarity(a: str, b: str) -> float:
    """Name similarity of the last segments, times `MOVED_FACTOR` when the parents differ."""
    parent_a, _, leaf_a = a.rpartition(".")
    parent_b, _, leaf_b = b.rpartition(".")
    score = name_similarity(leaf_a, leaf_b)
    return score if parent_a == parent_b else score * MOVED_FACTOR


def _pair_greedily(
    scored: Iterable[tuple[str, str, float]],
    threshold: float,
    preferred: frozenset[str] = frozenset(),
) -> list[tuple[str, str, float]]:
    """Best score first (ties: `preferred` left names, then by name); each name used once."""
    ranked = sorted(
        (pair for pair in scored if pair[2] >= threshold),
        key=lambda pair: (-pair[2], pair[0] not in preferred, pair[0], pair[1]),
    )
    used_left: set[str] = set()
    used_right: set[str] = set()
    pairs: list[tuple[str, str, float]] = []
    for left, right, score in ranked:
        if left not in used_left and right not in used_right:
            used_left.add(left)
            used_right.add(right)
            pairs.append((left, right, round(score, 2)))
    return pairs


# --- payload drift ------------------------------------------------------------------------


def _types_label(types: Iterable[str]) -> str:
    return "|".join(sorted(types))


def _known_path(path: str, expected: set[str], prefixes: set[str]) -> bool:
    """Expected itself, an ancestor of an expected path, or inside an expected path."""
    if path in expected or path in prefixes:
        return True
    parts = path.split(".")
    return any(".".join(parts[:end]) in expected for end in range(1, len(parts)))


def _new_paths(payload: Mapping[str, Any], expected: Sequence[ExpectedField]) -> dict[str, str]:
    paths = {field.path for field in expected}
    prefixes = {path.rsplit(".", end)[0] for path in paths for end in range(1, path.count(".") + 1)}
    depth = max([DEFAULT_MAX_DEPTH, *(path.count(".") + 1 for path in paths)])
    return {
        path: json_type(value)
        for path, value in flatten(payload, depth).items()
        if not _known_path(path, paths, prefixes)
    }


def _rename_score(field: ExpectedField, new_path: str, new_type: str) -> float:
    score = path_similarity(field.path, new_path)
    if new_type != "null" and new_type not in field.types:
        score *= TYPE_MISMATCH_FACTOR
    return score


def detect_drift(
    payload: Mapping[str, Any],
    expected: Sequence[ExpectedField],
    *,
    rename_threshold: float = RENAME_THRESHOLD,
) -> list[DriftFinding]:
    """Compare one payload with the full set of fields we expect; sorted by kind, then field.

    A null value is present (nullability is the normalizer's call). A renamed pair is reported
    only as "renamed", never also as "missing" and "new".
    """
    findings: list[DriftFinding] = []
    missing: list[ExpectedField] = []
    for field in expected:
        value = _lookup(payload, field.path)
        if value is _ABSENT:
            if field.always_present:
                missing.append(field)
        elif value is not None and (actual := json_type(value)) not in field.types:
            findings.append(
                DriftFinding("type_changed", field.path, _types_label(field.types), actual)
            )
    new = _new_paths(payload, expected)
    scored = [
        (f.path, path, _rename_score(f, path, kind)) for f in missing for path, kind in new.items()
    ]
    renamed = {old: (path, score) for old, path, score in _pair_greedily(scored, rename_threshold)}
    taken = {path for path, _ in renamed.values()}
    for field in missing:
        label = _types_label(field.types)
        if field.path in renamed:
            path, score = renamed[field.path]
            findings.append(DriftFinding("renamed", field.path, label, path, score))
        else:
            findings.append(DriftFinding("missing", field.path, label))
    findings.extend(
        DriftFinding("new", path, None, kind) for path, kind in new.items() if path not in taken
    )
    return sorted(findings, key=_finding_order)


def _finding_order(finding: DriftFinding) -> tuple[str, str, str, str]:
    return (finding.kind, finding.field, finding.expected or "", finding.actual or "")


# --- CSV header drift ---------------------------------------------------------------------


def detect_header_drift(
    header: Sequence[str],
    known: Mapping[str, Sequence[str]],
    required: Sequence[str],
    normalize: Callable[[str], str],
    *,
    rename_threshold: float = RENAME_THRESHOLD,
) -> list[DriftFinding]:
    """Drift of a CSV header against our fields and their accepted aliases.

    A column matching no alias is "new" (`field` = the column as spelled); every known field
    without a column is "missing" (`expected` = its aliases joined by "|"), unless an unmatched
    column is similar enough to the field name or one of its aliases, then it is "renamed"
    (`actual` = the column). Required fields win ties when pairing. Blank columns are ignored.
    """
    unknown = [name for name in required if name not in known]
    if unknown:
        raise ValueError(f"required fields not in known: {unknown}")
    alias_to_field: dict[str, str] = {}
    for name, aliases in known.items():
        for alias in aliases:
            alias_to_field.setdefault(normalize(alias), name)
    matched: set[str] = set()
    unmatched: list[str] = []
    for column in header:
        key = normalize(column)
        spelled = column.strip().lstrip("\ufeff")
        if key in alias_to_field:
            matched.add(alias_to_field[key])
        elif key and spelled not in unmatched:
            unmatched.append(spelled)
    missing = [name for name in known if name not in matched]
    scored = [
        (name, column, max(name_similarity(column, alias) for alias in (name, *known[name])))
        for name in missing
        for column in unmatched
    ]
    renamed = {
        name: (column, score)
        for name, column, score in _pair_greedily(scored, rename_threshold, frozenset(required))
    }
    taken = {column for column, _ in renamed.values()}
    findings = [DriftFinding("new", column) for column in unmatched if column not in taken]
    for name in missing:
        label = _types_label(known[name])
        if name in renamed:
            column, score = renamed[name]
            findings.append(DriftFinding("renamed", name, label, column, score))
        else:
            findings.append(DriftFinding("missing", name, label))
    return sorted(findings, key=_finding_order)


# --- aggregation --------------------------------------------------------------------------


class DriftSummary:
    """Findings of many payloads of one run: one entry per distinct finding, with its count.

    Findings differing only in rename confidence are one entry, which keeps the highest confidence.
    """

    __slots__ = ("_counts", "_findings", "payloads")

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, str | None, str | None], int] = {}
        self._findings: dict[tuple[str, str, str | None, str | None], DriftFinding] = {}
        self.payloads = 0

    def add(self, findings: Iterable[DriftFinding]) -> None:
        """Record the findings of one payload (call once per payload, even with no findings)."""
        self.payloads += 1
        for finding in findings:
            key = (finding.kind, finding.field, finding.expected, finding.actual)
            self._counts[key] = self._counts.get(key, 0) + 1
            kept = self._findings.get(key)
            if kept is None or (finding.confidence or 0.0) > (kept.confidence or 0.0):
                self._findings[key] = finding

    def merge(self, other: DriftSummary) -> None:
        """Fold another summary (e.g. one page's) into this one (e.g. the run's)."""
        self.payloads += other.payloads
        for key, count in other._counts.items():
            self._counts[key] = self._counts.get(key, 0) + count
            finding, kept = other._findings[key], self._findings.get(key)
            if kept is None or (finding.confidence or 0.0) > (kept.confidence or 0.0):
                self._findings[key] = finding

    def items(self) -> list[tuple[DriftFinding, int]]:
        """(finding, count), most frequent first, then by kind and field."""
        keys = sorted(
            self._counts, key=lambda key: (-self._counts[key], _finding_order(self._findings[key]))
        )
        return [(self._findings[key], self._counts[key]) for key in keys]

    def as_dicts(self) -> list[dict[str, Any]]:
        """The entries as JSON-ready dicts, in `items()` order."""
        return [
            {
                "kind": finding.kind,
                "field": finding.field,
                "expected": finding.expected,
                "actual": finding.actual,
                "confidence": finding.confidence,
                "count": count,
            }
            for finding, count in self.items()
        ]

    def __len__(self) -> int:
        return len(self._counts)

    def __bool__(self) -> bool:
        return bool(self._counts)
