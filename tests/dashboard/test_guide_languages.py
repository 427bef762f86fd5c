"""The Guides page says how much of the published library reads in each language, per guide."""

from __future__ import annotations

import html
import re

import pytest

from contract.translations import guide_coverage, library_coverage


@pytest.mark.parametrize("template", ["sqlite"], indirect=True)  # one query of published documents
def test_the_guides_page_counts_translated_texts_per_language_and_guide(template, shared_server):
    latest = shared_server.history.library_revisions()[-1]
    coverage = library_coverage(latest)
    with shared_server.client() as c:
        page = c.get("/dashboard/guides").text
    shown = dict(re.findall(r'<span class="lang-cov" data-lang="([^"]+)">([^<]+)</span>', page))
    assert list(shown) == [c.lang for c in coverage] and coverage[0].lang == "en"  # the default first
    assert shown == {c.lang: c.summary() for c in coverage}
    assert "de: 4 of 11 guides complete, 124 texts missing" in html.unescape(page)
    row = re.search(r'<tr data-guide="lost-baggage">.*?<td class="langs">(.*?)</td>', page, re.DOTALL).group(1)
    cells = re.findall(r'<span data-lang="([^"]+)"( class="incomplete")?>([^<]+)</span>', row)
    want = guide_coverage(latest.guides["lost-baggage"], [c.lang for c in coverage])
    assert {lang: text for lang, _, text in cells} == {lang: f"{lang} {d}/{t}" for lang, (d, t) in want.items()}
    assert {lang for lang, marked, _ in cells if marked} == {lang for lang, (d, t) in want.items() if d < t}
