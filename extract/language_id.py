"""The language of a text whose page does not say: py3langid (trafilatura's own identifier).

Most news pages declare their language (``<html lang>``, ``inLanguage``, ``og:locale``); many
do not. Without it a feed record has no language, a source's ``languages`` filter cannot tell,
and stories (grouped within one language) cannot weigh words by how common they are in it. The
identifier runs only on pages that declare nothing, on the extracted text: its model loads once
per process (about half a second), then a page costs about a millisecond.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

# Shorter texts (a caption, a teaser) are too easy to take for another language.
MIN_CHARS = 200
# Enough text to tell any language; the rest of a long article only costs time.
MAX_CHARS = 5000
# The identifier's probability (normalized over the languages it may name) below which it is a guess.
MIN_PROBABILITY = 0.5


@lru_cache(maxsize=1)
def load_identifier() -> Any:
    """The identifier, its model loaded once per process (pipeline/preload.py loads it
    in the extraction pool's forkserver, so that every extraction process starts with it)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # deferred: only pages that say nothing

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    # ISO 639-1 codes only, as everywhere else in the product: the model's three-letter labels
    # ("pcm", "yue", "zxx") are varieties a feed's reader and a source's filter do not name, and
    # took noisy English pages for Nigerian Pidgin.
    identifier.set_languages([label for label in identifier.labels if len(label) == 2])
    return identifier


def identify_language(text: str) -> str | None:
    """The ISO 639-1 code of ``text``'s language, or None when it is too short or unclear."""
    if len(text) < MIN_CHARS:
        return None
    language, probability = load_identifier().classify(text[:MAX_CHARS])
    return str(language) if probability >= MIN_PROBABILITY else None
