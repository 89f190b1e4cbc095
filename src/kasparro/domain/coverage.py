"""The coverage map of one coin at one source: every stretch of its history is either covered
(with the interval it was fetched or observed at) or a gap with a reason.

Pure: the repository hands over the backfill windows (touching windows of one outcome already
merged), the islands of live snapshots and the months retention dropped where the coin's
rollups remain; `coverage_spans` resolves the overlaps by priority, fills what nothing claims
and marks what is covered inside those months as covered by rollups only. Every span is
half-open, [start, end).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Literal

GapReason = Literal["failed", "plan_limit", "upstream_empty", "not_fetched", "not_observed"]
COVERED = "covered"
ROLLUPS_ONLY = "rollups_only"  # covered, in a month whose observations retention dropped
LIVE = "live"  # the interval label of a range of live snapshots
BACKFILL_INTERVALS = ("5m", "1h", "1d")  # finest first: the finer of two overlapping wins
# Who wins where several claim one instant, strongest first (README: "Coverage").
PRIORITY: tuple[str, ...] = (
    *(f"{COVERED}:{interval}" for interval in BACKFILL_INTERVALS),
    f"{COVERED}:{LIVE}",
    "failed",
    "plan_limit",
    "upstream_empty",
    "not_fetched",
)
GAP_REASONS: tuple[GapReason, ...] = (
    "failed",
    "plan_limit",
    "upstream_empty",
    "not_fetched",
    "not_observed",
)


@dataclass(frozen=True, slots=True)
class WindowRun:
    """Backfill windows of one interval and outcome that touch: [start, end).

    `state` is pending (running counts as pending), done, gap or failed; `reason` a gap's
    reason; `error` a failed window's last error."""

    interval: str
    start: datetime
    end: datetime
    state: str
    reason: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class LiveIsland:
    """Live snapshots no more than two cadences apart, from the first to the last."""

    first: datetime
    last: datetime


@dataclass(frozen=True, slots=True)
class RollupMonth:
    """A month retention dropped in which the coin's rollups remain, with the finest interval
    they hold there."""

    start: datetime
    end: datetime
    interval: str


@dataclass(frozen=True, slots=True)
class Span:
    """One stretch of the map: `kind` is "covered" (with its `interval`), "rollups_only" (with
    the rollups' finest interval) or a gap reason."""

    start: datetime
    end: datetime
    kind: str
    interval: str | None = None
    error: str | None = None

    @property
    def covered(self) -> bool:
        return self.kind in (COVERED, ROLLUPS_ONLY)

    def _label(self) -> tuple[str, str | None, str | None]:
        return self.kind, self.interval, self.error


@dataclass(frozen=True, slots=True)
class _Claim:
    start: datetime
    end: datetime
    rank: int
    span: Span  # the kind, interval and error the claim gives its stretch


def _window_claim(run: WindowRun) -> _Claim | None:
    if run.state == "done":
        key = f"{COVERED}:{run.interval}"
        span = Span(run.start, run.end, COVERED, run.interval)
    elif run.state == "failed":
        key, span = "failed", Span(run.start, run.end, "failed", error=run.error or "")
    elif run.state == "gap" and run.reason in ("plan_limit", "upstream_empty"):
        key, span = run.reason, Span(run.start, run.end, run.reason)
    elif run.state in ("pending", "running"):
        key, span = "not_fetched", Span(run.start, run.end, "not_fetched")
    else:
        return None
    if key not in PRIORITY or run.end <= run.start:
        return None
    return _Claim(run.start, run.end, PRIORITY.index(key), span)


def _claims(
    windows: Iterable[WindowRun], islands: Iterable[LiveIsland], cadence: timedelta
) -> list[_Claim]:
    claims = [c for c in map(_window_claim, windows) if c is not None]
    live_rank = PRIORITY.index(f"{COVERED}:{LIVE}")
    for island in islands:
        end = island.last + cadence  # a snapshot stands for the cadence it was taken at
        claims.append(_Claim(island.first, end, live_rank, Span(island.first, end, COVERED, LIVE)))
    claims.sort(key=lambda c: (c.start, c.rank))
    return claims


