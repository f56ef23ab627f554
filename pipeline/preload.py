"""Imported only by the processes that fork the ones extracting pages: the extraction pool's
forkserver (pipeline/extraction_pool.py) and a worker's main process (workers/app.py). The
language identifier's model (≈ 0.5 s) and wordfreq's word lists for stories' background
frequencies (≈ 0.7 s, every language) load there once, while the crawler or the worker starts,
and every process forked from it starts with them, instead of each spending that CPU again on
its first pages. Loading is this module's whole purpose."""

from newsdedup.dedup.background import load_all
from newsdedup.extract.language_id import load_identifier

load_identifier()
load_all()
