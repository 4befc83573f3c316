"""The FastAPI application factory. Settings are read and checked when the app is built."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException

from api import docs_pages, metrics, readiness, staff_page
from api.deps import get_principal
from api.errors import AmaanError, Busy, http_error_body
from api.extracts import SizedCache
from api.gql.router import graphql_router
from api.hits import MAX_BYTES as HITS_BYTES
from api.hits import Hits
from api.limits import BodyLimit, InFlightLimit, SecurityHeaders
from api.rate_limits import Checks, rate_limiter
from api.request_log import RequestLog
from api.routes import catalogue, queries, releases, reports, staff
from api.schemas import ERROR_RESPONSES
from api.sealing import Sealer
from api.surfaces import API, GRAPHQL, Surfaces
from schema import generation, migrate
from schema.db import Timeouts, is_busy, make_engine, ping_when_idle
from schema.repositories import audit
from schema.repositories.audit_verify import KEY_INFO
from schema.settings import Settings, get_settings

log = logging.getLogger("amaan.api")


CONNECTIONS_PER_WORKER = 10  # well under PostgreSQL's default of 100 clients, with workers
PING_AFTER_IDLE_S = 1.0  # a pooled connection idle this long is pinged before it is used


def _pool(url: str) -> dict[str, int]:
    return {"pool_size": CONNECTIONS_PER_WORKER, "max_overflow": 0, "pool_timeout": 60}


def create_app(settings: Settings | None = None) -> FastAPI:
    from sqlalchemy.orm import sessionmaker

    settings = settings or get_settings()
    development = settings.environment == "development"
    engine = make_engine(
        settings.database_url, timeouts=Timeouts.of(settings), **_pool(settings.database_url)
    )
    # Not ``pool_pre_ping``: a ``SELECT 1`` before every request (a share of a cache hit).
    ping_when_idle(engine, PING_AFTER_IDLE_S)

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[None]:
        # ``amaan serve`` with several workers seals in its own process (``api.sealing``).
        sealer = None if settings.audit_sealer_pid == os.getppid() else Sealer(settings)
        if sealer is not None:
            sealer.start()
        served.state.sealer = sealer
        # What the worker built at start (modules, code lists, the app) is never garbage: out
        # of the collector's full passes, which a 4,608-cell release's dicts would otherwise
        # trigger over it (about 30 ms a request there). In production only: a test process
        # starts many apps, and what is frozen is never collected.
        if settings.environment == "production":
            gc.freeze()
        try:
            yield
        finally:
            if sealer is not None:
                await sealer.stop()
            engine.dispose()

    app = FastAPI(
        title="Amaan",
        description="Differentially private statistics from helpline case data.",
        docs_url=None,  # served by api.docs_pages, from Amaan's own copy of Swagger UI
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        lifespan=lifespan,
        # Amaan's observability is its own (api.metrics, api.request_log: route templates,
        # never raw paths). FastAPI's OpenTelemetry would look for providers on every
        # request, and one configured in the process would see raw paths.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.cache = generation.WorkerCache()  # keys, datasets, releases: schema.generation
    app.state.hits = SizedCache(HITS_BYTES)  # repeated cache hits: api.hits
    app.state.sessions = sessionmaker(
        engine,
        expire_on_commit=False,
        info={KEY_INFO: settings.audit_secret(), generation.CACHE_INFO: app.state.cache},
    )

    @app.exception_handler(AmaanError)
    def amaan_error(_: Request, exc: AmaanError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(audit.AuditKeyMismatch)
    def wrong_audit_key(_: Request, exc: Exception) -> JSONResponse:
        log.error("%s", exc)  # the operator's mistake, in the operator's log
        body = {"error": {"code": "misconfigured", "message": "the service is misconfigured"}}
        return JSONResponse(body, status_code=500)

    @app.exception_handler(RequestValidationError)
    def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(part) for part in e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        where = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
        body = {"code": "invalid_request", "message": f"invalid request: {where}", "errors": errors}
        return JSONResponse({"error": body}, status_code=422)

    @app.exception_handler(HTTPException)
    def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        """Starlette's own refusals (no such route, method not allowed, ...) in our shape."""
        return JSONResponse(
            http_error_body(exc.status_code, exc.detail),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(Exception)
    def unexpected(_: Request, exc: Exception) -> JSONResponse:
        if is_busy(exc):  # a bounded wait ran out: the client may retry
            log.warning("busy: %s", type(exc).__name__)
            busy = Busy("the service is busy; retry in a moment")
            return JSONResponse(busy.body(), status_code=503, headers={"Retry-After": "1"})
        log.error("unexpected error: %s", type(exc).__name__, exc_info=exc)
        return JSONResponse(
            {"error": {"code": "internal", "message": "unexpected error"}}, status_code=500
        )

    app.add_exception_handler(sa_exc.DBAPIError, unexpected)
    app.add_exception_handler(sa_exc.TimeoutError, unexpected)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers. It reads nothing."""
        return {"status": "ok"}

    ready = readiness.Readiness(engine, migrate.head(), ttl=settings.readiness_interval)
    app.include_router(readiness.router(ready))

    app.include_router(metrics.router)

    limiter, count = rate_limiter(settings)
    app.state.limiter = limiter
    # Checks (below) has counted every request and refused /v1 without a key already.
    data = APIRouter(
        dependencies=[Depends(docs_pages.BEARER), Depends(get_principal)],
        responses=ERROR_RESPONSES,
    )
    data.include_router(catalogue.router)
    data.include_router(queries.router)
    data.include_router(releases.router)
    data.include_router(reports.router)
    data.include_router(staff.router)
    app.include_router(data, prefix=API.prefix)
    app.include_router(graphql_router(development), prefix=GRAPHQL.prefix)
    docs_pages.mount(app, swagger=settings.docs_enabled, graphiql=development)
    staff_page.mount(app)  # its own credential (the session cookie), headers and refusals
    surfaces = Surfaces(API, GRAPHQL, staff_page.SURFACE, metrics.SURFACE)
    # Middleware, innermost first: a slot among the requests in flight only once the body has
    # arrived (a body sent slowly holds none); the body limit reads the body only after Checks
    # has identified and counted the request; CORS answers preflights before either.
    in_flight = min(settings.max_in_flight, CONNECTIONS_PER_WORKER)
    app.add_middleware(Hits)  # innermost: a repeated cache hit, with everything above done
    app.add_middleware(InFlightLimit, limit=in_flight)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    in_memory = settings.rate_limit_storage.startswith("memory://")
    app.add_middleware(Checks, count=count, surfaces=surfaces, limit=in_flight, in_memory=in_memory)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(SecurityHeaders, surfaces=surfaces)
    app.add_middleware(
        RequestLog, surfaces=surfaces
    )  # outermost: it logs every answer, refusals included
    return app
