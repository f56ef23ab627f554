"""Imported by the extraction pool's forkserver (pipeline/extraction_pool.py) and a worker's
main process (workers/app.py), the processes that fork the ones extracting pages. What a
process extracting pages would otherwise build on its own at its first page of a kind loads
here once, while the crawler or the worker starts, and every process forked from it starts
with it:

- the language identifier's model (≈ 0.5 s of CPU), for pages that declare no language;
- jusText's stop words of every language (≈ 0.08 s), which trafilatura's last fallback builds
  for a page of a language jusText has no list of: on the 258 pages of bench/throughput.py,
  each extraction process built it at its first such page.

Loading is this module's whole purpose."""

from trafilatura.external import jt_stoplist_init

from newsdedup.extract.language_id import load_identifier

load_identifier()
jt_stoplist_init()
