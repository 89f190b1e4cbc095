"""SIGTERM stops a foreground run the way Ctrl-C does: cancel it, record it, exit."""

from __future__ import annotations

import asyncio
import signal

EXIT_TERMINATED = 128 + signal.SIGTERM  # what shells report for a process ended by SIGTERM


def stop_on_sigterm(task: asyncio.Task[object] | None) -> None:
    """Cancel `task` on SIGTERM; the runner rolls back the batch in flight and records the run."""
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
