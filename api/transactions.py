"""How a transaction refused by an ``AmaanError`` ends, for a request (``api.deps``) and for a
staff command (``api.cli.staff``) alike. Free of the web framework, so that a command does not
import it to settle a refusal."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.errors import AmaanError


def settle(session: Session, exc: AmaanError) -> None:
    """End a transaction refused with ``exc``: a refusal the release service recorded keeps
    its audit entry (the service has already undone what the refused ask wrote), so it is
    committed; any other refusal undoes everything."""
    if exc.recorded:
        session.commit()
    else:
        session.rollback()
