"""A real `kasparro serve` for the benchmarks that measure it from outside (export, stream)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

BIN = Path(__file__).resolve().parents[1] / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    """The process's resident memory now (0 once it is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@contextlib.contextmanager
def serving(dsn: str, work: Path, settings: dict[str, str]) -> Iterator[tuple[str, int, int]]:
    """`kasparro serve` on a free port of 127.0.0.1 with `settings` (and none of the caller's
    ETL_/LOG_/EXPORT_/STREAM_ ones); yields its base URL, port and pid once /health answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ETL_", "LOG_", "EXPORT_", "STREAM_"))}  # fmt: skip
    env |= {"DATABASE_URL": dsn, "ETL_INTERVAL_SECONDS": "0", "LOG_LEVEL": "WARNING",
            "KASPARRO_DATA_DIR": str(work / "data"), **settings}  # fmt: skip
    args = [str(BIN / "kasparro"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(args, env=env, cwd=work, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, process)
        yield base, port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("kasparro serve did not start")
        time.sleep(0.3)


@contextlib.contextmanager
def fresh_database(prefix: str) -> Iterator[tuple[str, str, Path]]:
    """A new embedded PostgreSQL at head in a temporary folder; yields its SQLAlchemy URL, its
    plain DSN and the folder, and stops the server afterwards."""
    from kasparro.db.embedded import start_embedded_postgres, stop_embedded_postgres
    from kasparro.db.migrate import upgrade_to_head

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        os.chmod(tmp, 0o755)  # the embedded server may run as another user when we are root
        work = Path(tmp)
        url = start_embedded_postgres(work / "pgdata")
        try:
            upgrade_to_head(url)
            yield url, url.replace("postgresql+asyncpg://", "postgresql://", 1), work
        finally:
            stop_embedded_postgres(work / "pgdata")
