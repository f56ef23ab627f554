"""`newsdedup import-warc` without `--source`: each record is stored under its publisher (its
host), so articles of one event by different outlets stay different articles, while a copy
one outlet took from another is still found."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from boilerplate_site import article_html
from test_import_warc import _response
from warcio.warcwriter import WARCWriter

LEAD = (
    "Firefighters in the hill town of Carrow Vale spent Thursday night containing a blaze that "
    "destroyed a timber yard and forced the evacuation of forty homes on its northern edge."
)
OUTLET_ONE = [
    LEAD,
    "Residents were allowed back shortly after dawn, when the fire service said the flames were out "
    "and that the smoke drifting over the valley posed no danger to health.",
    "The yard's owner, Delia Marsh, said the business had employed eleven people and that she did not "
    "yet know whether the insurance would cover the machinery lost in the fire.",
]
OUTLET_TWO = [
    LEAD,
    "Police have opened an inquiry into the cause. A neighbour told officers she heard a loud bang "
    "from the sawmill shed about twenty minutes before the first flames were seen.",
    "The town council will hold an emergency meeting on Monday to discuss temporary work for the "
    "yard's staff and a clean-up of the ash that settled on the school playground.",
]


def test_each_record_is_stored_under_its_publisher(tmp_path: Path) -> None:
    warc = tmp_path / "news.warc.gz"
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True, warc_version="1.1")
    pages = {
        "https://www.valley-star.example/2026/fire.html": article_html("Timber yard fire", *OUTLET_ONE),
        "https://hillpost.example/news/carrow-fire.html": article_html("Carrow Vale blaze", *OUTLET_TWO),
        # A syndicated copy on a third outlet: the same text with a credit line.
        "https://news.regional.example/copy/fire.html": article_html(
            "Timber yard fire", *OUTLET_ONE, "This story was first published by the Valley Star."
        ),
    }
    for url, html in pages.items():
        _response(writer, url, html.encode())
    warc.write_bytes(buffer.getvalue())

    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDEDUP_")}
    env.update(NEWSDEDUP_DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}", NEWSDEDUP_ARCHIVE="0")
    result = subprocess.run(
        [sys.executable, "-m", "newsdedup", "import-warc", str(warc)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    out = subprocess.run(
        [sys.executable, "-m", "newsdedup", "feed"], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    records = sorted((json.loads(line) for line in out.stdout.splitlines()), key=lambda r: r["source"])
    assert [(r["source"], sorted(r["sources"]), r["version"]) for r in records] == [
        ("hillpost.example", ["hillpost.example"], 1),
        ("valley-star.example", ["news.regional.example", "valley-star.example"], 1),
    ], records
