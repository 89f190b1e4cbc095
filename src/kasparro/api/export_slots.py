"""EXPORT_MAX_CONCURRENT: exports in progress per client address, counted in this process's
memory (as the rate limit is: with `serve --workers N` each worker counts its own)."""

from __future__ import annotations


class ExportSlots:
    """How many exports each client has open; a slot is taken per export and given back."""

    def __init__(self) -> None:
        self._open: dict[str, int] = {}

    def take(self, client: str, limit: int) -> bool:
        held = self._open.get(client, 0)
        if held >= limit:
            return False
        self._open[client] = held + 1
        return True

    def give_back(self, client: str) -> None:
        held = self._open.get(client, 0) - 1
        if held > 0:
            self._open[client] = held
        else:
            self._open.pop(client, None)  # forget idle clients: the map stays small

    def held(self, client: str) -> int:
        return self._open.get(client, 0)
