"""``amaan serve``: the API under uvicorn. Bad settings, a database that does not answer or
is not migrated, and a port in use stop it before it listens, in one line.

Forwarded headers (``X-Forwarded-For``, ``-Proto``) are believed only from the proxies in
``AMAAN_TRUSTED_PROXIES``; with none, the client is the connection's peer, whatever the
headers say (uvicorn would otherwise trust 127.0.0.1). On SIGTERM each worker stops taking
requests, gives those in flight ``AMAAN_SHUTDOWN_TIMEOUT`` seconds, cancels the rest (their
transactions roll back) and exits; the audit log is sealed once more. With several workers
the audit sealer runs in this process, not in theirs (``api.sealing``).

Each request is one JSON line on standard output (``api.request_log``; off with
``AMAAN_REQUEST_LOG=false``); uvicorn's own messages go to standard error. With several
workers the metrics are counted in prometheus_client's multiprocess mode, in a fresh
directory made here (or the empty one ``PROMETHEUS_MULTIPROC_DIR`` names).
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from typing import Any

import click

from api.cli.checks import port_free_or_exit, warehouse_ready_or_exit
from api.cli.data import settings_or_exit
from schema.settings import Settings

MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"
SEALER_PID = "AMAAN_AUDIT_SEALER_PID"


def log_config(settings: Settings) -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    if settings.request_log:
        config["formatters"]["line"] = {"format": "%(message)s"}
        config["handlers"]["requests"] = {
            "formatter": "line",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
        }
        config["loggers"]["amaan.requests"] = {
            "handlers": ["requests"],
            "level": "INFO",
            "propagate": False,
        }
    return config


def run_server(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    from api.sealing import Sealer

    proxies = [p.strip() for p in settings.trusted_proxies]
    made = None
    sealer = None
    if workers > 1:
        if not os.environ.get(MULTIPROC):
            made = os.environ[MULTIPROC] = tempfile.mkdtemp(prefix="amaan-metrics-")
        # The workers' audit sealer runs here, in the supervising process, and theirs not.
        os.environ[SEALER_PID] = str(os.getpid())
        sealer = Sealer(settings)
        sealer.start_thread()
    try:
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            log_config=log_config(settings),
            access_log=False,
            proxy_headers=bool(proxies),
            forwarded_allow_ips=",".join(proxies) if proxies else "",
            timeout_graceful_shutdown=settings.shutdown_timeout,
        )
    finally:
        if sealer is not None:
            sealer.stop_thread()  # after the workers: what they wrote last is sealed too
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Serve the REST API (stateless: run several workers or hosts behind a balancer)."""
    settings = settings_or_exit()
    warehouse_ready_or_exit(settings)
    port_free_or_exit(host, port)
    if workers > 1 and settings.rate_limit_storage.startswith("memory://"):
        click.echo(
            f"warning: rate limits are counted per worker ({workers} workers); set "
            "AMAAN_RATE_LIMIT_STORAGE=redis://... to share them",
            err=True,
        )
    run_server(settings, host, port, workers)
