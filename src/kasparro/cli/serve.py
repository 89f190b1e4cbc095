"""`kasparro serve`"""

from __future__ import annotations

import os
import socket
from typing import Annotated, Any

import typer
import uvicorn

from kasparro.cli.bootstrap import database_url, load_settings, prepare_database


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            help="Worker processes; /metrics and the ETL schedule stay one across them.",
            min=1,
            max=64,
        ),
    ] = 1,
) -> None:
    """Apply migrations, then serve the API and run the ETL scheduler."""
    from kasparro.api.app import create_app
    from kasparro.api.http_protocol import LimitedHttpToolsProtocol
    from kasparro.observability.metrics import prepare_multiprocess_dir

    settings = load_settings()
    check_port_free(host, port)
    url = database_url(settings)
    prepare_database(settings, url)
    # access_log off: our middleware logs each request with its request_id instead.
    # http: uvicorn's httptools protocol, refusing request heads over 64 KiB with 431.
    # Proxy headers (client address, scheme) only from TRUSTED_PROXIES, the peers the rate
    # limit believes too; uvicorn's own default would trust 127.0.0.1.
    # SIGTERM: stop accepting, give open requests 5 s, then the lifespan stops a run in flight
    # (recorded as interrupted), so the process is gone well within 10 s.
    proxies = [str(network) for network in settings.trusted_proxies]
    common: dict[str, Any] = {
        "host": host, "port": port, "log_config": None, "access_log": False,
        "http": LimitedHttpToolsProtocol, "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies, "timeout_graceful_shutdown": 5,
    }  # fmt: skip
    if workers == 1:
        uvicorn.run(create_app(settings, database_url=url, run_scheduler=True), **common)
        return
    # Workers are fresh interpreters: they find the database (the embedded one this process
    # started, if so) and the shared metrics directory in the environment set here.
    os.environ["DATABASE_URL"] = url
    prepare_multiprocess_dir(settings.kasparro_data_dir / "prometheus")
    uvicorn.run("kasparro.api.worker:create_worker_app", factory=True, workers=workers, **common)


def check_port_free(host: str, port: int) -> None:
    """Fail before starting anything when the port is taken (uvicorn would log and exit 1)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
