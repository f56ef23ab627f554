"""Word-level differences between two versions of a text, paragraph by paragraph.

Paragraphs are matched first (difflib, as the API's unified diff does), then the words of each
changed pair: what a reader sees is the changed word marked inside its paragraph, not a whole
paragraph removed and another added.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

from newsdedup.store.records import DIFF_MAX_CHARS, DIFF_MAX_LINES

Kind = Literal["same", "added", "removed"]
# Words, runs of spaces and single marks: spaces stay with the text, so the diff reads as prose.
TOKEN = re.compile(r"\w+|\s+|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class Piece:
    kind: Kind
    text: str


@dataclass(frozen=True)
class WordDiff:
    paragraphs: list[list[Piece]]
    changed: bool
    cut: bool  # only the beginnings of long texts were compared


def word_diff(old: str, new: str) -> WordDiff:
    cut = len(old) > DIFF_MAX_CHARS or len(new) > DIFF_MAX_CHARS
    old_lines = old[:DIFF_MAX_CHARS].split("\n")[:DIFF_MAX_LINES]
    new_lines = new[:DIFF_MAX_CHARS].split("\n")[:DIFF_MAX_LINES]
    paragraphs: list[list[Piece]] = []
    changed = False
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            paragraphs += [[Piece("same", line)] for line in new_lines[b1:b2]]
            continue
        changed = True
        removed, added = old_lines[a1:a2], new_lines[b1:b2]
        for pair in range(max(len(removed), len(added))):
            before = removed[pair] if pair < len(removed) else None
            after = added[pair] if pair < len(added) else None
            if before is None:
                paragraphs.append([Piece("added", after or "")])
            elif after is None:
                paragraphs.append([Piece("removed", before)])
            else:
                paragraphs.append(_words(before, after))
    return WordDiff(paragraphs, changed, cut)


def _words(old: str, new: str) -> list[Piece]:
    a, b = TOKEN.findall(old), TOKEN.findall(new)
    pieces: list[Piece] = []
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.append(Piece("same", "".join(b[b1:b2])))
            continue
        if a1 < a2:
            pieces.append(Piece("removed", "".join(a[a1:a2])))
        if b1 < b2:
            pieces.append(Piece("added", "".join(b[b1:b2])))
    return pieces
