"""Shingle hashes: stable values, one per word run inside a paragraph, same in every process."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import numpy as np

from newsdedup.dedup import DedupParams, fingerprint

# dedup/__init__.py exports the function ``fingerprint`` under the module's name.
fingerprint_module = importlib.import_module("newsdedup.dedup.fingerprint")
shingle_hashes = fingerprint_module.shingle_hashes

PARAGRAPHS = ["the harbour council votes", "to restore", "lighthouse"]
# Pinned: a change here changes every stored fingerprint (see the docstring of dedup/fingerprint.py).
PINNED = [573185148, 3078489590, 3113717509, 3679589269]


def test_shingle_hashes_are_pinned() -> None:
    assert shingle_hashes(PARAGRAPHS, 3).tolist() == PINNED


def test_shingle_hashes_do_not_depend_on_the_process() -> None:
    code = (
        "import importlib; m = importlib.import_module('newsdedup.dedup.fingerprint');"
        f"print(m.shingle_hashes({PARAGRAPHS!r}, 3).tolist())"
    )
    for seed in ("0", "12345"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.strip() == str(PINNED)


def test_shingles_stay_inside_their_paragraph() -> None:
    whole = shingle_hashes(["a b c"], 3)
    split = shingle_hashes(["a b", "c"], 3)
    assert len(whole) == 1 and len(split) == 2
    assert not set(whole.tolist()) & set(split.tolist())
    # A paragraph shorter than a shingle is one shingle of its own.
    assert set(shingle_hashes(["a b"], 3).tolist()) <= set(split.tolist())


def test_word_order_matters_and_repeats_count_once() -> None:
    assert shingle_hashes(["a b c"], 3).tolist() != shingle_hashes(["c b a"], 3).tolist()
    assert len(shingle_hashes(["a b c a b c a b c"], 3)) == 3  # "a b c", "b c a", "c a b"


def test_signature_keeps_its_shape() -> None:
    params = DedupParams()
    fp = fingerprint("The harbour council votes to restore the old lighthouse.\nWork starts in May.", params)
    assert len(fp.signature) == 4 * params.num_perm
    shingles = np.frombuffer(fp.shingles, dtype="<u4")
    assert fp.shingle_count == len(shingles) and (np.diff(shingles.astype(np.int64)) > 0).all()


def test_body_lines_are_sentences_not_headlines_or_credits() -> None:
    from newsdedup.dedup.fingerprint import is_body_line
    from newsdedup.dedup.normalize import normalize_paragraph

    def body(line: str) -> bool:
        return is_body_line(line, normalize_paragraph(line))

    assert body("Hours after the vote, the conservancy said it would ask the state to review the permit.")
    assert body('„Die Stadt hat die größte Dichte an Architekten in ganz Europa", sagte sie am Dienstag.“')
    assert not body(
        "Motorway near Lindau closed in both directions after a night of heavy rain"
    )  # a headline
    assert not body("This story first appeared on Coastal Wire News, edition 3.")  # a credit: 10 words
    assert body(" ".join(["word"] * 26))  # no headline is that long


def test_signature_is_datasketchs_minhash() -> None:
    """The signature computed in one numpy step equals datasketch's MinHash of the same
    shingles, so signatures stored before stay comparable and the LSH index finds them."""
    from datasketch import MinHash

    params = DedupParams()
    text = (
        "The harbour council votes to restore the old lighthouse before the summer season.\n"
        "Work starts in May, the mayor said, and should last eight weeks.\nShort line"
    )
    for body in (text, "one", ""):
        fp = fingerprint(body, params)
        expected = MinHash(
            num_perm=params.num_perm,
            hashfunc=int,
            permutations=fingerprint_module._permutations(params.num_perm),
            scheme="affine32",
        )
        values = np.frombuffer(fp.shingles, dtype="<u4") if fp.shingles else np.empty(0, np.uint32)
        if len(values):
            expected.update_batch(values.tolist())
        assert fp.signature == expected.hashvalues.astype("<u4").tobytes()
