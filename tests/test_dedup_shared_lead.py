"""A same-source page at a new URL is a version only when it keeps most of the article's body;
two texts that share one sentence or one paragraph, and otherwise tell different things, stay
apart, wherever the shared part stands. Texts written for these tests (fictional news)."""

from __future__ import annotations

import pytest

from newsdedup.dedup import Candidate, DedupParams, PageFacts, decide, fingerprint

PARAMS = DedupParams()

# A long agency sentence two briefs of one desk open with.
AGENCY = (
    "KESTREL BAY (Coastline Agency) - The harbour authority of Kestrel Bay said on Sunday that it had "
    "suspended every ferry crossing to the outer islands until further notice after inspectors found "
    "cracks in the main loading ramp at the northern terminal."
)
TAIL_TRAVEL = "Islanders returning from the mainland were offered beds in two school gyms near the quay."
TAIL_TRADE = "Fish merchants on Gullrock warned that two days without boats would spoil most of their catch."
TAIL_LONGER = (
    "The island council of Gullrock asked the regional government for an emergency helicopter link, "
    "saying its clinic had only three days of insulin left for its patients."
)


def candidate(text: str, source: str = "coastline", url: str = "https://coast.example/a") -> Candidate:
    return Candidate(
        article_id="a" * 32,
        version=1,
        source=source,
        url=url,
        fingerprint=fingerprint(text, PARAMS),
        is_latest=True,
    )


def judge(text: str, stored: Candidate, source: str = "coastline", params: DedupParams = PARAMS) -> str:
    page = PageFacts(url="https://coast.example/b", canonical_url="https://coast.example/b", source=source)
    return decide(page, fingerprint(text, params), [stored], params).kind


@pytest.mark.parametrize("tails", [(TAIL_TRAVEL, TAIL_TRADE), (TAIL_TRADE, TAIL_LONGER)])
@pytest.mark.parametrize("joined", [True, False], ids=["sentence opens the paragraph", "own paragraph"])
@pytest.mark.parametrize("source", ["coastline", "island-herald"])
def test_briefs_sharing_an_agency_sentence_stay_apart(
    tails: tuple[str, str], joined: bool, source: str
) -> None:
    sep = " " if joined else "\n"
    first, second = (f"{AGENCY}{sep}{tail}" for tail in tails)
    assert judge(second, candidate(first), source=source) == "new"
    assert judge(first, candidate(second), source=source) == "new"


def test_before_the_rule_the_shared_sentence_made_a_version() -> None:
    """The case the rule exists for: the thresholds alone link the two briefs."""
    before = DedupParams(version_body_kept=0.0, shared_passage_apart=False)
    first, second = (f"{AGENCY} {tail}" for tail in (TAIL_TRAVEL, TAIL_TRADE))
    assert judge(second, candidate(first), params=before) == "version"


ARTICLE = [
    "Kestrel Bay ferries halted after ramp damage",
    AGENCY,
    "Engineers from the port's maintenance company said the cracks ran along two welded seams and "
    "that a temporary steel plate could be fitted within a week if parts arrive from the mainland.",
    "About 1,400 passengers a day use the crossing in winter, most of them commuters and pupils from "
    "Gullrock and Tern Island who attend the secondary school in Kestrel Bay.",
    "The authority said it would publish a timetable for a reduced service from the southern slipway "
    "by Tuesday, and apologised to travellers for the short notice.",
]


def test_an_update_holding_the_old_body_and_more_is_a_version() -> None:
    update = ARTICLE + [
        "Later on Sunday the regional transport minister said the state would pay for a chartered "
        "catamaran to carry pupils and medical staff from Monday."
    ]
    assert judge("\n".join(update), candidate("\n".join(ARTICLE))) == "version"


def test_an_update_with_a_changed_figure_and_a_new_paragraph_is_a_version() -> None:
    update = list(ARTICLE)
    update[3] = update[3].replace("1,400", "1,650")
    update.insert(
        3, "Repairs are expected to cost about 300,000 euros, the harbour authority's director said."
    )
    assert judge("\n".join(update), candidate("\n".join(ARTICLE))) == "version"


def test_a_page_keeping_one_paragraph_of_an_article_and_telling_more_is_another_article() -> None:
    other = [
        "Gullrock clinic runs short of supplies",
        ARTICLE[3],
        TAIL_LONGER,
        "Doctors on the island said they had started to ration insulin and asked relatives on the "
        "mainland to send spare doses with the next helicopter, which the coastguard could fly on Monday.",
        "A spokeswoman for the regional health service said a boat carrying medicines would leave as "
        "soon as the southern slipway could take it, probably on Tuesday morning.",
    ]
    assert judge("\n".join(other), candidate("\n".join(ARTICLE))) == "new"


@pytest.mark.parametrize("source", ["coastline", "island-herald"])
def test_a_one_paragraph_article_edited_here_and_there_is_still_linked(source: str) -> None:
    """All in one paragraph, the two share most of it in several passages: not one shared lead."""
    original = " ".join(ARTICLE[1:])
    edited = (
        original.replace("on Sunday", "late on Sunday")
        .replace("within a week", "within ten days")
        .replace("most of them commuters", "many of them commuters")
        .replace("by Tuesday", "by Wednesday")
    )
    assert judge(edited, candidate(original), source=source) in ("duplicate", "version")
