"""``amaan summaries``: publish a summary of a dataset's newest version, list its summaries.

Publishing goes through the release pipeline (``api.answers``) as the staff account named
with ``--as``, so it is checked before any read, charged to the dataset's cap and audited as
over the API. Derived queries the summary covers are then answered from it for free.
"""

from __future__ import annotations

import json

import click

from api import answers
from api.cli.data import settings_or_exit
from api.cli.releases import _staff
from api.cli.staff import show, transaction
from api.summaries import extract, templates, views


@click.group("summaries")
def summaries_group() -> None:
    """Summaries: measured once, answered from for free."""


@summaries_group.command("publish")
@click.argument("dataset")
@click.option("--as", "staff_id", type=int, required=True, help="The publishing staff account.")
@click.option("--template", type=click.Choice(templates.TEMPLATES), default="default")
@click.option("--year", type=click.IntRange(1900, 2999), default=None, help="Summarise to its end.")
@click.option("--epsilon", required=True, help="ε to spend from the dataset's cap, e.g. 1.")
def summaries_publish(
    dataset: str, staff_id: int, template: str, year: int | None, epsilon: str
) -> None:
    """Publish a summary; a later version extends the template's series (new months only)."""
    settings = settings_or_exit()
    with transaction() as s:
        staff = _staff(s, staff_id)
        ask = answers.Summarise(dataset, template, epsilon, year)
        show(views.published(answers.answer(s, staff, ask, settings)))


@summaries_group.command("list")
@click.argument("dataset")
@click.option("--as", "staff_id", type=int, required=True, help="A staff account.")
def summaries_list(dataset: str, staff_id: int) -> None:
    """Every summary of a dataset, newest first."""
    with transaction() as s:
        show(views.listed(s, _staff(s, staff_id), dataset)[0])


@summaries_group.command("report")
@click.argument("release_id")
@click.option("--as", "staff_id", type=int, required=True, help="A staff account.")
@click.option("--format", "form", type=click.Choice(["json", "csv"]), default="json")
@click.option(
    "--confidence",
    type=float,
    default=None,
    help="Of the intervals (0.5 to 1); default the simultaneous level of the 14 figures.",
)
def summaries_report(release_id: str, staff_id: int, form: str, confidence: float | None) -> None:
    """The annual report of an annual-report summary: its figures, free (audited)."""
    with transaction() as s:
        staff = _staff(s, staff_id)
        found = extract.of_release(s, staff, release_id, extract.confidence(confidence))
        extract.downloaded(s, staff, found, f"report_{form}")
        if form == "csv":
            click.echo(extract.as_csv(found, bom=False).decode("utf-8"), nl=False)
        else:
            click.echo(json.dumps(extract.as_json(found), ensure_ascii=False, indent=2))
