"""Peak memory of reading a CSV with one 50 MB line (the row is rejected, stored truncated).

.venv/bin/python bench/csv_long_line.py
"""

from __future__ import annotations

import resource
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from kasparro.sources.csv_file import CsvFileReader

LINE_BYTES = 50 * 1024 * 1024
CEILING_MB = 100  # issue 10: 537 MB before the cap (CSV_MAX_LINE_BYTES, default 1 MB)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long.csv"
        with path.open("wb") as handle:
            handle.write(b"ticker,price_usd\nBTC,1\n")
            chunk = b"E" * (1 << 20)
            for _ in range(LINE_BYTES // len(chunk)):  # never the whole line in memory here
                handle.write(chunk)
            handle.write(b",2\nETH,3\n")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        reader = CsvFileReader(path, None, 1, datetime.now(UTC))
        rejected = sum(len(b.rejected) for b in reader.batches(1000))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"50 MB line: {rejected} rejected row, peak RSS {peak:.0f} MB "
          f"(+{peak - before:.0f} MB while reading; ceiling {CEILING_MB} MB)")  # fmt: skip


if __name__ == "__main__":
    main()
