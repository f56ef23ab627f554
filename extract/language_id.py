"""The language of a text whose page does not say: py3langid (trafilatura's own identifier).

Most news pages declare their language (``<html lang>``, ``inLanguage``, ``og:locale``); many
do not. Without it a feed record has no language, a source's ``languages`` filter cannot tell,
and stories (grouped within one language) cannot weigh words by how common they are in it. The
identifier runs only on pages that declare nothing, on the extracted text: its model loads once
per process, then a page costs about a millisecond.

The model ships compressed with LZMA (4.5 MB, 68 MB unpacked): unpacking it costs about half a
second of CPU each time a process loads it, most of what a crawl's extraction processes start
with. With a cache folder (``NEWSDEDUP_CACHE_DIR``), it is unpacked there once, and read from
there after (about a tenth of the CPU).
"""

from __future__ import annotations

import logging
import lzma
import os
import shutil
import tempfile
import zipfile
from array import array
from importlib.metadata import version
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Shorter texts (a caption, a teaser) are too easy to take for another language.
MIN_CHARS = 200
# Enough text to tell any language; the rest of a long article only costs time.
MAX_CHARS = 5000
# The identifier's probability (normalized over the languages it may name) below which it is a guess.
MIN_PROBABILITY = 0.5
# What the unpacked model of this package version is named in the cache folder.
CACHE_PREFIX = "py3langid-"


_identifier: Any = None
_cache_dir: Path | None = None


def use_cache(cache_dir: Path | None) -> None:
    """Keep the unpacked model in ``cache_dir`` (the ``cache_dir`` setting; None: unpack it in
    memory) when this process loads it."""
    global _cache_dir
    _cache_dir = cache_dir


def load_identifier() -> Any:
    """The identifier, its model loaded once per process (pipeline/preload.py loads it in the
    extraction pool's forkserver, so that every extraction process starts with it)."""
    global _identifier
    if _identifier is None:
        _identifier = _loaded_identifier(_cache_dir)
    return _identifier


def _loaded_identifier(cache_dir: Path | None) -> Any:
    # deferred: only pages that say nothing need it
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    model_file = MODEL_DIR / MODEL_FILE
    cached = _unpacked_model(model_file, cache_dir) if cache_dir is not None else None
    model = _read_unpacked(cached) if cached is not None else None
    if model is None:
        identifier = LanguageIdentifier.from_model_file(model_file, norm_probs=True)
    else:
        ptc, pc, classes, nextmove, row, output = model
        identifier = LanguageIdentifier(ptc, pc, classes, nextmove, output, norm_probs=True, tk_row=row)
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


def cache_name(model_file: Path) -> str:
    """The unpacked model's file name: the package version and the packed file's size and
    modification time, so that another install of py3langid unpacks its own."""
    stat = model_file.stat()
    return f"{CACHE_PREFIX}{version('py3langid')}-{stat.st_size}-{stat.st_mtime_ns}.npz"


def _unpacked_model(model_file: Path, cache_dir: Path) -> Path | None:
    """The unpacked model in ``cache_dir``, unpacked there now if it is not yet; None when the
    folder cannot be written (the model is then unpacked in memory, as without a cache)."""
    cached = cache_dir / cache_name(model_file)
    if cached.is_file():
        return cached
    partial: Path | None = None
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Written under a temporary name and renamed: two processes unpacking at once each
        # write their own file, and a reader never sees half of one.
        with tempfile.NamedTemporaryFile(dir=cache_dir, prefix=".unpacking-", delete=False) as unpacking:
            partial = Path(unpacking.name)
            with lzma.open(model_file) as packed:
                shutil.copyfileobj(packed, unpacking, length=1 << 20)
        os.replace(partial, cached)
    except OSError as exc:
        log.warning("language model not cached in %s (%s): unpacked in memory instead", cache_dir, exc)
        if partial is not None:
            partial.unlink(missing_ok=True)
        return None
    for stale in cache_dir.glob(f"{CACHE_PREFIX}*.npz"):
        if stale != cached:  # another version's, unpacked before an upgrade
            stale.unlink(missing_ok=True)
    log.info("language model unpacked into %s, once", cached)
    return cached


def _read_unpacked(path: Path) -> tuple[Any, Any, list[str], array[int], array[int], list[int]] | None:
    """What py3langid's ``modelio.load_model`` returns, from the unpacked file (that function
    after its LZMA step); None, the file removed, when it cannot be read (it is unpacked again
    next time)."""
    import numpy as np  # deferred with py3langid
    from py3langid.modelio import _to_array  # py3langid's own NumPy → array conversion

    try:
        with np.load(path, allow_pickle=False) as data:
            return (
                data["ptc"],
                data["pc"],
                data["classes"].tolist(),
                _to_array(data["nextmove"]),
                _to_array(data["nextmove_row"]),
                data["out_feat"].tolist(),
            )
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        log.warning("language model cache %s unreadable (%s): removed, unpacked in memory instead", path, exc)
        path.unlink(missing_ok=True)
        return None
