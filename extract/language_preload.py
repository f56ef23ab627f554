"""Imported by the extraction pool's forkserver only (pipeline/extraction_pool.py): the
language identifier's model loads there once, while the crawler starts, and every extraction
process forked from it starts with it, instead of each spending half a second of CPU on it at
its first page that declares no language. Loading is this module's whole purpose."""

from newsdedup.extract.language_id import load_identifier

load_identifier()
