"""Arabic that wraps, drawn in a real window (issue 12): large text on the portrait panel, as the
step's bold question and as body text. Kivy is handed lines already broken by the label's own
fonts and weight (kiosk.i18n.wrap_rtl with screens/widgets.py's measure), so it never wraps the
reordered line itself, which would put the last words on top. Mixed text keeps its order:
"الخطوة 1", a gate name, a Latin network name, numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.ui.reading import reading_order_problems
from tests.ui.tours import REPO

pytestmark = pytest.mark.ui

SENTENCES = [
    # "Did your bag come out on the baggage belt? If not, go to the baggage service desk next to
    # belt number four before you leave the hall"
    ("هل خرجت حقيبتك على حزام الأمتعة؟ إذا لم تخرج فاذهب إلى مكتب خدمة الأمتعة بجوار الحزام رقم أربعة "
     "قبل أن تغادر القاعة"),
    "الخطوة 1 من 4: اذهب إلى البوابة Gate B12 في الطابق 2 ثم اسأل الموظف عن رحلتك رقم LH 123 قبل الصعود",
    "هل ترى شبكة AIRPORT-FREE-WIFI في قائمة الواي فاي على هاتفك؟ اتصل بها ثم افتح المتصفح واقبل الشروط",
]


def test_arabic_lines_read_top_first_in_large_text_portrait(display):
    env = dict(os.environ, DISPLAY=display, KIVY_NO_CONSOLELOG="1", PYTHONPATH=str(REPO))
    run = subprocess.run([sys.executable, str(REPO / "tests/ui/rtl_lines_app.py"), json.dumps(SENTENCES)],
                         env=env, capture_output=True, text=True, timeout=120, check=False)
    line = next((x for x in run.stdout.splitlines() if x.startswith("LINES ")), None)
    assert run.returncode == 0 and line, run.stdout[-2000:] + run.stderr[-2000:]
    labels = json.loads(line[len("LINES "):])
    assert len(labels) == 2 * len(SENTENCES)
    for label in labels:
        assert len(label["lines"]) >= 2, f"long enough to wrap at large text: {label}"
        assert label["texture"][0] <= label["width"] + 1, label
    problems = [p for label in labels for p in reading_order_problems(
        f"{'bold' if label['bold'] else 'body'} {label['text'][:20]!r}", label["text"], label["lines"])]
    assert not problems, "\n".join(problems)
    # the step's number stays with its word ("الخطوة 1" on one line, the top one)
    first = labels[2]["lines"][0].split(" ")
    assert "1" in first and any("\ufe93" in word or "\u0629" in word for word in first), labels[2]["lines"]
