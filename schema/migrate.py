"""Run the Alembic migrations from code (the CLI and the tests use this), and tell whether a
warehouse is ready to serve (reachable, at this code's newest revision)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("schema") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def check(url: str) -> None:
    """Raise when the models and the migrated database differ."""
    command.check(alembic_config(url))


def head() -> str | None:
    """The newest revision this code knows."""
    return _scripts().get_current_head()


def _missing_sqlite_file(engine: Engine) -> bool:
    """A SQLite file that does not exist yet (connecting would create it, empty)."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return False
    return not Path(url.database).exists()


def problem(engine: Engine, code_head: str | None = None) -> str | None:
    """Why the warehouse cannot serve now, in one line naming what to do, or None: the
    database does not answer, or its schema is not the one this code migrates it to."""
    code_head = code_head or head()
    if _missing_sqlite_file(engine):
        current = None
    else:
        try:
            with engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
        except sa_exc.DBAPIError as exc:
            return f"the database at AMAAN_DATABASE_URL is unreachable ({type(exc.orig).__name__})"
    if current == code_head:
        return None
    if current is None:
        return "the warehouse has no schema yet: run `amaan db upgrade`"
    known = {script.revision for script in _scripts().walk_revisions()}
    if current not in known:
        return (
            f"the warehouse is at revision {current}, which this version of Amaan does not "
            "know (was it migrated by a newer one?)"
        )
    return (
        f"the warehouse is at revision {current}, this version needs {code_head}: "
        "run `amaan db upgrade`"
    )


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))
