"""The pathological inputs of the hostile-input issue, timed against two checkouts.

Not a test: each input runs in a child process of its own with a time limit (a stuck one is
reported as "> N s", not waited for), against the code at ``--before`` (default: the main
checkout beside this one) and this checkout. Prints a table and writes
``bench/results/hostile_input.json``.

    python -m bench.hostile_input                      # ≈ 5 min, most of it the "before" column
    python -m bench.hostile_input --before /path/to/old/checkout --limit 120
    python -m bench.hostile_input --costs              # only what a request or record costs
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from bench.common import clean_environment, print_table, write_results

HERE = Path(__file__).resolve().parents[1]
DEFAULT_BEFORE = HERE.parent / "main"

# Each case is the body of a function run in the child: it prepares its input, then the timed
# part is between the two markers; it prints the outcome as its last line.
_ENTITY_FEED = textwrap.dedent("""
    # One flat entity of markup, referenced REFS times: feedparser keeps such a declaration
    # ("safe": no "&" in it) and expat expands every reference (up to 100x the document).
    decl = '<!ENTITY a "' + "<b>lol</b>" * 48 + '">'
    body = ('<?xml version="1.0"?>\\n<!DOCTYPE rss [\\n' + decl + '\\n]>\\n<rss version="2.0"><channel><title>t</title>'
            '<item><title>x</title><link>http://news.example/a.html</link><description>' + "&a;" * REFS +
            "</description></item></channel></rss>").encode()
    from newsdedup.crawler.discovery import parse_feed
    START()
    try:
        outcome = "%d links, %d bytes" % (len(parse_feed(body, "http://news.example/rss.xml").articles), len(body))
    except Exception as exc:
        outcome = str(exc)[:60]
