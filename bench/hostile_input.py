"""The pathological inputs of the hostile-input issue, timed against two checkouts.

Not a test: each input runs in a child process of its own with a time limit (a stuck one is
reported as "> N s", not waited for), against the code at ``--before`` (default: the main
checkout beside this one) and this checkout. Prints a table and writes
``bench/results/hostile_input.json``.

    python -m bench.hostile_input                      # ≈ 5 min, most of it the "before" column
    python -m bench.hostile_input --before /path/to/old/checkout --limit 120
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=DEFAULT_BEFORE, help="the checkout to compare with")
    parser.add_argument(
        "--limit", type=float, default=120.0, help="seconds one input may run before it is killed"
    )
    parser.add_argument("--only", default="", help="only the inputs whose name contains this")
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
        if args.only not in case:
            continue
        before = run_case(args.before, body, args.limit) if args.before.is_dir() else None
        after = run_case(HERE, body, args.limit)
        results[case] = {"before": before, "after": after}

        def show(result: dict[str, object] | None) -> str:
            if result is None:
                return "-"
            if result["seconds"] is None:
                return str(result["outcome"])
            return f"{result['seconds']:.3f} s, {result['peak_mb']} MB: {result['outcome']}"

        rows.append((case, show(before), show(after)))
    print_table(["input", f"before ({commits['before']})", f"after ({commits['after']})"], rows)
    path = write_results(
        "hostile_input",
        {
            "measured_at": time.strftime("%Y-%m-%d"),
            "commits": commits,
            "limit_seconds": args.limit,
            "cases": results,
        },
    )
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
