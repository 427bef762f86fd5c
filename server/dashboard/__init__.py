"""The staff dashboard: server-rendered HTML pages under /dashboard, behind the staff login.

Pages: overview, guides (list and one guide drawn as its decision tree), feedback (with CSV
export), search, fleet, library (versions, diffs, rollback), "Where customers need a person"
(server.dashboard.comparisons, which also builds the guide page's "Did it help?"), alerts and
"You said, we did". Numbers come from server.stats (SQL), charts from server.charts (inline SVG),
so the pages need no JavaScript and no network.

Jinja2 autoescapes every value; the only unescaped HTML is the SVG that server.charts builds, and
it escapes the data it draws. Every state-changing form carries the CSRF token of the staff
member's session (server.csrf, checked by StaffDep with the request's Origin); the page also has it
in <meta name="csrf-token"> for scripts of its own. The cookie is SameSite=Strict.
"""

from __future__ import annotations

from server.dashboard import alerts, comparisons, feedback, fleet, library, login, usage
from server.dashboard.login import login_redirect, role_refused
from server.deps import RoleNeeded, StaffLoginNeeded


def install(app) -> None:
    """Mount the dashboard in the server's FastAPI app (create_app sets app.state.ctx)."""
    for module in (usage, login, feedback, fleet, library, comparisons, alerts):
        app.include_router(module.router)
    app.add_exception_handler(StaffLoginNeeded, login_redirect)
    app.add_exception_handler(RoleNeeded, role_refused)
