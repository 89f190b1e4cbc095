"""Persistent distortions of served entries: schema drift and corrupted entries, until reset.

Paths are dotted (`quotes.USD.price`) and always name the upstream's original fields. Entries are
distorted on the way out, on copies, so the stored data stays what the upstream "really" holds and
`advance()` keeps working under drift. Order inside one `Drift`: retype, then drop, then rename;
corrupted entries (`bad_entries`) are applied before any drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, get_args

from kasparro.devtools.exactjson import ExactNumber, JsonObject, copy_json, number_text
from kasparro.devtools.faults import Source

BadHow = Literal["null_price", "string_price", "missing_symbol"]
BAD_HOWS: tuple[BadHow, ...] = get_args(BadHow)
Retype = Literal["string", "null"]
RETYPES: tuple[Retype, ...] = get_args(Retype)
# Where each upstream keeps the USD price of an entry.
PRICE_PATH: dict[Source, str] = {"coinpaprika": "quotes.USD.price", "coingecko": "current_price"}


def _parent(entry: JsonObject, path: str) -> tuple[JsonObject, str] | None:
    """The dict holding the last segment of `path`, and that segment; None if the path breaks."""
    *parents, leaf = path.split(".")
    node: Any = entry
    for segment in parents:
        node = node.get(segment) if isinstance(node, dict) else None
    return (node, leaf) if isinstance(node, dict) else None


def get_path(entry: JsonObject, path: str) -> Any:
    """The value at a dotted path, or None when any part is missing."""
    found = _parent(entry, path)
    return None if found is None else found[0].get(found[1])


def set_path(entry: JsonObject, path: str, value: Any) -> None:
    """Set a value at a dotted path that exists up to its last segment."""
    found = _parent(entry, path)
    if found is not None:
        found[0][found[1]] = value


def drop_path(entry: JsonObject, path: str) -> None:
    """Remove the key at a dotted path, if it is there."""
    found = _parent(entry, path)
    if found is not None:
        found[0].pop(found[1], None)


def rename_path(entry: JsonObject, old: str, new: str) -> None:
    """Move a value; within one parent the key keeps its position, as a renamed field would."""
    found = _parent(entry, old)
    if found is None or found[1] not in found[0]:
        return
    parent, leaf = found
    if old.rpartition(".")[0] == new.rpartition(".")[0]:
        new_leaf = new.rpartition(".")[2]
        items = [(new_leaf if key == leaf else key, value) for key, value in parent.items()]
        parent.clear()
        parent.update(items)
        return
    value = parent.pop(leaf)
    node = entry
    *parents, new_leaf = new.split(".")
    for segment in parents:
        node = node.setdefault(segment, {})
    node[new_leaf] = value


def retyped(value: Any, kind: Retype) -> Any:
    """`value` as the drifted type: numbers as JSON strings of their exact text, or null."""
    if kind == "null":
        return None
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return number_text(value)
    return value


@dataclass(frozen=True, slots=True)
class Drift:
    """A schema change: some keys renamed, dropped, or given another type."""

    renames: Mapping[str, str] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    retype: Mapping[str, Retype] = field(default_factory=dict)
    source: Source | None = None

    def __post_init__(self) -> None:
        paths = [*self.renames, *self.renames.values(), *self.drop, *self.retype]
        if not all(isinstance(path, str) for path in paths):
            raise ValueError("drift paths must be strings")
        for kind in self.retype.values():
            if kind not in RETYPES:
                raise ValueError(f"retype must map paths to one of {RETYPES}, not {kind!r}")

    def apply(self, entry: JsonObject) -> None:
        for path, kind in self.retype.items():
            found = _parent(entry, path)
            if found is not None and found[1] in found[0]:
                found[0][found[1]] = retyped(found[0][found[1]], kind)
        for path in self.drop:
            drop_path(entry, path)
        for old, new in self.renames.items():
            rename_path(entry, old, new)


def corrupt(entry: JsonObject, source: Source, how: BadHow) -> None:
    """Break one entry the way real feeds sometimes do."""
    if how == "missing_symbol":
        entry.pop("symbol", None)
        return
    price = get_path(entry, PRICE_PATH[source])
    if how == "null_price":
        set_path(entry, PRICE_PATH[source], None)
    elif price is not None:
        set_path(entry, PRICE_PATH[source], number_text(price))


def poisoned(value: Any) -> Any:
    """A control value as served: `{"number": "1e400"}` is that JSON number text, verbatim
    (NaN and Infinity included); anything else is served as the JSON value it is."""
    if isinstance(value, dict) and set(value) == {"number"} and isinstance(value["number"], str):
        return ExactNumber(value["number"])
    return value


@dataclass(slots=True)
class Distortions:
    """Everything that stays wrong until reset: drifts, corrupted entries, a short page."""

    drifts: list[Drift] = field(default_factory=list)
    bad: dict[tuple[Source, str], BadHow] = field(default_factory=dict)
    # (source, id) -> {dotted path: value as served}: arbitrary poisoned values
    values: dict[tuple[Source, str], dict[str, Any]] = field(default_factory=dict)
    short_page: int | None = None  # CoinGecko: this page is half full, later pages are empty

    def is_active(self, source: Source) -> bool:
        keys = [*self.bad, *self.values]
        return any(key[0] == source for key in keys) or any(
            drift.source in (None, source) for drift in self.drifts
        )

    def apply(self, source: Source, entries: Iterable[JsonObject]) -> list[JsonObject]:
        """Distorted copies of `entries` (the originals are left untouched)."""
        drifts = [drift for drift in self.drifts if drift.source in (None, source)]
        served = []
        for original in entries:
            how = self.bad.get((source, original["id"]))
            values = self.values.get((source, original["id"]))
            if how is None and values is None and not drifts:
                served.append(original)
                continue
            entry: JsonObject = copy_json(original)
            if how is not None:
                corrupt(entry, source, how)
            for path, value in (values or {}).items():
                set_path(entry, path, value)
            for drift in drifts:
                drift.apply(entry)
            served.append(entry)
        return served