def _resolve(claims: list[_Claim]) -> list[Span]:
    """The strongest claim on each stretch between consecutive boundaries (kind "": none)."""
    bounds = sorted({c.start for c in claims} | {c.end for c in claims})
    active: list[tuple[int, int, datetime]] = []  # (rank, claim index, end), weakest last
    pieces: list[Span] = []
    i = 0
    for lo, hi in pairwise(bounds):
        while i < len(claims) and claims[i].start <= lo:
            heapq.heappush(active, (claims[i].rank, i, claims[i].end))
            i += 1
        while active and active[0][2] <= lo:
            heapq.heappop(active)  # ended; a stronger one still open stays on top
        if not active:
            pieces.append(Span(lo, hi, ""))
            continue
        label = claims[active[0][1]].span
        pieces.append(Span(lo, hi, label.kind, label.interval, label.error))
    return pieces


def _fill_unclaimed(pieces: list[Span], first_live: datetime | None) -> list[Span]:
    """Nothing claimed it: not_observed once the live series had begun, else not_fetched."""
    out = []
    for piece in pieces:
        if piece.kind == "":
            started = first_live is not None and piece.start >= first_live
            piece = Span(piece.start, piece.end, "not_observed" if started else "not_fetched")
        out.append(piece)
    return out


def _merge(pieces: Iterable[Span]) -> list[Span]:
    """Touching pieces of one label become one span."""
    merged: list[Span] = []
    for piece in pieces:
        last = merged[-1] if merged else None
        if last is not None and last.end == piece.start and last._label() == piece._label():
            merged[-1] = Span(last.start, piece.end, last.kind, last.interval, last.error)
        else:
            merged.append(piece)
    return merged


def _rollups_only(pieces: list[Span], months: Sequence[RollupMonth]) -> list[Span]:
    """Covered pieces cut at the edges of `months` (sorted, apart), the parts inside one
    relabelled as covered by its rollups only."""
    out: list[Span] = []
    for piece in pieces:
        rest = piece
        for month in months if piece.covered else ():
            lo, hi = max(rest.start, month.start), min(rest.end, month.end)
            if lo >= hi:
                continue
            if rest.start < lo:
                out.append(Span(rest.start, lo, rest.kind, rest.interval))
            out.append(Span(lo, hi, ROLLUPS_ONLY, month.interval))
            if hi >= rest.end:
                break
            rest = Span(hi, rest.end, rest.kind, rest.interval)
        else:
            out.append(rest)
    return out


def coverage_spans(
    windows: Iterable[WindowRun],
    islands: Sequence[LiveIsland],
    cadence: timedelta,
    rollup_months: Sequence[RollupMonth] = (),
) -> list[Span]:
    """Sorted, non-overlapping spans from the oldest requested or observed instant to the newest.

    Where claims overlap the strongest in `PRIORITY` wins: data in hand (a done window, the
    finer interval first, then live snapshots), then failed, plan_limit, upstream_empty and
    pending windows (not_fetched). A stretch nothing claims is not_observed after the first
    live snapshot (the service was down or not scheduled), not_fetched before it. What is
    covered inside one of `rollup_months` is rollups_only, with the interval of its rollups.
    """
    claims = _claims(windows, islands, cadence)
    if not claims:
        return []
    first_live = min((island.first for island in islands), default=None)
    pieces = _fill_unclaimed(_resolve(claims), first_live)
    return _merge(_rollups_only(pieces, rollup_months))


def join_islands(islands: Iterable[LiveIsland], max_step: timedelta) -> list[LiveIsland]:
    """Islands found apart (the stored snapshots', and those the rollups of pruned months
    stand in for) as one sorted list: two no more than `max_step` apart become one."""
    out: list[LiveIsland] = []
    for island in sorted(islands, key=lambda i: i.first):
        if out and island.first - out[-1].last <= max_step:
            out[-1] = LiveIsland(out[-1].first, max(out[-1].last, island.last))
        else:
            out.append(island)
    return out


def covered_union(spans: Iterable[Span]) -> list[tuple[datetime, datetime]]:
    """The covered stretches of several maps (one per source) as one sorted list of
    [start, end) intervals, overlapping or touching ones merged."""
    out: list[tuple[datetime, datetime]] = []
    for span in sorted((s for s in spans if s.covered), key=lambda s: s.start):
        if out and span.start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], span.end))
        else:
            out.append((span.start, span.end))
    return out
