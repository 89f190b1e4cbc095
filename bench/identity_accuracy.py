"""Identity accuracy: the old ticker+name rules beside the evidence score, on real names.

Coins: CoinPaprika's 2,009 recorded tickers (real ids, names, symbols) against every CoinGecko
coin of the recorded coins list (17,589 real ids, names, symbols) that competes for one of them
(shares a ticker, a name or a distinctive word). Truth: the curated CoinPaprika↔CoinGecko map
(`shared/fixtures/id_map_coinpaprika_to_coingecko_sample.json`), pairs present at both.

The two recordings were taken 17 months apart, so quotes are set as the upstreams would quote
them at one moment (seeded): a true pair agrees on price within 0.4% and on market cap within
5% (CoinGecko reports no market cap for 1 coin in 10); a third of the competing coins are
*copies* (wrapped/bridged/pegged: the same price, a market cap of 0.01-30% of the original);
the rest are other coins with their own price and cap.

Scores: precision = right merges / merges touching a curated coin; wrong merges; recall = right
merges / curated pairs present. The `merges` column counts every merge; only the curated pairs'
truth is known, and the uncurated CoinGecko coins get quotes of their own (not their true
CoinPaprika twin's), so the new rules merge few of them here: that column is no measure of
recall. Then the time to resolve a full snapshot (2,500 CoinGecko +
1,000 CoinPaprika coins) with the new rules, against the +0.3 s budget.

    .venv/bin/python bench/identity_accuracy.py [--fixtures ../shared/fixtures]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from kasparro.domain.identity import Candidate, Coin, Method, resolve
from kasparro.domain.identity_evidence import Listing, name_parts
from kasparro.domain.identity_matching import MAX_WORD_FANOUT, match_sources

SEED = 20261201
SKEW = timedelta(seconds=3600)
BUDGET_S = 0.3


def _dec(x: Any) -> Decimal | None:
    return None if x is None else Decimal(str(x))


def load(fixtures: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, str]]:
    paprika = json.loads((fixtures / "coinpaprika_tickers.json").read_text())
    gecko = json.loads((fixtures / "coingecko_coins_list.json").read_text())
    truth = json.loads((fixtures / "id_map_coinpaprika_to_coingecko_sample.json").read_text())
    return paprika, gecko, truth


def paprika_listings(paprika: list[dict[str, Any]]) -> list[Listing]:
    return [
        Listing(
            "coinpaprika", t["id"], t["symbol"].upper(), t["name"],
            _dec(t["quotes"]["USD"]["price"]), _dec(t["quotes"]["USD"]["market_cap"]),
        )
        for t in paprika
    ]  # fmt: skip


def _competitors(gecko: list[dict[str, Any]], paprika: list[Listing]) -> list[dict[str, Any]]:
    tickers = {p.ticker.casefold() for p in paprika}
    words: dict[str, int] = {}
    for g in gecko:
        for w in name_parts(g["name"]).words:
            words[w] = words.get(w, 0) + 1
    p_words = {w for p in paprika for w in name_parts(p.name).words}
    joined = {name_parts(p.name).joined for p in paprika}

    def competes(g: dict[str, Any]) -> bool:
        parts = name_parts(g["name"])
        return (
            g["symbol"].casefold() in tickers
            or parts.joined in joined
            or any(w in p_words and words[w] <= MAX_WORD_FANOUT for w in parts.words)
        )

    return [g for g in gecko if competes(g)]


def gecko_listings(
    gecko: list[dict[str, Any]], paprika: list[Listing], truth: dict[str, str], rng: random.Random
) -> list[Listing]:
    by_id = {p.coin_id: p for p in paprika}
    by_ticker = {p.ticker.casefold(): p for p in reversed(paprika)}  # the largest of a ticker
    truth_of = {g: by_id[p] for p, g in truth.items() if p in by_id}
    out = []
    for g in gecko:
        twin = truth_of.get(g["id"])
        if twin is not None:
            price, cap = _same_coin(twin, rng)
        elif (copied := by_ticker.get(g["symbol"].casefold())) and rng.random() < 1 / 3:
            price, cap = _copy_of(copied, rng)
        else:
            price, cap = _other_coin(rng)
        out.append(Listing("coingecko", g["id"], g["symbol"].upper(), g["name"], price, cap))
    return out


def _jitter(value: Decimal | None, pct: float, rng: random.Random) -> Decimal | None:
    if value is None:
        return None
    return value * Decimal(str(1 + rng.uniform(-pct, pct) / 100))


def _same_coin(p: Listing, rng: random.Random) -> tuple[Decimal | None, Decimal | None]:
    cap = None if rng.random() < 0.1 else _jitter(p.market_cap_usd, 5, rng)
    return _jitter(p.price_usd, 0.4, rng), cap


def _copy_of(p: Listing, rng: random.Random) -> tuple[Decimal | None, Decimal | None]:
    share = Decimal(str(10 ** rng.uniform(-4, -0.52)))
    cap = None if p.market_cap_usd is None else p.market_cap_usd * share
    return _jitter(p.price_usd, 0.3, rng), cap


def _other_coin(rng: random.Random) -> tuple[Decimal, Decimal]:
    return Decimal(str(10 ** rng.uniform(-6, 4))), Decimal(str(round(10 ** rng.uniform(3, 9))))


def old_rules(paprika: list[Listing], gecko: list[Listing]) -> list[tuple[str, str]]:
    """The ticker + name-key rules of `domain.identity`, CoinPaprika's coins mapped first."""
    pool: dict[str, list[Candidate]] = {}
    for p in paprika:
        pool.setdefault(p.ticker, []).append(
            Candidate(p.coin_id, p.source, p.ticker, p.name, p.market_cap_usd)
        )
    merges = []
    taken = {p.coin_id for p in paprika}
    for g in gecko:
        coin = Coin(g.source, g.coin_id, g.ticker, g.name)
        decision = resolve(coin, pool.get(g.ticker, []), taken, ("coinpaprika", "coingecko"))
        if decision.method == Method.NAME:
            merges.append((decision.asset_id, g.coin_id))
        pool.setdefault(g.ticker, []).append(
            Candidate(decision.asset_id, g.source, g.ticker, g.name, None)
        )
    return merges


