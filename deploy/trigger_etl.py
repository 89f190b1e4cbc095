#!/usr/bin/env python3
"""Ask a running Kasparro to start an ETL run: the command an external cron runs.

    KASPARRO_URL=https://kasparro-api.onrender.com SCHEDULER_TOKEN=... python deploy/trigger_etl.py

Standard library only, so any Python 3.11+ image can run it. Exit 0 when a run of at least one
source started; 3 when nothing was started because every source is running already (409: the
message names the runs); 1 on anything else.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    url = os.environ["KASPARRO_URL"].rstrip("/") + "/trigger-etl"
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's own setting
        url, method="POST", headers={"X-Scheduler-Token": os.environ["SCHEDULER_TOKEN"]}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            print(response.status, response.read().decode())
            return 0
    except urllib.error.HTTPError as exc:
        print(exc.code, exc.read().decode(), file=sys.stderr)
        return 3 if exc.code == 409 else 1
    except urllib.error.URLError as exc:
        print(f"cannot reach {url}: {exc.reason}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
