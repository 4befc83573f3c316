"""``amaan serve``: the API under uvicorn. Bad settings stop it before it listens.

Forwarded headers (``X-Forwarded-For``, ``-Proto``) are believed only from the proxies in
``AMAAN_TRUSTED_PROXIES``; with none, the client is the connection's peer, whatever the
headers say (uvicorn would otherwise trust 127.0.0.1). On SIGTERM each worker stops taking
requests, gives those in flight ``AMAAN_SHUTDOWN_TIMEOUT`` seconds, cancels the rest (their
transactions roll back), seals the audit log once more and exits.
"""

from __future__ import annotations

import click

from api.cli.data import settings_or_exit
from schema.settings import Settings


def run_server(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    proxies = [p.strip() for p in settings.trusted_proxies]
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=",".join(proxies) if proxies else "",
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Serve the REST API (stateless: run several workers or hosts behind a balancer)."""
    settings = settings_or_exit()
    if workers > 1 and settings.rate_limit_storage.startswith("memory://"):
        click.echo(
            f"warning: rate limits are counted per worker ({workers} workers); set "
            "AMAAN_RATE_LIMIT_STORAGE=redis://... to share them",
            err=True,
        )
    run_server(settings, host, port, workers)
