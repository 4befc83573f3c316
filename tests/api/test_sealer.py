"""Who runs the audit sealer: each worker, unless ``amaan serve`` with several workers runs
the one sealer in its own process (``api.sealing``); and the thread it runs there."""

import os
import time

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.app import create_app
from api.sealing import Sealer
from schema.access import AuditEntry
from schema.repositories import audit
from schema.repositories.audit_verify import KEY_INFO
from schema.settings import DEMO_AUDIT_KEY
from tests.api.conftest import settings_for


def _append(engine, n):
    with Session(engine, info={KEY_INFO: DEMO_AUDIT_KEY.encode()}) as s, s.begin():
        for _ in range(n):
            audit.append(s, action="admin.test", outcome="written")


def _unsealed(engine):
    with Session(engine) as s:
        return s.scalar(select(func.count()).where(AuditEntry.seq.is_(None)))


def test_a_worker_seals_unless_its_parent_is_the_sealer_named(db_url):
    for pid, seals in ((None, True), (os.getpid(), True), (os.getppid(), False)):
        app = create_app(settings_for(db_url, audit_sealer_pid=pid))
        with TestClient(app):
            assert isinstance(app.state.sealer, Sealer) is seals, pid


def test_the_sealer_thread_seals_as_it_runs_and_once_more_when_stopped(db_url, engine):
    sealer = Sealer(settings_for(db_url, audit_seal_interval=0.05))
    sealer.start_thread()
    try:
        _append(engine, 3)
        deadline = time.monotonic() + 60  # a hang guard only
        while _unsealed(engine):
            assert time.monotonic() < deadline, "the thread did not seal"
            time.sleep(0.05)
    finally:
        sealer.stop_thread()
    assert not sealer._thread.is_alive()

    sealer = Sealer(settings_for(db_url, audit_seal_interval=60))
    sealer.start_thread()
    deadline = time.monotonic() + 60
    while sealer.rounds < 1:  # its first round, over nothing new; the next is in a minute
        assert time.monotonic() < deadline, "the thread did not start"
        time.sleep(0.02)
    _append(engine, 2)
    sealer.stop_thread()
    assert _unsealed(engine) == 0  # the last round, as it stopped
    with Session(engine) as s:
        assert audit.verify(s, DEMO_AUDIT_KEY.encode()) == audit.Verification(True, 5)
