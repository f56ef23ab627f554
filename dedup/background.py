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

import math
from collections.abc import Sequence
from functools import lru_cache

# The words of each language's list kept (the most frequent first): a rarer word's prior is
# under two of the 500 articles, so the store's own counts say all there is to say of it.
TOP_WORDS = 25_000
WORDS_PER_ARTICLE = 600.0
WORDS_PER_HEADLINE = 12.0
_HEADLINE = "t"  # dedup.stories.TITLE: the headline family's prefix
# wordfreq's "small" lists (words down to a frequency of about 10⁻⁶) load in about 10 ms a
# language; its "best" lists take 60 to 300 ms and 30 to 70 MB each, for words we would not keep.
_LIST = "small"


@lru_cache(maxsize=64)
def _word_frequencies(language: str) -> dict[str, float] | None:
    """Word -> frequency (share of all words) of the ``TOP_WORDS`` most frequent words of
    ``language`` (about 2 MB), or None when wordfreq has no list for it."""
    import wordfreq  # deferred: only where stories are assigned

    if language not in wordfreq.available_languages(_LIST):
        return None
    found: dict[str, float] = {}
    # wordfreq's list: bins of words, bin i holding the words of frequency 10^(-i/100).
    for rank, words in enumerate(wordfreq.get_frequency_list(language, _LIST)):
        frequency = 10.0 ** (-rank / 100.0)
        for word in words:
            found.setdefault(word, frequency)
        if len(found) >= TOP_WORDS:
            break
    # The whole list would stay cached inside wordfreq as well.
    wordfreq.get_frequency_list.cache_clear()
    return found


def load_all() -> None:
    """Every language's list, now (about 0.7 s, 42 languages): for a long-lived process that
    forks the processes assigning stories (a worker's main process), so that none loads them
    again. A crawl's own process loads the languages it meets, 10 ms each."""
    import wordfreq  # deferred: as in _word_frequencies

    for language in sorted(wordfreq.available_languages(_LIST)):
        _word_frequencies(language)


def language_key(language: str | None) -> str | None:
    """wordfreq's code for an article's language ("en-GB" → "en"), or None."""
    if not language:
        return None
    return language.lower().replace("_", "-").split("-")[0] or None


@lru_cache(maxsize=1 << 16)
def article_share(key: str, language: str) -> float:
    """The share of articles of ``language`` expected to hold the family-prefixed term ``key``:
    a word of frequency f appears at least once among n words with chance 1 - e^(-n f). A run of
    words ("south korea") is as frequent as wordfreq reckons a phrase: 1 / Σ 1/f of its words."""
    words = _word_frequencies(language)
    if words is None:
        return 0.0
    family, _, term = key.partition(":")
    frequencies = [words.get(word, 0.0) for word in term.split()]
    if not frequencies or not all(frequencies):
        return 0.0
    frequency = 1.0 / sum(1.0 / f for f in frequencies)
    words_read = WORDS_PER_HEADLINE if family == _HEADLINE else WORDS_PER_ARTICLE
    return -math.expm1(-words_read * frequency)


def article_shares(keys: Sequence[str], language: str | None) -> list[float] | None:
    """``article_share`` of each key, or None when the language has no list (or is unknown)."""
    code = language_key(language)
    if code is None or _word_frequencies(code) is None:
        return None
    return [article_share(key, code) for key in keys]
