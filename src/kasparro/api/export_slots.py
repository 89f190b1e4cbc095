"""EXPORT_MAX_CONCURRENT: exports in progress per client address, counted in this process's
memory (as the rate limit is: with `serve --workers N` each worker counts its own); and a cap
for the whole process, so that exports, each holding a read-pool connection for as long as it
streams, never take the connections the other read routes need."""

from __future__ import annotations


class ExportSlots:
    """How many exports each client has open; a slot is taken per export and given back."""

    def __init__(self) -> None:
        self._open: dict[str, int] = {}
        self.total = 0

    def take(self, client: str, limit: int, process_limit: int) -> bool:
        """A slot unless `client` holds `limit` or the process `process_limit` already."""
        held = self._open.get(client, 0)
        if held >= limit or self.total >= process_limit:
            return False
        self._open[client] = held + 1
        self.total += 1
        return True

    def give_back(self, client: str) -> None:
        self.total -= 1
        held = self._open.get(client, 0) - 1
        if held > 0:
            self._open[client] = held
        else:
            self._open.pop(client, None)  # forget idle clients: the map stays small

    def held(self, client: str) -> int:
        return self._open.get(client, 0)
