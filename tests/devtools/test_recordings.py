"""The shipped recordings are the shared fixtures, and are written back without a digit lost."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kasparro.devtools import recordings, synth
from kasparro.devtools.exactjson import ExactNumber, dumps, loads
from tests.fixtures.shared import SHARED_FIXTURES


@pytest.mark.parametrize("name", recordings.RECORDING_NAMES)
def test_shipped_recordings_are_the_shared_fixtures(name: str) -> None:
    # CI always has ../shared: missing fixtures are a broken checkout, never a skip.
    assert SHARED_FIXTURES.is_dir(), f"shared fixtures missing: {SHARED_FIXTURES}"
    source = SHARED_FIXTURES / name.removesuffix(".gz")

    assert recordings.recording_bytes(name) == source.read_bytes()


@pytest.mark.parametrize(
    "name",
    [recordings.PAPRIKA_TICKERS, recordings.GECKO_MARKETS_PAGE1, recordings.GECKO_COINS_LIST],
)
def test_parsing_and_writing_back_changes_no_byte(name: str) -> None:
    raw = recordings.recording_bytes(name)

    assert dumps(loads(raw)) == raw


def test_numbers_keep_their_text_and_computed_ones_every_digit() -> None:
    parsed = loads(b"[1.7531913361318962e-05, 19822040.0, 20059050]")

    assert isinstance(parsed[0], ExactNumber) and parsed[0] == Decimal("0.000017531913361318962")
    assert dumps(parsed) == b"[1.7531913361318962e-05,19822040.0,20059050]"
    assert dumps([parsed[0] * 3, Decimal("2.5E-7")]) == b"[0.000052595740083956886,2.5e-7]"


def test_sizes() -> None:
    assert len(recordings.paprika_tickers()) == 2009
    assert len(recordings.gecko_markets_page1()) == 250
    assert len(recordings.gecko_coins_list()) == 17589


def test_synthetic_gecko_entries_do_not_depend_on_how_many_are_asked_for() -> None:
    assert synth.gecko_markets(600) == synth.gecko_markets(1000)[:600]


def test_gecko_pages_are_capped_by_the_coins_list() -> None:
    with pytest.raises(ValueError, match="at most 17589"):
        synth.gecko_markets(17_590)
