"""The period and filter form every statistics page shares, read from the query string."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from contract.languages import CODES
from contract.params import FIRST_DAY
from server import stats
from server.params import query_date, query_whole

DEFAULT_DAYS = 30


@dataclass
class FilterForm:
    filters: stats.Filters
    query: dict[str, str]  # what to carry over into links

    def link(self, **changes: Any) -> str:
        q = {**self.query, **{k: str(v) for k, v in changes.items() if v is not None}}
        return urlencode({k: v for k, v in q.items() if v not in ("", None)})


def read_filters(request: Request) -> FilterForm:
    p = request.query_params
    zone = request.app.state.ctx.config.zone  # the period's days are the site's days
    today = datetime.now(zone).date()
    # Bounded dates (contract.params): a period's arithmetic below, and the SQL after it, always
    # stay inside what datetime and the database hold; anything else is a 400.
    end = query_date(p, "end", today)
    start = query_date(p, "start", max(FIRST_DAY, end - timedelta(days=DEFAULT_DAYS - 1)))
    if start > end:
        start, end = end, start
    start = max(start, end - timedelta(days=366))  # a year at most: keeps every page fast
    f = stats.Filters(start=start, end=end, site=p.get("site") or None, lang=p.get("lang") or None,
                      guide=p.get("guide") or None, device=p.get("device") or None,
                      rating=query_whole(p, "rating", 1, 5), zone=zone)
    query = {"start": start.isoformat(), "end": end.isoformat(), "site": f.site or "", "lang": f.lang or "",
             "guide": f.guide or "", "device": f.device or "", "rating": str(f.rating or "")}
    return FilterForm(f, query)


def filter_choices(conn) -> dict[str, list[str]]:
    return {"sites": stats.sites(conn), "languages": list(CODES), "guides": stats.guide_ids(conn),
            "devices": stats.device_names(conn)}
