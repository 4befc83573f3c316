"""The page's forms as the services take them: the publish form of the releases page as a
query the release service understands, and the fields of the account forms, bounded and
strictly parsed (errors name the field and what it takes)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, get_args

from fastapi import Depends, Form, Request

from api import releases
from api.errors import InvalidChange
from api.staff.publications import Extract
from schema.access import Role

ROLES: tuple[Role, ...] = get_args(Role)
MAX_TEXT = 200  # as the REST API's AccountIn and KeyIn
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_DECIMAL = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9})?", re.ASCII)
_WHOLE = re.compile(r"[0-9]{1,4}", re.ASCII)


@dataclass
class ExtractForm:
    title: str
    description: str
    dataset: str
    group_by: list[str]
    filter_dimension: str
    filter_values: str
    period_from: str
    period_to: str
    measure: str
    amount: str
    audience: list[str]
    rounding: str
    margins: bool

    def extract(self) -> Extract:
        filters: dict[str, list[str]] = {}
        if self.filter_dimension and self.filter_values.strip():
            values = [v.strip() for v in self.filter_values.split(",") if v.strip()]
            filters[self.filter_dimension] = values
        amount_text, rounding_text = self.amount.strip(), (self.rounding or "5").strip()
        if not (_DECIMAL.fullmatch(amount_text) and _WHOLE.fullmatch(rounding_text)):
            raise InvalidChange(
                "ε or the margin of error, and rounding, must be numbers written with the "
                "digits 0-9 (such as 0.1 and 5)"
            )
        amount, rounding = float(amount_text), int(rounding_text)
        query = releases.CountQuery(
            dataset=self.dataset,
            group_by=self.group_by,
            filters=filters,
            period=(self.period_from or None, self.period_to or None),
            epsilon=amount_text if self.measure == "epsilon" else None,
            margin_of_error=amount if self.measure == "margin" else None,
        )
        audience: list[str | int] = list(self.audience)
        return Extract(self.title, self.description, query, audience, rounding, self.margins)


async def extract_form(
    request: Request,
    title: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    dataset: Annotated[str, Form()] = "",
    group_by: Annotated[list[str], Form()] = [],  # noqa: B006  (FastAPI copies defaults)
    filter_dimension: Annotated[str, Form()] = "",
    filter_values: Annotated[str, Form()] = "",
    period_from: Annotated[str, Form()] = "",
    period_to: Annotated[str, Form()] = "",
    measure: Annotated[str, Form()] = "epsilon",
    amount: Annotated[str, Form()] = "",
    audience: Annotated[list[str], Form()] = [],  # noqa: B006
    rounding: Annotated[str, Form()] = "5",
    margins: Annotated[bool, Form()] = False,
) -> ExtractForm:
    """The form as sent; kept for the request, so that a refusal shows it filled in again."""
    request.state.extract_form = form = ExtractForm(
        title,
        description,
        dataset,
        group_by,
        filter_dimension,
        filter_values,
        period_from,
        period_to,
        measure,
        amount,
        audience,
        rounding,
        margins,
    )
    return form


FormDep = Annotated[ExtractForm, Depends(extract_form)]


def text_field(value: str, field: str, required: bool = False) -> str:
    text = value.strip()
    if required and not text:
        raise InvalidChange(f"{field} must not be empty", field=field)
    if len(text) > MAX_TEXT:
        raise InvalidChange(f"{field} must be at most {MAX_TEXT} characters", field=field)
    return text


def role_of(value: str) -> Role:
    for role in ROLES:
        if value == role:
            return role
    raise InvalidChange(f"role must be one of {', '.join(ROLES)}", field="role", allowed=ROLES)


def expiry(value: str) -> datetime | None:
    """A key's last day as YYYY-MM-DD (it stops at the start of that day, UTC), or none."""
    text = value.strip()
    if not text:
        return None
    try:
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidChange(
            "expires must be a date written YYYY-MM-DD, such as 2027-06-30", field="expires_at"
        ) from None
