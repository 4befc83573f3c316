"""What every command checks before it works, each problem stopped in one line that names
the setting or says what to do: the warehouse must answer and be at this code's newest
schema (else: run ``amaan db upgrade``), and a server's port must be free."""

from __future__ import annotations

import errno
import socket

import click
from sqlalchemy import Engine

from schema.settings import Settings


def warehouse_problem(engine: Engine) -> str | None:
    from schema.migrate import problem

    return problem(engine)


def warehouse_ready_or_exit(settings: Settings, engine: Engine | None = None) -> None:
    """Stop unless the warehouse answers and is migrated (the engine's, or the settings')."""
    from schema.db import Timeouts, make_engine

    own = engine is None
    engine = engine or make_engine(settings.database_url, timeouts=Timeouts.of(settings))
    try:
        found = warehouse_problem(engine)
    finally:
        if own:
            engine.dispose()
    if found is not None:
        raise click.ClickException(found)


def port_free_or_exit(host: str, port: int) -> None:
    """Stop unless a server could listen on host:port now (checked by binding it)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise click.BadParameter(f"cannot resolve {host!r}", param_hint="--host") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise click.ClickException(
                    f"port {port} on {host} is in use: stop what holds it or pass --port"
                ) from None
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
