"""``amaan serve``: the API under uvicorn. Bad settings stop it before it listens."""

from __future__ import annotations

import click

from api.cli.data import settings_or_exit


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Serve the REST API (stateless: run several workers or hosts behind a balancer)."""
    import uvicorn

    settings = settings_or_exit()
    if workers > 1 and settings.rate_limit_storage.startswith("memory://"):
        click.echo(
            f"warning: rate limits are counted per worker ({workers} workers); set "
            "AMAAN_RATE_LIMIT_STORAGE=redis://... to share them",
            err=True,
        )
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )
