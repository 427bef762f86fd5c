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

from server import db, summary, traffic
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
    summary.follow_time_zone(engine, config.zone)  # the comparison summaries' days are the site's days
    ctx = Context(config=config, engine=engine, signing_key=load_or_create_key(config.data_dir),
                  mobile_secret=db.shared_secret(engine, "mobile_link_key"),
                  cookie_secret=db.shared_secret(engine, "staff_cookie_key"),
                  manifests=ManifestCache(),
                  ingest_slots=threading.BoundedSemaphore(max(1, config.ingest_concurrency)),
                  retry_slots=RetrySlots(config.retry_rate, config.retry_window, config.retry_max_wait))
    app = FastAPI(title="Guide kiosk server", version="1.0.0", lifespan=_lifespan,
                  docs_url=None, redoc_url=None,  # /docs from vendored files: server/api_docs.py
                  description="Sync API for guide kiosks (docs/api.md), staff publishing and fleet state, "
                              "and the mobile continue pages.")
    app.state.ctx = ctx
    app.state.traffic = traffic.Tally(config.zone)  # bytes per device per site day, written every 30 s (server/traffic.py)
    app.add_middleware(ServerGuard, config=config)

    from server.mobile import router as mobile_router

    app.include_router(mobile_router)

    from server.dashboard import install as install_dashboard

    install_dashboard(app)  # the staff dashboard's pages under /dashboard

    from server.studio import install as install_studio

    install_studio(app)  # the content studio under /studio

    from server import api_docs

    app.include_router(api_docs.router)
    for module in (health, content, devices, events, staff, publish):
        app.include_router(module.router)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    """The alerts' rounds (every alert_interval seconds) and the rollout guard's runs (every
    guard_interval minutes), in one process of all at a time (the evaluator's lease), and the events'
    partition maintenance and the per-device byte counts live as long as the server does."""
    from server import drafts, partitions
    from server.alerts.evaluator import AlertLoop

    ctx = app.state.ctx
    # months of events made ahead and raw events past raw_event_days removed, hourly
    stop_partitions = partitions.start_periodic(ctx.engine, ctx.config.raw_event_days)
    stop_traffic = app.state.traffic.start_periodic(ctx.engine, ctx.config.traffic_flush)
    # the studio's scheduled drafts go live on the leader's rounds too
    loop = AlertLoop(ctx.engine, ctx.config, hooks=(drafts.publish_due,))
    loop.start()
    try:
        yield
    finally:
        loop.stop()
        stop_partitions.set()
        stop_traffic.set()
        app.state.traffic.flush_logged(ctx.engine)  # what was counted since the last round
