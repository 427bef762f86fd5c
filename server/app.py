"""The server's FastAPI app, assembled in one place: the API routers (server.routes), the mobile
continue pages (server.mobile) and the staff dashboard (server.dashboard), behind ServerGuard.

`create_app()` reads its settings from the environment (server.config), so each uvicorn worker
builds the same app; everything the workers must agree on lives in the database or the data dir.
"""

from __future__ import annotations

import contextlib
import sys
import threading

from fastapi import FastAPI

from server import db, traffic
from server.config import Config
from server.content import ManifestCache
from server.deps import Context
from server.guard import ServerGuard
from server.retry_slots import RetrySlots
from server.routes import content, devices, events, health, publish, staff
from server.signing import load_or_create_key


def create_app(config: Config | None = None) -> FastAPI:
    config = config or Config.from_env()
    # The event loop shares the GIL with the request threads; a thread hands it over every
    # switch interval (5 ms by default), so with a few busy threads every step of a quick request
    # such as /healthz waited for several of them. 1 ms keeps those waits short at little cost.
    sys.setswitchinterval(0.001)
    engine = db.make_engine(config.db_url)
    db.migrate(engine)
    ctx = Context(config=config, engine=engine, signing_key=load_or_create_key(config.data_dir),
                  mobile_secret=db.shared_secret(engine, "mobile_link_key"),
                  cookie_secret=db.shared_secret(engine, "staff_cookie_key"),
                  manifests=ManifestCache(),
                  ingest_slots=threading.BoundedSemaphore(max(1, config.ingest_concurrency)),
                  retry_slots=RetrySlots(config.retry_rate))
    app = FastAPI(title="Guide kiosk server", version="1.0.0", lifespan=_lifespan,
                  description="Sync API for guide kiosks (docs/api.md), staff publishing and fleet state, "
                              "and the mobile continue pages.")
    app.state.ctx = ctx
    app.state.traffic = traffic.Tally()  # bytes per device per day, written every 30 s (server/traffic.py)
    app.add_middleware(ServerGuard, config=config)

    from server.mobile import router as mobile_router

    app.include_router(mobile_router)

    from server.dashboard import install as install_dashboard

    install_dashboard(app)  # the staff dashboard's pages under /dashboard

    from server.studio import install as install_studio

    install_studio(app)  # the content studio under /studio

    for module in (health, content, devices, events, staff, publish):
        app.include_router(module.router)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    """The rollout guard's periodic run (every guard_interval minutes), the alerts' rounds (every
    alert_interval seconds), each in one process at a time, and the events' partition maintenance
    live as long as the server does."""
    from server import partitions, rollout_guard
    from server.alerts.evaluator import AlertLoop

    ctx = app.state.ctx
    stop = rollout_guard.start_periodic(ctx.engine, ctx.config)
    # months of events made ahead and raw events past raw_event_days removed, hourly
    stop_partitions = partitions.start_periodic(ctx.engine, ctx.config.raw_event_days)
    stop_traffic = app.state.traffic.start_periodic(ctx.engine, ctx.config.traffic_flush)
    alert_loop = AlertLoop(ctx.engine, ctx.config)  # alerts: one process of all evaluates (server/alerts/)
    alert_loop.start()
    try:
        yield
    finally:
        alert_loop.stop()
        stop_partitions.set()
        stop_traffic.set()
        app.state.traffic.flush_logged(ctx.engine)  # what was counted since the last round
        if stop is not None:
            stop.set()