def new_rules(paprika: list[Listing], gecko: list[Listing]) -> list[tuple[str, str]]:
    return [(m.a.coin_id, m.b.coin_id) for m in match_sources(paprika, gecko, SKEW).merges]


def grade(merges: list[tuple[str, str]], truth: dict[str, str], present: int) -> dict[str, Any]:
    back = {g: p for p, g in truth.items()}
    right = wrong = 0
    for p, g in merges:
        if p in truth or g in back:
            if truth.get(p) == g:
                right += 1
            else:
                wrong += 1
    per_coin: dict[str, int] = {}
    for p, g in merges:
        per_coin[p] = per_coin.get(p, 0) + 1
        per_coin["g:" + g] = per_coin.get("g:" + g, 0) + 1
    return {
        "merges": len(merges),
        "right": right,
        "wrong": wrong,
        "precision": right / (right + wrong) if right + wrong else 1.0,
        "recall": right / present,
        "joined_twice": sum(1 for n in per_coin.values() if n > 1),
    }


def snapshot_time(paprika: list[Listing], gecko: list[Listing], rng: random.Random) -> float:
    """Best of 3: matching 2,500 CoinGecko coins against 1,000 CoinPaprika coins."""
    g = gecko[:2500] if len(gecko) >= 2500 else gecko + rng.sample(gecko, 2500 - len(gecko))
    g = list({x.coin_id: x for x in g}.values())
    p = paprika[:1000]
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        match_sources(p, g, SKEW)
        best = min(best, time.perf_counter() - start)
    return best


def _default_fixtures() -> Path:
    """`../shared/fixtures` beside the checkout (one level further up from a worktree)."""
    root = Path(__file__).resolve().parents[1]
    for up in (root.parent, root.parent.parent):
        if (up / "shared" / "fixtures").is_dir():
            return up / "shared" / "fixtures"
    return root.parent / "shared" / "fixtures"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=_default_fixtures())
    args = parser.parse_args()
    rng = random.Random(SEED)
    raw_paprika, raw_gecko, truth = load(args.fixtures)
    paprika = paprika_listings(raw_paprika)
    competing = _competitors(raw_gecko, paprika)
    gecko = gecko_listings(competing, paprika, truth, rng)
    gecko_ids = {g.coin_id for g in gecko}
    paprika_ids = {p.coin_id for p in paprika}
    present = sum(1 for p, g in truth.items() if p in paprika_ids and g in gecko_ids)
    print(f"coins: {len(paprika)} CoinPaprika, {len(gecko)} competing CoinGecko; "
          f"curated pairs present at both: {present} of {len(truth)}")  # fmt: skip
    rows = {"old (ticker + name key)": grade(old_rules(paprika, gecko), truth, present),
            "new (evidence score)": grade(new_rules(paprika, gecko), truth, present)}  # fmt: skip
    print(f"{'rules':26} {'merges':>7} {'right':>6} {'wrong':>6} {'precision':>10} {'recall':>7} "
          f"{'joined twice':>13}")  # fmt: skip
    for label, r in rows.items():
        print(f"{label:26} {r['merges']:7} {r['right']:6} {r['wrong']:6} {r['precision']:10.2%} "
              f"{r['recall']:7.2%} {r['joined_twice']:13}")  # fmt: skip
    print("targets: 0 wrong merges, recall >= 97.00%, 0 joined twice")
    seconds = snapshot_time(paprika, gecko, rng)
    print(f"resolve a full snapshot (2,500 + 1,000 coins): {seconds:.3f} s (budget +{BUDGET_S} s)")


if __name__ == "__main__":
    main()
