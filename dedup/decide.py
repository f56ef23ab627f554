"""The decision rules: is a page new, unchanged, a duplicate, or a new version of an article?

The rules of docs/how-it-works.md "How dedup decides", in this order:

1. Known URL (a candidate ``found_by="url"``): the text last seen at the URL, or that of any
   version, is ``unchanged``; a text near-identical to a version newer than the one last seen
   at the URL caught up with a change the article got elsewhere and is ``unchanged`` too;
   anything else is a new ``version``.
2. Canonical (the page names a stored article's URL as canonical): if the texts are similar at
   all, the page is that article: ``duplicate`` ("syndicated" on another source; "alternate" on
   the same source when it adds nothing to the article), or a ``version`` ("revision") when
   the same source brings new material. A canonical claim whose text is unrelated is ignored
   and the page judged on its text.
3. Text (LSH / paragraph candidates), the best match over all versions of all articles. First,
   two texts whose only common ground is one paragraph or one sentence, each with body lines
   of its own (briefs opening with the same wire sentence, as a paragraph of its own or as the
   start of their first one), are not one article. Then:
   - same normalized text → ``duplicate``;
   - same source: a page that adds nothing to the candidate (near-identical or contained,
     and every shingle of its body lines in the candidate; other lines such as "Print", a
     credit or a headline may differ) → ``duplicate`` ("alternate": print, AMP, "old version"); a page that
     brings new material, keeps most of the candidate's body (``version_body_kept``) and is near-identical, contains the candidate, or is similar
     (Jaccard ≥ ``version_jaccard`` or a containment ≥ ``version_containment``) → ``version``
     ("UPDATE 1-" at a new URL: the article's text becomes the page's), unless all the texts
     share could be one short line both hold verbatim (a site's own boilerplate line on two
     very short articles);
   - another source: near-identical (Jaccard ≥ ``duplicate_jaccard``), the page contained in
     the candidate (≥ ``duplicate_containment``: a trimmed copy), or the candidate contained
     in a larger page (a copy with a note or byline appended) → ``duplicate`` ("syndicated");
   - anything else → ``new``. Different sources are never versions of each other: a story told
     by two outlets is two articles unless one copied the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from newsdedup.dedup.fingerprint import BODY_LINE_WORDS, Similarity, shingle_array, similarity

if TYPE_CHECKING:
    import numpy as np

from newsdedup.dedup.types import (
    Candidate,
    Decision,
    DecisionKind,
    DedupParams,
    Fingerprint,
    PageFacts,
    Relation,
)


@dataclass(frozen=True)
class _Match:
    """One candidate version judged against the page."""

    rank: int  # strength of the rule that matched; higher wins
    kind: DecisionKind
    relation: Relation
    candidate: Candidate
    sim: Similarity
    why: str  # the rule, for the reason sentence

    @property
    def order(self) -> tuple[int, float, float, int]:
        return (self.rank, self.sim.jaccard, self.sim.containment, self.candidate.version)


def _short(article_id: str) -> str:
    return article_id[:8]


def _numbers(sim: Similarity) -> str:
    if sim.a_in_b >= sim.b_in_a:
        return f"Jaccard {sim.jaccard:.2f}, {sim.a_in_b:.0%} of the page in it"
    return f"Jaccard {sim.jaccard:.2f}, {sim.b_in_a:.0%} of it in the page"


def _where(page: PageFacts, candidate: Candidate) -> str:
    return "on the same source" if candidate.source == page.source else "on another source"


def _decision(match: _Match, page: PageFacts) -> Decision:
    c = match.candidate
    # Rule 1 is about the URL, so where the matched version came from is beside the point.
    where = "" if c.found_by == "url" else f" {_where(page, c)}"
    reason = (
        f"{match.why} article {_short(c.article_id)} v{c.version} ({_numbers(match.sim)})"
        f"{where}: {_outcome(match)}"
    )
    return Decision(
        kind=match.kind,
        article_id=c.article_id,
        relation=match.relation,
        similarity=round(match.sim.jaccard, 4),
        containment=round(match.sim.containment, 4),
        reason=reason,
        matched_version=c.version,
    )


def _outcome(match: _Match) -> str:
    if match.kind == "unchanged":
        return "nothing new"
    if match.kind == "version":
        return "new version"
    return {"alternate": "alternate URL", "syndicated": "syndicated copy"}.get(match.relation, "duplicate")


def _copy_relation(page: PageFacts, candidate: Candidate) -> Relation:
    return "alternate" if candidate.source == page.source else "syndicated"


def _near_identical(fp: Fingerprint, candidate: Candidate, sim: Similarity, params: DedupParams) -> bool:
    return (
        fp.text_hash == candidate.fingerprint.text_hash
        or sim.jaccard >= params.duplicate_jaccard
        or sim.a_in_b >= params.duplicate_containment
    )


def _similar(sim: Similarity, params: DedupParams) -> bool:
    return sim.jaccard >= params.version_jaccard or sim.containment >= params.version_containment


# A line shorter than this is a "short line": a heading, a caption, a call to action or a line
# of the site's boilerplate ("The Courier is an independent newsroom supported by its readers").
# Such a line (at most SHORT_LINE_WORDS - 1 words) holds at most SHORT_LINE_WORDS - shingle_size
# shingles.
SHORT_LINE_WORDS = BODY_LINE_WORDS


def _short_line_shingles(params: DedupParams) -> int:
    return max(1, SHORT_LINE_WORDS - params.shingle_size)


def _adds_nothing(fp: Fingerprint, candidate: Candidate, sim: Similarity, params: DedupParams) -> bool:
    """Whether the page holds nothing the candidate lacks, short lines aside: the same text or
    less of it ("old version", print and AMP pages), not an update that brings new material.

    Near-identical or contained is not enough: an "UPDATE 1-" page that adds one paragraph and
    changes one figure of a long article is near-identical. So every shingle of the page's body
    lines (dedup.fingerprint.is_body_line) must be in the candidate (exact shingles), or, for
    long texts compared by MinHash, every paragraph of the page long enough to be hashed must
    be one of the candidate's. Other lines may differ: a "Print" link, a credit, a headline are
    no news.
    """
    if not _near_identical(fp, candidate, sim, params):
        return False
    if sim.exact:
        import numpy as np  # here, not at the top: see dedup/fingerprint.py

        body = shingle_array(fp.body_shingles)
        return not len(np.setdiff1d(body, shingle_array(candidate.fingerprint.shingles), assume_unique=True))
    return set(fp.paragraph_hashes) <= set(candidate.fingerprint.paragraph_hashes)


def _own_body(a: Fingerprint, b: Fingerprint, common: int) -> int:
    """Shingles of a's body lines that b lacks: what a tells of its own, headings, labels and
    credits aside; all of a's shingles that b lacks when a's body lines are not known."""
    if not a.body_shingles:
        return a.shingle_count - common
    import numpy as np  # here, not at the top: see dedup/fingerprint.py

    return len(np.setdiff1d(shingle_array(a.body_shingles), shingle_array(b.shingles), assume_unique=True))


def _only_one_unit_shared(
    fp: Fingerprint, candidate: Candidate, sim: Similarity, params: DedupParams
) -> bool:
    """Whether all the two texts have in common is one paragraph, or one sentence, while each
    tells more of its own, in body lines, than a short line holds.

    Two briefs may open with the same wire sentence or agency paragraph, as a paragraph of its
    own or as the start of their first paragraph, and then tell different things; on short
    texts that one sentence alone reaches the copy and version thresholds. A shared opening is
    no evidence of one article. A trimmed copy, an "old version" page or a brief grown into the
    full article is unaffected: one of the two then has nothing of its own but short lines (a
    byline, a heading, an "Old Version" label). Only for exact similarities, the only ones where
    one sentence can weigh that much.
    """
    if not sim.exact:
        return False
    common = round(sim.a_in_b * fp.shingle_count)
    if common == 0:
        return False
    slack = _short_line_shingles(params)  # a headline or a dateline may be shared too
    if not _one_unit_holds(fp, candidate, sim, common, slack, params):
        return False
    return (
        _own_body(fp, candidate.fingerprint, common) > slack
        and _own_body(candidate.fingerprint, fp, common) > slack
    )


def _one_unit_holds(
    fp: Fingerprint, candidate: Candidate, sim: Similarity, common: int, slack: int, params: DedupParams
) -> bool:
    """Whether one paragraph the two texts share verbatim, or one unbroken passage of one line of
    the page (a sentence, a paragraph, several sentences opening it), holds all their common
    shingles but a short line's worth. A copy edited here and there shares several passages."""
    if fp.paragraph_shingle_counts:
        theirs = set(candidate.fingerprint.paragraph_hashes)
        shared = [n for h, n in zip(fp.paragraph_hashes, fp.paragraph_shingle_counts) if h in theirs]
        if len(shared) == 1 and common <= shared[0] + slack:
            return True
    if not params.shared_passage_apart or not candidate.fingerprint.shingles:
        return False
    theirs_all = shingle_array(candidate.fingerprint.shingles)
    return any(
        common <= _longest_shared_run(shingle_array(line), theirs_all) + slack for line in fp.line_shingles
    )


