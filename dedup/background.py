"""How common a story term is in a language at large, before a store has counted any article.

A new store's document frequencies come from its first few hundred articles: too few to tell a
common word from a rare one ("police", "year" look as telling as "Chibok"), so unrelated
articles of one day share enough "rare" words to join one story. wordfreq's word lists (42
languages, frequencies of words in a mix of web, news, subtitles and books) give every term a
prior: the store's counts start as if ``StoryParams.background_documents`` articles of the
language had been counted already, each holding a word with the chance an article of
``WORDS_PER_ARTICLE`` words (a headline of ``WORDS_PER_HEADLINE``) has to hold it. The store's
own counts outweigh the prior once it has counted a few thousand articles.

Pure and deterministic (the lists ship in the locked wordfreq release): two processes, or a
reprocessing of the archive, read the same priors. A language wordfreq has no list for gets no
prior (its terms are weighed by the store's counts alone, as before).
"""

from __future__ import annotations

import gzip
import importlib.util
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import msgpack
import numpy as np
import numpy.typing as npt

# The words of each language's list kept (the most frequent first): a rarer word's prior is
# about one of the 500 articles or less (0.4 to 1.1 at the 25,000th word of en, de, fr, zh, ar
# and ru), so the store's own counts say all there is to say of it.
TOP_WORDS = 25_000
WORDS_PER_ARTICLE = 600.0
WORDS_PER_HEADLINE = 12.0
# wordfreq's "small" lists (words down to a frequency of about 10⁻⁶) load in about 10 ms a
# language; its "best" lists take 60 to 300 ms and 30 to 70 MB each, for words we would not keep.
_LIST = "small"


@lru_cache(maxsize=1)
def _lists_folder() -> Path:
    """wordfreq's data folder, found without importing wordfreq: its import (langcodes and the
    regular expressions of its tokenizers) cost a crawl more CPU than the lists it meets."""
    spec = importlib.util.find_spec("wordfreq")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("wordfreq is not installed: stories need its word lists")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def available_languages() -> list[str]:
    """The languages wordfreq has a list of, as its codes ("en", "zh", "pt")."""
    prefix = f"{_LIST}_"
    return sorted(
        path.name.removeprefix(prefix).split(".")[0] for path in _lists_folder().glob(f"{prefix}*.msgpack.gz")
    )


def _read_bins(path: Path) -> list[tuple[int, list[str]]]:
    """The first bins of a wordfreq list holding ``TOP_WORDS`` words, as (bin index, words).

    wordfreq's "cBpack" (wordfreq.read_cBpack): a gzipped msgpack array of a header, then one
    list of words per bin, bin i holding the words of frequency 10^(-i/100). Read as a stream,
    up to the bins kept: the rarer words are never decoded.
    """
    bins: list[tuple[int, list[str]]] = []
    with gzip.open(path, "rb") as stream:
        unpacker = msgpack.Unpacker(stream, raw=False)
        entries = unpacker.read_array_header()
        header = unpacker.unpack()
        if not isinstance(header, dict) or header.get("format") != "cB" or header.get("version") != 1:
            raise ValueError(f"{path}: not a wordfreq cBpack list (header {header!r})")
        kept = 0
        for index in range(entries - 1):
            words = unpacker.unpack()
            if words:
                bins.append((index, words))
                kept += len(words)
            if kept >= TOP_WORDS:
                break
    return bins


@lru_cache(maxsize=64)
def word_frequencies(language: str) -> dict[str, float] | None:
    """Word -> frequency (share of all words) of the ``TOP_WORDS`` most frequent words of
    ``language`` (wordfreq's code; about 2 MB), or None when wordfreq has no list for it."""
    if not language.isalnum():  # not a language code (and never a path)
        return None
    path = _lists_folder() / f"{_LIST}_{language}.msgpack.gz"
    if not path.is_file():
        return None
    found: dict[str, float] = {}
    # The rarest bin first, so that a word listed twice keeps its most frequent bin's value.
    for index, words in reversed(_read_bins(path)):
        found.update(dict.fromkeys(words, 10.0 ** (-index / 100.0)))
    return found


def load_all() -> None:
    """Every language's list, now (about 0.5 s, 42 languages): for a long-lived process that
    forks the processes assigning stories (a worker's main process), so that none loads them
    again. A crawl's own process loads the languages it meets, 10 ms each."""
    for language in available_languages():
        word_frequencies(language)


def language_key(language: str | None) -> str | None:
    """wordfreq's code for an article's language ("en-GB" → "en"), or None."""
    if not language:
        return None
    return language.lower().replace("_", "-").split("-")[0] or None


def term_shares(
    terms: Iterable[str], words: dict[str, float], words_read: float, phrases: bool = False
) -> npt.NDArray[np.float64]:
    """The share of articles expected to hold each term (bare, no family prefix), ``words``
    being their language's ``word_frequencies``: a word of frequency f appears at least once
    among n words read with chance 1 - e^(-n f). ``phrases``: the terms may be runs of words
    ("south korea"), as frequent as wordfreq reckons a phrase: 1 / Σ 1/f of its words (0 for a
    run with an unlisted word)."""
    get = words.get
    if phrases:
        found = [get(term, 0.0) if " " not in term else _phrase_frequency(term, words) for term in terms]
    else:
        found = [get(term, 0.0) for term in terms]
    shares: npt.NDArray[np.float64] = -np.expm1(-words_read * np.array(found, dtype=np.float64))
    return shares


def _phrase_frequency(phrase: str, words: dict[str, float]) -> float:
    frequencies = [words.get(word, 0.0) for word in phrase.split()]
    if not frequencies or not all(frequencies):
        return 0.0
    return 1.0 / sum(1.0 / frequency for frequency in frequencies)
