"""The content studio (docs/studio.md): drafts of the guide library written in the browser,
validated live with the contract's validator, reviewed and published by a publisher.

api.py is the JSON API under /studio/api (autosave with If-Match); pages.py the server-rendered
pages under /studio; edits.py the edits both of them make. The drafts themselves are server.drafts.
"""

from __future__ import annotations


def install(app) -> None:
    from starlette.exceptions import HTTPException

    from server.studio import api, pages

    app.include_router(api.router)
    app.include_router(pages.router)
    app.add_exception_handler(HTTPException, pages.refused_page)
