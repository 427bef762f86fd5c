"""The period and filter form every statistics page shares, read from the query string."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from contract.languages import CODES
from server import stats

DEFAULT_DAYS = 30


def _date(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


@dataclass
class FilterForm:
    filters: stats.Filters
    query: dict[str, str]  # what to carry over into links

    def link(self, **changes: Any) -> str:
        q = {**self.query, **{k: str(v) for k, v in changes.items() if v is not None}}
        return urlencode({k: v for k, v in q.items() if v not in ("", None)})


def read_filters(request: Request) -> FilterForm:
    p = request.query_params
    today = datetime.now(UTC).date()
    end = _date(p.get("end"), today)
    start = _date(p.get("start"), end - timedelta(days=DEFAULT_DAYS - 1))
    if start > end:
        start, end = end, start
    start = max(start, end - timedelta(days=366))  # a year at most: keeps every page fast
    rating = p.get("rating")
    f = stats.Filters(start=start, end=end, site=p.get("site") or None, lang=p.get("lang") or None,
                      guide=p.get("guide") or None, device=p.get("device") or None,
                      rating=int(rating) if rating and rating.isdigit() and 1 <= int(rating) <= 5 else None)
    query = {"start": start.isoformat(), "end": end.isoformat(), "site": f.site or "", "lang": f.lang or "",
             "guide": f.guide or "", "device": f.device or "", "rating": str(f.rating or "")}
    return FilterForm(f, query)


def filter_choices(conn) -> dict[str, list[str]]:
    return {"sites": stats.sites(conn), "languages": list(CODES), "guides": stats.guide_ids(conn),
            "devices": stats.device_names(conn)}
