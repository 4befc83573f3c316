"""``amaan releases``: publish an extract to partners, publish it again for the newest
version, list what is published.

Publishing goes through the release pipeline (``api.answers``) as the staff account named
with ``--as``, so it is checked, charged to the dataset's cap and audited as over the API.
"""

from __future__ import annotations

from pathlib import Path

import click
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api import answers
from api.cli.data import settings_or_exit
from api.cli.staff import show, transaction
from api.staff import publications
from schema.access import Account
from schema.repositories import accounts as accounts_repo


@click.group("releases")
def releases_group() -> None:
    """Extracts published to partners."""


def _staff(session: Session, account_id: int) -> Account:
    """The terminal's stand-in for the API's staff-only routes: who publishes must be staff."""
    account = accounts_repo.get_account(session, account_id)
    if account is None or account.role != "admin" or not account.active:
        raise click.BadParameter("must name an active staff (admin) account", param_hint="--as")
    return account


def _published(session: Session, released: answers.Released) -> None:
    assert released.publication is not None
    show(publications.describe(session, released.publication, released.epsilon_charged))


@releases_group.command("publish")
@click.option("--as", "staff_id", type=int, required=True, help="The publishing staff account.")
@click.option("--title", required=True)
@click.option("--description", default="")
@click.option(
    "--query",
    "query_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="A JSON file holding the body of POST /v1/queries.",
)
@click.option("--audience", multiple=True, required=True, help="all-partners or account ids.")
@click.option("--rounding", type=click.IntRange(1, 1000), default=5)
@click.option("--margins/--no-margins", default=False)
def releases_publish(
    staff_id: int,
    title: str,
    description: str,
    query_file: Path,
    audience: tuple[str, ...],
    rounding: int,
    margins: bool,
) -> None:
    """Publish a named extract; charged to the dataset's cap as a publication."""
    from api.routes.queries import to_query  # the web layer, only for this command
    from api.schemas import QueryIn

    try:
        query = to_query(QueryIn.model_validate_json(query_file.read_text(encoding="utf-8")))
    except ValidationError as exc:
        raise click.BadParameter(str(exc), param_hint="--query") from None
    settings = settings_or_exit()
    with transaction() as s:
        staff = _staff(s, staff_id)
        extract = publications.Extract(
            title, description, query, list(audience), rounding=rounding, margins=margins
        )
        _published(s, answers.answer(s, staff, answers.Publish(extract), settings))


@releases_group.command("republish")
@click.argument("publication_id", type=int)
@click.option("--as", "staff_id", type=int, required=True, help="The publishing staff account.")
def releases_republish(publication_id: int, staff_id: int) -> None:
    """Publish an extract again for the dataset's newest version (charged anew)."""
    settings = settings_or_exit()
    with transaction() as s:
        staff = _staff(s, staff_id)
        _published(s, answers.answer(s, staff, answers.Republish(publication_id), settings))


@releases_group.command("list")
def releases_list() -> None:
    """Every published extract, newest first."""
    with transaction() as s:
        show(publications.described(s))
