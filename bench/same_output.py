"""Whether a change to extraction, fingerprinting or the store changed anything a user sees.

    python -m bench.same_output --save FILE [--data DIR] [--limit N]
    python -m bench.same_output --check FILE [--data DIR] [--limit N]

Every Fundus page (``news-pages-fundus/*/*.html.gz``) goes through ``prepare_page`` (extraction,
language check, fingerprint) with the default settings, then through ``PagePipeline.commit``
into a fresh SQLite store, three times: the pages as they are (new articles), the same pages
again (unchanged) and each page at a second URL (duplicates). What is recorded per page: the
document's fields (text, title, URLs, authors, dates, language, description, site name) or the
rejection, every field of the fingerprint, the normalized lines, and each pass's outcome (kind,
version, reason; article ids replaced by their order of appearance). Then the feed: every
record in seq order, with the same replacement.

``--save`` writes that to FILE (JSON); ``--check`` computes it again and lists every page whose
record differs (exit 1), or says that all are identical. Make the file on the commit before a
change, check on the commit after it. Timings are left to ``bench.cpu_per_page``.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tempfile
from dataclasses import asdict, fields, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import data_argument_parser, require_dataset
from bench.throughput import load_pages
from newsdedup.config import Settings
from newsdedup.extract import Rejection
from newsdedup.fetched.page import Page
from newsdedup.pipeline.page_pipeline import prepare_page
from newsdedup.pipeline.services import open_embedded_pipeline

try:
    from newsdedup.pipeline.page_pipeline import prepare_page_with_story_terms as prepare_first
except ImportError:  # a commit from before the story terms were computed with the page
    prepare_first = prepare_page

BASE_URL = "http://127.0.0.1:8000"
FETCHED_AT = datetime(2026, 1, 1, tzinfo=UTC)
_HEX_ID = re.compile(r"\b[0-9a-f]{32}\b")
_SHORT_ID = re.compile(r"\barticle ([0-9a-f]{8})\b")  # how reasons name an article


def _plain(value: Any) -> Any:
    """JSON-able, bytes as their SHA-256 (the signatures and shingles are long)."""
    if isinstance(value, bytes):
        return "sha256:" + hashlib.sha256(value).hexdigest()
    if isinstance(value, datetime):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class _Ids:
    """Article ids (random) replaced by their order of appearance."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def _name(self, article_id: str) -> str:
        return self.seen.setdefault(article_id[:8], f"#{len(self.seen) + 1}")

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        text = _HEX_ID.sub(lambda m: self._name(m.group(0)), text)
        return _SHORT_ID.sub(lambda m: "article " + self._name(m.group(1)), text)


def record_outputs(folder: Path, limit: int) -> dict[str, Any]:
    pages = load_pages(folder, limit)
    records: dict[str, dict[str, Any]] = {}
    ids = _Ids()
    with tempfile.TemporaryDirectory(prefix="bench-same-") as workdir:
        settings = Settings(database_url=f"sqlite:///{workdir}/same.db")
        pipeline = open_embedded_pipeline(settings, sources=())
        try:
            prepared = []
            for site_page in pages:
                url = BASE_URL + site_page.path
                page = Page(url, url, 200, {"content-type": "text/html"}, site_page.html, FETCHED_AT, "bench")
                # As an extraction pool prepares pages (the story terms with them, when on).
                result = prepare_first(page, pipeline.min_words, pipeline.params, pipeline.max_text_chars)
                extracted = result.extracted
                records[site_page.path] = {
                    "rejection" if isinstance(extracted, Rejection) else "document": _plain(
                        asdict(extracted)
                    ),
                    "fingerprint": _plain(result.fingerprint),
                    "lines": "sha256:"
                    + hashlib.sha256(json.dumps(result.lines, ensure_ascii=False).encode()).hexdigest(),
                    "outcomes": [],
                }
                prepared.append((site_page.path, page, result))
            for copy in ("", "", "?copy"):
                for path, page, result in prepared:
                    if copy:
                        url = page.url + copy
                        page = Page(url, url, 200, page.headers, page.html, FETCHED_AT, "mirror")
                        result = prepare_page(
                            page, pipeline.min_words, pipeline.params, pipeline.max_text_chars
                        )
                    outcome = pipeline.commit(page, result)
                    records[path]["outcomes"].append(
                        [outcome.kind, ids(outcome.article_id), outcome.version, ids(outcome.reason)]
                    )
            feed = [
                {
                    k: ids(v) if isinstance(v, str) else _plain(v)
                    for k, v in record.items()
                    if k not in _VOLATILE
                }
                for record in pipeline.store.feed_reader.feed(after=0, limit=10 * len(pages) + 10)
            ]
        finally:
            pipeline.store.close()
    return {"pages": records, "feed": feed}


# Feed fields that hold the clock of the run (story and article ids are replaced by their order).
_VOLATILE = {"created_at", "updated_at", "first_seen", "last_seen"}


def main(argv: list[str] | None = None) -> int:
    parser = data_argument_parser(__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--save", type=Path, help="write the outputs to this file")
    action.add_argument("--check", type=Path, help="compare the outputs with this file")
    args = parser.parse_args(argv)
    folder = require_dataset(args.data, "news-pages-fundus")
    if folder is None:
        return 0
    outputs = record_outputs(folder, args.limit)
    if args.save:
        args.save.write_text(json.dumps(outputs, ensure_ascii=False, indent=1, sort_keys=True))
        print(f"{len(outputs['pages'])} pages, {len(outputs['feed'])} feed records written to {args.save}")
        return 0
    before = json.loads(args.check.read_text())
    now = json.loads(json.dumps(outputs, ensure_ascii=False, sort_keys=True))
    differ = sorted(
        path
        for path in set(before["pages"]) | set(now["pages"])
        if before["pages"].get(path) != now["pages"].get(path)
    )
    for path in differ[:20]:
        old, new = before["pages"].get(path) or {}, now["pages"].get(path) or {}
        keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        print(f"differs: {path}: {', '.join(keys)}")
    feed_same = before["feed"] == now["feed"]
    if not feed_same:
        print(f"the feed differs ({len(before['feed'])} records before, {len(now['feed'])} now)")
    if differ or not feed_same:
        print(f"{len(differ)} of {len(now['pages'])} pages differ")
        return 1
    print(
        f"identical: {len(now['pages'])} pages (documents, fingerprints, 3 passes of decisions), {len(now['feed'])} feed records"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
