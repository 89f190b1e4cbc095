"""`RunDetails`: the typed record of a run, written to `etl_runs.details` under the keys
`/runs/{id}` has always shown."""

from __future__ import annotations

from kasparro.pipeline.outcome import RunCounters, RunDetails


def test_a_csv_run_writes_its_file_and_checkpoints_only() -> None:
    details = RunDetails(checkpoint_before=None, file="quotes.csv", started_over=True)

    assert details.as_json() == {
        "checkpoint_before": None,
        "checkpoint_after": None,
        "file": "quotes.csv",
        "started_over": True,
    }


def test_an_api_run_counts_what_it_stored_page_by_page() -> None:
    details = RunDetails(first_page=1)
    details.count_stored(0, 0, 0)
    details.count_stored(3, 2, 1)
    details.count_stored(4, 4, 4)
    details.last_page = 2

    written = details.as_json()
    assert {k: written[k] for k in ("raw_stored", "normalized_written", "history_added")} == {
        "raw_stored": 7,
        "normalized_written": 6,
        "history_added": 5,
    }
    assert written["first_page"] == 1 and written["last_page"] == 2
    assert "mode" not in written and "file" not in written and "http" not in written


def test_the_counters_add_rejections_beside_the_details() -> None:
    counters = RunCounters()
    counters.details.mode = "replay"
    counters.reject(7, "price_usd is not a number: 'abc'")

    assert counters.details_json() == {
        "checkpoint_before": None,
        "checkpoint_after": None,
        "mode": "replay",
        "rejections": {"price_usd is not a number": 1},
        "rejected_samples": [{"row": 7, "reason": "price_usd is not a number: 'abc'"}],
    }
