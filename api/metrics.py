"""``GET /metrics``: Prometheus text format, for staff and the operators' scrapers.

Counted in each worker (``api.request_log`` and the release pipeline): requests by route
template, method and status, their latency, cache hits, and the pipeline's refusals by code.
Read from the warehouse at scrape time (``schema.repositories.operations``): ε spent and
the cap of each dataset, and the audit entries not sealed yet with the oldest one's age.
None of it is computed from case data: requests, refusals (decided before any data is read),
cache hits, ε charges and audit entries follow what callers ask. Latency is the exception
(the time a query takes grows with the warehouse), so it is shown to a staff key only.

Who may read it: a bearer key of a staff account (everything), or, without a key, a client
in ``AMAAN_METRICS_NETWORKS`` (everything but latency); anyone else gets 401 or 403. Scrapes
are rate-limited like any request (``SURFACE``).

Several workers (``amaan serve --workers N``) count in prometheus_client's multiprocess
mode: ``amaan serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before the
workers start, and a scrape of any worker adds up all of them.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterable, Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from api.deps import IdentityDep, SessionDep, bearer
from api.errors import Forbidden, Unauthorized
from api.surfaces import Surface
from schema.db import READ_ONLY
from schema.repositories import audit_seal, operations

LIVE = CollectorRegistry()

REQUESTS = Counter(
    "amaan_requests",
    "Requests answered, by route template, method and status.",
    ["route", "method", "status"],
    registry=LIVE,
)
LATENCY = Histogram(
    "amaan_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route template.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=LIVE,
)
CACHE_HITS = Counter(
    "amaan_cache_hits",
    "Queries answered from a stored release (nothing spent), by kind.",
    ["kind"],
    registry=LIVE,
)
REFUSALS = Counter(
    "amaan_refusals",
    "Estimates, queries and publications the release pipeline refused, by error code.",
    ["code"],
    registry=LIVE,
)
STAFF_ONLY = {"amaan_request_duration_seconds"}  # families shown to a staff key only

router = APIRouter()
# A surface of its own: each scrape is identified and counted (the admin group for a key, the
# anonymous limit per address without one) before the route runs.
SURFACE = Surface(prefix="/metrics", credential=bearer, group="admin")


class _Only(Collector):
    def __init__(self, source: Collector, keep: Callable[[str], bool]) -> None:
        self.source, self.keep = source, keep

    def collect(self) -> Iterable[Metric]:
        return (m for m in self.source.collect() if self.keep(m.name))


class _Warehouse(Collector):
    """What the warehouse holds for operators, read in one short read-only transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("amaan_warehouse_up", "Whether the warehouse answered this scrape.")
        try:
            with self.sessions() as session:
                session.connection(execution_options={READ_ONLY: True})
                spend = operations.dataset_spend(session)
                unsealed = operations.unsealed_entries(session)
                lag = audit_seal.seal_lag(session) or 0.0
                session.rollback()
        except Exception:  # the scrape still answers: the warehouse is down, say so
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        spent = GaugeMetricFamily(
            "amaan_epsilon_spent", "ε charged on a dataset.", labels=["dataset"]
        )
        cap = GaugeMetricFamily("amaan_epsilon_cap", "A dataset's ε cap.", labels=["dataset"])
        for row in spend:
            spent.add_metric([row.slug], row.spent_micro / 1_000_000)
            cap.add_metric([row.slug], row.cap_micro / 1_000_000)
        yield spent
        yield cap
        yield GaugeMetricFamily(
            "amaan_audit_unsealed_entries", "Audit entries not sealed into the chain yet.", unsealed
        )
        yield GaugeMetricFamily(
            "amaan_audit_seal_lag_seconds", "Age of the oldest unsealed audit entry.", lag
        )


def _in_networks(request: Request, networks: list[str]) -> bool:
    if request.client is None or not networks:
        return False
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n.strip(), strict=False) for n in networks)


def _counted() -> Collector:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return MultiProcessCollector(None)  # type: ignore[no-untyped-call]  # every worker's files
    return LIVE


@router.get("/metrics", tags=["health"], response_class=Response)
def metrics(request: Request, identity: IdentityDep, session: SessionDep) -> Response:
    identity = request.state.identity  # as the session's transaction verified it (api.deps)
    staff = identity is not None and identity[0].role == "admin"
    if not staff and not _in_networks(request, request.app.state.settings.metrics_networks):
        if identity is None:
            raise Unauthorized("a staff API key is required (Authorization: Bearer <key>)")
        raise Forbidden("metrics are for staff")
    registry = CollectorRegistry()
    registry.register(_Only(_counted(), lambda name: staff or name not in STAFF_ONLY))
    registry.register(_Warehouse(request.app.state.sessions))
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")