def _longest_shared_run(line: np.ndarray, theirs: np.ndarray) -> int:
    """The distinct shingles of the longest unbroken run of the line's shingles (in word order)
    that the other text holds."""
    import numpy as np  # here, not at the top: see dedup/fingerprint.py

    inside = np.concatenate(([0], np.isin(line, theirs).astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(inside))  # where each run of held shingles starts and ends
    return max((len(np.unique(line[a:b])) for a, b in zip(edges[::2], edges[1::2])), default=0)


def _keeps_body(fp: Fingerprint, candidate: Candidate, sim: Similarity, params: DedupParams) -> bool:
    """Whether the page keeps most of the candidate's body (``version_body_kept``), or is held
    almost whole by it: what a version of an article at a new URL does ("UPDATE 1-": the old
    body and more; a shortened edition), and two articles that share a sentence or a paragraph,
    each with a body of its own, do not."""
    if params.version_body_kept <= 0 or sim.a_in_b >= params.duplicate_containment:
        # A page held almost whole by the article (a shortened edition) has no body of its own
        # that differs: it is that article, however much of it it left out.
        return True
    stored = candidate.fingerprint
    if sim.exact and fp.shingles and stored.shingles:
        import numpy as np  # here, not at the top: see dedup/fingerprint.py

        body = shingle_array(stored.body_shingles or stored.shingles)
        if len(body):
            kept = len(np.intersect1d(body, shingle_array(fp.shingles), assume_unique=True))
            return kept >= params.version_body_kept * len(body)
    return sim.b_in_a >= params.version_body_kept


def _only_a_short_line_shared(
    fp: Fingerprint, candidate: Candidate, sim: Similarity, params: DedupParams
) -> bool:
    """Whether all the two texts have in common could be one short line they both hold verbatim.

    Every article of a site may carry the site's own boilerplate lines, which no pattern in
    dedup.normalize knows; on two short articles (a few headlines, a brief) one such line alone
    can reach the version thresholds. A short line shared verbatim is no evidence of one article,
    so when the texts share a paragraph verbatim and no more shingles than a short line holds,
    their similarity does not make a version. Only for exact similarities: estimated ones are
    of long texts, where one line is far below the thresholds anyway.
    """
    if not sim.exact:
        return False
    common = round(sim.a_in_b * fp.shingle_count)
    shares_a_line = not set(fp.paragraph_hashes).isdisjoint(candidate.fingerprint.paragraph_hashes)
    return shares_a_line and common <= _short_line_shingles(params)


def _judge_text(page: PageFacts, fp: Fingerprint, candidate: Candidate, params: DedupParams) -> _Match | None:
    """Rule 3 for one candidate version; None when the page is not this article."""
    sim = similarity(fp, candidate.fingerprint)
    if fp.text_hash == candidate.fingerprint.text_hash:
        return _Match(5, "duplicate", _copy_relation(page, candidate), candidate, sim, "same text as")
    if _only_one_unit_shared(fp, candidate, sim, params):
        return None
    near_identical = sim.jaccard >= params.duplicate_jaccard
    contained = sim.a_in_b >= params.duplicate_containment
    grown = (
        sim.b_in_a >= params.duplicate_containment and fp.shingle_count > candidate.fingerprint.shingle_count
    )
    if candidate.source == page.source:
        if _adds_nothing(fp, candidate, sim, params):
            if near_identical:
                return _Match(4, "duplicate", "alternate", candidate, sim, "near-duplicate of")
            return _Match(3, "duplicate", "alternate", candidate, sim, "contained in")
        if not _keeps_body(fp, candidate, sim, params):
            return None
        if near_identical or contained:
            return _Match(2, "version", "revision", candidate, sim, "adds to")
        if grown:
            return _Match(2, "version", "revision", candidate, sim, "grown from")
        if _similar(sim, params) and not _only_a_short_line_shared(fp, candidate, sim, params):
            return _Match(1, "version", "revision", candidate, sim, "revised from")
        return None
    if near_identical:
        return _Match(4, "duplicate", "syndicated", candidate, sim, "near-duplicate of")
    if contained:
        return _Match(3, "duplicate", "syndicated", candidate, sim, "contained in")
    if grown:
        return _Match(3, "duplicate", "syndicated", candidate, sim, "extends")
    return None


def _best(matches: Sequence[_Match | None]) -> _Match | None:
    found = [m for m in matches if m is not None]
    return max(found, key=lambda m: m.order) if found else None


def _decide_known_url(
    page: PageFacts, fp: Fingerprint, candidates: Sequence[Candidate], params: DedupParams
) -> Decision:
    """Rule 1: the URL was fetched before for these articles."""
    latest = max(candidates, key=lambda c: (c.is_latest, c.version))
    relation: Relation = latest.url_relation or "original"
    if fp.text_hash == latest.url_text_hash:
        sim = Similarity(1.0, 1.0, 1.0, exact=True)
        return _decision(
            _Match(9, "unchanged", relation, latest, sim, "same text as last time at this URL,"), page
        )
    for candidate in candidates:
        if candidate.fingerprint.text_hash == fp.text_hash:
            sim = Similarity(1.0, 1.0, 1.0, exact=True)
            return _decision(_Match(9, "unchanged", relation, candidate, sim, "same text as"), page)
    # The URL caught up with a change the article already got elsewhere (a print page, a
    # syndicated copy or the original itself re-fetched after another of its URLs brought the
    # new version): near-identical to a version newer than the one last seen here is nothing
    # new. Versions up to the one last seen here do not count, or a one-word correction (also
    # near-identical) would be lost.
    seen_here = latest.url_version or max(
        (c.version for c in candidates if c.fingerprint.text_hash == latest.url_text_hash), default=None
    )
    if latest.url_text_hash is not None:
        tracked = _best(
            [
                _Match(9, "unchanged", relation, c, sim, "caught up with")
                for c in candidates
                if (seen_here is None or c.version > seen_here)
                and _near_identical(fp, c, sim := similarity(fp, c.fingerprint), params)
            ]
        )
        if tracked is not None:
            return _decision(tracked, page)
    # The text changed: a new version of the article this URL belongs to.
    sim = similarity(fp, latest.fingerprint)
    return _decision(_Match(9, "version", relation, latest, sim, "known URL, text changed from"), page)


def _decide_canonical(
    page: PageFacts, fp: Fingerprint, candidates: Sequence[Candidate], params: DedupParams
) -> Decision | None:
    """Rule 2: the page names the article's URL as its canonical; trust it if the texts agree."""
    matches: list[_Match | None] = []
    for candidate in candidates:
        sim = similarity(fp, candidate.fingerprint)
        if not (_near_identical(fp, candidate, sim, params) or _similar(sim, params)):
            continue
        if (
            candidate.source != page.source
            or fp.text_hash == candidate.fingerprint.text_hash
            or _adds_nothing(fp, candidate, sim, params)
        ):
            matches.append(
                _Match(
                    2 + (fp.text_hash == candidate.fingerprint.text_hash),
                    "duplicate",
                    _copy_relation(page, candidate),
                    candidate,
                    sim,
                    "canonical URL is",
                )
            )
        else:
            matches.append(_Match(1, "version", "revision", candidate, sim, "canonical URL is"))
    best = _best(matches)
    return _decision(best, page) if best else None


def decide(
    page: PageFacts, fp: Fingerprint, candidates: Sequence[Candidate], params: DedupParams
) -> Decision:
    """What the page is, given the stored versions that might be the same article.

    ``candidates`` are all versions the store and the index returned (several per article are
    fine: the best-matching version of each article counts).
    """
    known_url = [c for c in candidates if c.found_by == "url"]
    if known_url:
        return _decide_known_url(page, fp, known_url, params)
    canonical = [c for c in candidates if c.found_by == "canonical"]
    if canonical:
        decision = _decide_canonical(page, fp, canonical, params)
        if decision is not None:
            return decision
    best = _best([_judge_text(page, fp, c, params) for c in candidates])
    if best is not None:
        return _decision(best, page)
    closest = max(candidates, key=lambda c: similarity(fp, c.fingerprint).jaccard, default=None)
    if closest is None:
        return Decision("new", None, "original", reason="new article: no similar text seen before")
    sim = similarity(fp, closest.fingerprint)
    return Decision(
        "new",
        None,
        "original",
        similarity=round(sim.jaccard, 4),
        containment=round(sim.containment, 4),
        reason=(
            f"new article: closest is article {_short(closest.article_id)} ({_numbers(sim)}) "
            f"{_where(page, closest)}, {_why_apart(page, fp, closest, sim, params)}"
        ),
    )


def _why_apart(
    page: PageFacts, fp: Fingerprint, closest: Candidate, sim: Similarity, params: DedupParams
) -> str:
    """Why the closest candidate is another article, for the reason sentence."""
    if _only_one_unit_shared(fp, closest, sim, params):
        return "sharing one passage only, each telling more of its own"
    if closest.source == page.source and _similar(sim, params) and not _keeps_body(fp, closest, sim, params):
        return "keeping less than half of its body"
    return "below the thresholds"
