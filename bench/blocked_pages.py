"""Challenge-page detection on real pages: how many real news pages it would take for a block.

    python -m bench.blocked_pages [--data DIR]

Runs ``crawler.blocking.challenge_vendor`` (status 200, no headers) over the Fundus pages and
the Media Cloud date pages; every page flagged is printed, to be checked by eye. A real article
flagged is a false positive (it would be lost as "blocked"); the datasets also hold the odd
block page their crawlers were served, which it should flag.
"""

from __future__ import annotations

import gzip

from bench.common import data_argument_parser, require_dataset, write_results
from newsdedup.crawler.blocking import CHALLENGE_MAX_BYTES, challenge_vendor


def main(argv: list[str] | None = None) -> int:
    args = data_argument_parser(__doc__.splitlines()[0]).parse_args(argv)
    folders = [require_dataset(args.data, name) for name in ("news-pages-fundus", "dates-mediacloud")]
    if not all(folders):
        return 0
    pages = sorted(path for folder in folders if folder for path in folder.rglob("*.html.gz"))
    flagged, looked_at = [], 0
    for path in pages[: args.limit or None]:
        body = gzip.decompress(path.read_bytes())
        looked_at += len(body) <= CHALLENGE_MAX_BYTES
        vendor = challenge_vendor(200, {}, body)
        if vendor is not None:
            flagged.append({"page": str(path.relative_to(args.data)), "vendor": vendor, "bytes": len(body)})
            print(f"{vendor:<12} {len(body):>8} bytes  {path}")
    print(f"{len(pages)} pages, {looked_at} small enough to be looked at, {len(flagged)} flagged")
    write_results("blocked_pages", {"pages": len(pages), "looked_at": looked_at, "flagged": flagged})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
