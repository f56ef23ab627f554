"""Newsletter pitches longer than other boilerplate are known before any page of the site is
learned from; news sentences about newsletters stay article text. Wordings written here."""

from __future__ import annotations

import pytest

from newsdedup.pipeline.page_pipeline import content_words

PITCH = (
    "Never miss a thing from the Marsh Valley Ledger: sign up for our free evening email and get the "
    "council votes, the court lists, the match reports and the weekend weather sent to your inbox "
    "at five o'clock, and you can stop it with one click whenever you want."
)
SPLIT = [
    "Never miss a thing from the Marsh Valley Ledger: our free evening email brings the council votes, "
    "the court lists and the match reports to your inbox at five.",
    "Registration is free and you can unsubscribe at any time with a single click.",
]


def test_a_long_pitch_on_one_line_counts_no_words() -> None:
    assert len(PITCH.split()) > 30
    assert content_words("Loading the results board...\n" + PITCH) == 4


def test_a_pitch_split_over_two_lines_counts_no_words() -> None:
    assert content_words("\n".join(["Loading the results board...", *SPLIT])) == 4


@pytest.mark.parametrize(
    "lines",
    [
        [
            "Start your day informed: our morning newsletter brings the five stories you need, every weekday.",
            "It's free. Sign up below.",
        ],
        [
            "Want the headlines before your coffee? The Riverside Record lands in your inbox at six, Monday to Friday."
        ],
    ],
)
def test_pitches_in_other_words_count_no_words(lines: list[str]) -> None:
    assert content_words("\n".join(["Loading the results board...", *lines])) == 4


@pytest.mark.parametrize(
    "sentence",
    [
        "The newspaper said about 40,000 readers had signed up for its new evening newsletter in the first "
        "month, well above the publisher's forecast of 25,000, and that it would add a weekend edition.",
        "Regulators fined the retailer after it kept emailing customers who had asked to be removed from its "
        "mailing list, a practice the watchdog called a plain breach of the data protection law.",
        "Officials said in an email that you could not get a refund for tickets bought through resellers.",
        "Our reporters spent three months reading the council's newsletters and minutes to trace the deal.",
    ],
)
def test_news_about_newsletters_stays_article_text(sentence: str) -> None:
    assert content_words(sentence) == len(sentence.split())
