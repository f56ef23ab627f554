"""Imported by the extraction pool's forkserver (pipeline/extraction_pool.py) and a worker's
main process (workers/app.py), the processes that fork the ones extracting pages: the language
identifier's model (≈ 0.5 s of CPU) loads there once, while the crawler or the worker starts,
and every process forked from it starts with it, instead of each loading it again at its first
page that declares no language. Loading is this module's whole purpose."""

from newsdedup.extract.language_id import load_identifier

load_identifier()
