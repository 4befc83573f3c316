"""The reference for cached hits in ``bench.api``: a minimal route on Amaan's stack.

FastAPI and uvicorn (httptools, uvloop), a synchronous route in the thread pool as Amaan's,
SQLAlchemy with psycopg on the same PostgreSQL: the bearer key is looked up by its SHA-256
(one row read, with its account), and the row comes back as JSON. Nothing else: no
resolving, no audit, no commit of a write. Served by ``bench.api`` with
``uvicorn bench.minimal_app:create_app --factory --workers 2``.
"""

from __future__ import annotations

import hashlib
import os

from fastapi import FastAPI, HTTPException, Request
from sqlalchemy import text

from schema.db import make_engine

_LOOKUP = text(
    "SELECT k.id, k.account_id, a.role FROM api_keys k JOIN accounts a ON a.id = k.account_id "
    "WHERE k.key_hash = :digest AND k.revoked_at IS NULL AND a.active"
)


def create_app() -> FastAPI:
    engine = make_engine(os.environ["AMAAN_DATABASE_URL"], pool_size=10)
    app = FastAPI()

    @app.post("/v1/queries")
    def query(request: Request) -> dict[str, object]:
        scheme, _, raw = request.headers.get("authorization", "").partition(" ")
        digest = hashlib.sha256(raw.strip().encode("utf-8")).hexdigest()
        with engine.connect() as conn:
            row = conn.execute(_LOOKUP, {"digest": digest}).one_or_none()
        if scheme.lower() != "bearer" or row is None:
            raise HTTPException(401, "a valid API key is required")
        return {"key": row[0], "account": row[1], "role": row[2]}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