""")
CASES: dict[str, str] = {
    "author meta: 1,600 '@' (extract_document)": """
        html = "<html><head><meta name='author' content='" + "@" * 1600 + "'></head><body><article>" + \\
               "<p>" + "The council met on Monday to discuss the harbour budget and the ferry strike. " * 8 + "</p>" * 1 + \\
               "</article></body></html>"
        from newsdedup.extract import extract_document
        START()
        outcome = type(extract_document(html, "http://news.example/a.html")).__name__
    """,
    "author meta: 10,000 '@' (extract_document)": """
        html = "<html><head><meta name='author' content='" + "@" * 10000 + "'></head><body><article>" + \\
               "<p>" + "The council met on Monday to discuss the harbour budget and the ferry strike. " * 8 + "</p>" + \\
               "</article></body></html>"
        from newsdedup.extract import extract_document
        START()
        outcome = type(extract_document(html, "http://news.example/a.html")).__name__
    """,
    "40 KB 'follow @a-a-a...' line (fingerprint)": """
        from newsdedup.dedup import DedupParams, fingerprint
        import datasketch
        text = "follow @" + "a-" * 20000
        START()
        outcome = "%d shingles" % fingerprint(text, DedupParams()).shingle_count
    """,
    "entity expansion feed, 1 KB (parse_feed)": "REFS = 100\n" + _ENTITY_FEED,
    "entity expansion feed, 10 KB (parse_feed)": "REFS = 3000\n" + _ENTITY_FEED,
    "diff of two 709 KB versions (text_diff)": """
        import random
        from newsdedup.store.records import text_diff
        rng = random.Random(7)
        words = "harbour council ferry budget strike terminal bridge workers union vote mayor port".split()
        lines = [" ".join(rng.choice(words) for _ in range(12)) for _ in range(9000)]
        old = "\\n".join(lines)
        new = "\\n".join(line if i % 3 else line.upper() for i, line in enumerate(lines))
        START()
        outcome = "%d chars of diff (%d KB texts)" % (len(text_diff(old, new, 1, 2)), len(old) // 1024)
    """,
}

# The cost rows of the API and WARC hardening: "before" and "after" run in this checkout in
# the same run, "before" replaying the earlier code path (a cap off, the old route shape, the
# plain warcio reader). Peak memory and bytes are the figures; times are from a busy machine.
COST_CASES: dict[str, tuple[str, str]] = {}

_FEED_SETUP = """
    import sys, tempfile
    sys.path.insert(0, "tests")
    from api_factories import add_article
    from newsdedup.store import Store
    store = Store.open("sqlite:///" + tempfile.mkdtemp() + "/feed.db")
    words = "harbour council ferry budget strike terminal bridge workers union vote ".split()
    for n in range(300):
        add_article(store, text=(str(n) + " " + " ".join(words[(i * 7 + n) % 10] for i in range(28_000)))[:200_000])
"""
COST_CASES["GET /v1/feed?limit=1000 over 300 texts of 200,000 chars"] = (
    _FEED_SETUP
    + """
    from fastapi.responses import JSONResponse
    START()
    items = store.feed_reader.feed(after=0, limit=1000)  # the route before: one query, one page
    body = JSONResponse({"items": items, "next_after": items[-1]["seq"]}).body
    outcome = "%d records, %.1f MB page" % (len(items), len(body) / 1e6)
""",
    _FEED_SETUP
    + """
    from newsdedup.api.limits import feed_page_body
    from newsdedup.config import Settings
    START()
    read = lambda after, count: store.feed_reader.feed(after=after, limit=count)
    body = feed_page_body(read, 0, 1000, Settings().api_max_feed_page_bytes)
    outcome = "%d records, %.1f MB page" % (body.count(b'"seq":'), len(body) / 1e6)
""",
)

_BOMB_SETUP = """
    import gzip, io, zlib
    from newsdedup.archive.reader import bounded_records, read_body
    inflated = 256 * 1024 * 1024
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b" " * (1024 * 1024)
    body = packer.compress(b"<html>") + b"".join(packer.compress(chunk) for _ in range(inflated // len(chunk))) + packer.flush()
    http = b"HTTP/1.1 200 OK\\r\\nContent-Type: text/html\\r\\nContent-Encoding: gzip\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body)
    block = http + body
    warc = (b"WARC/1.1\\r\\nWARC-Type: response\\r\\nWARC-Target-URI: https://news.example/a\\r\\n"
            b"WARC-Date: 2026-12-01T08:00:00Z\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(block)) + block + b"\\r\\n\\r\\n"
    data = gzip.compress(warc)
    record = next(bounded_records(io.BytesIO(data)))
"""
COST_CASES["import-warc: a record whose gzip body inflates to 256 MiB"] = (
    _BOMB_SETUP
    + """
    START()
    kept = len(read_body(record))  # before: read whole
    outcome = "%d-byte file, %d MB read" % (len(data), kept // 1024 // 1024)
""",
    _BOMB_SETUP
    + """
    START()
    try:
        outcome = "%d MB read" % (len(read_body(record, 10 * 1024 * 1024)) // 1024 // 1024)
    except ValueError as exc:
        outcome = "%d-byte file, skipped: %s" % (len(data), exc)
""",
)

_LINE_SETUP = """
    import gzip, tempfile, os
    path = os.path.join(tempfile.mkdtemp(), "line.warc.gz")
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(b"WARC/1.1\\r\\nWARC-Type: response\\r\\nX-Padding: ")
        for _ in range(128):
            out.write(b"a" * (1024 * 1024))
        out.write(b"\\r\\n\\r\\n")
"""
COST_CASES["import-warc: one 128 MiB header line"] = (
    _LINE_SETUP
    + """
    from warcio.archiveiterator import ArchiveIterator
    START()
    try:
        record = next(iter(ArchiveIterator(open(path, "rb"))))
        outcome = "parsed whole (%d KB file)" % (os.path.getsize(path) // 1024)
    except Exception as exc:
        outcome = type(exc).__name__
""",
    _LINE_SETUP
    + """
    from newsdedup.archive.reader import bounded_records
    START()
    try:
        next(bounded_records(open(path, "rb")))
        outcome = "parsed whole"
    except ValueError as exc:
        outcome = "refused: " + str(exc)
""",
)

_METRICS = textwrap.dedent("""
    import sys, tempfile
    sys.path.insert(0, "tests")
    from api_factories import add_article
    from newsdedup.api.limits import CachedValue
    from newsdedup.store import Store
    store = Store.open("sqlite:///" + tempfile.mkdtemp() + "/m.db")
    for _ in range(50):
        add_article(store)
    cached = CachedValue(store.feed_reader.stats, SECONDS)
    START()
    for _ in range(200):
        cached.get()
    outcome = "200 scrapes, counts computed %d times" % cached.computed
""")
COST_CASES["/metrics: 200 scrapes in a row"] = ("SECONDS = 0\n" + _METRICS, "SECONDS = 10\n" + _METRICS)

_BODY_SETUP = """
    import asyncio
    import httpx
    from newsdedup.config import Settings
    read = [0]
    def counting(app):
        async def wrapped(scope, receive, send):
            async def counted():
                message = await receive()
                read[0] += len(message.get("body", b""))
                return message
            await app(scope, counted, send)
        return wrapped
    body = b'{"sources": ["' + b"a" * (64 * 1024 * 1024) + b'"]}'
    async def post(app):
        transport = httpx.ASGITransport(app=counting(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return (await client.post("/v1/crawls", content=body)).status_code
"""
COST_CASES["unauthenticated POST /v1/crawls with a 64 MB body"] = (
    _BODY_SETUP
    + """
    from fastapi import Depends, FastAPI
    from newsdedup.api.auth import require_token
    from newsdedup.api.errors import install_error_handlers
    from newsdedup.api.schemas import CrawlRequest
    app = FastAPI()  # the route as it was: a declared body, the token as a dependency
    app.state.settings = Settings(api_token="t")
    install_error_handlers(app)
    @app.post("/v1/crawls", dependencies=[Depends(require_token)])
    def start_crawl(body: CrawlRequest) -> None:
        pass
    START()
    status = asyncio.run(post(app))
    outcome = "%d, %d MB read by the API" % (status, read[0] // 1024 // 1024)
""",
    _BODY_SETUP
    + """
    from newsdedup.api import create_app
    app = create_app(Settings(api_token="t"))
    START()
    status = asyncio.run(post(app))
    outcome = "%d, %d MB read by the API" % (status, read[0] // 1024 // 1024)
""",
)

_CHILD = """
import resource, sys, time
_t = [0.0]
def START():
    _t[0] = time.perf_counter()
{body}
elapsed = time.perf_counter() - _t[0]
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print("RESULT", elapsed, rss, outcome)
"""


def run_case(code: Path, body: str, limit: float) -> dict[str, object]:
    env = clean_environment()
    env["PYTHONPATH"] = str(code)
    script = _CHILD.format(body=textwrap.dedent(body))
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, cwd=code, capture_output=True, text=True, timeout=limit
        )
    except subprocess.TimeoutExpired:
        return {"seconds": None, "peak_mb": None, "outcome": f"still running after {limit:g}s (killed)"}
    line = next((line for line in done.stdout.splitlines() if line.startswith("RESULT ")), None)
    if line is None:
        return {
            "seconds": None,
            "peak_mb": None,
            "outcome": (done.stderr.strip().splitlines() or ["?"])[-1][:80],
        }
    _, seconds, rss, outcome = line.split(" ", 3)
    return {"seconds": round(float(seconds), 3), "peak_mb": int(rss), "outcome": outcome}


def show(result: dict[str, object] | None) -> str:
    if result is None:
        return "-"
    if result["seconds"] is None:
        return str(result["outcome"])
    return f"{result['seconds']:.3f} s, {result['peak_mb']} MB: {result['outcome']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=DEFAULT_BEFORE, help="the checkout to compare with")
    parser.add_argument(
        "--limit", type=float, default=120.0, help="seconds one input may run before it is killed"
    )
    parser.add_argument("--only", default="", help="only the inputs whose name contains this")
    parser.add_argument(
        "--costs", action="store_true", help="only the rows of what a request or record costs"
    )
    args = parser.parse_args()
    commits = {}
    for name, code in (("before", args.before), ("after", HERE)):
        commits[name] = (
            subprocess.run(
                ["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
            ).stdout.strip()
            or "?"
        )
    rows, results = [], {}
    for case, body in CASES.items():
        if args.only not in case or args.costs:
            continue
        before = run_case(args.before, body, args.limit) if args.before.is_dir() else None
        after = run_case(HERE, body, args.limit)
        results[case] = {"before": before, "after": after}
        rows.append((case, show(before), show(after)))
    if rows:
        print_table(["input", f"before ({commits['before']})", f"after ({commits['after']})"], rows)
    cost_rows, costs = [], {}
    for case, (old, new) in COST_CASES.items():
        if args.only not in case:
            continue
        before, after = run_case(HERE, old, args.limit), run_case(HERE, new, args.limit)
        costs[case] = {"before": before, "after": after}
        cost_rows.append((case, show(before), show(after)))
    if cost_rows:
        print(
            "\nWhat one request or record may cost (both columns this checkout, the earlier code path replayed;"
        )
        print("peak MB is the child process's; times measured on a busy machine):")
        print_table(["input", "before", f"after ({commits['after']})"], cost_rows)
    path = write_results(
        "hostile_input",
        {
            "measured_at": time.strftime("%Y-%m-%d"),
            "commits": commits,
            "limit_seconds": args.limit,
            "cases": results,
            "costs": costs,
        },
    )
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
