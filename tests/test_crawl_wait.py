"""What the distributed crawl command waits on: its staged pages' counts, and how often it looks."""

from __future__ import annotations

import pytest
from store_factories import page_at

from newsdedup.store.staging import Staging
from newsdedup.workers.crawl_side import MAX_POLL_SECONDS, POLL_SECONDS, poll_interval


@pytest.mark.postgres
def test_the_counts_tell_pending_leased_done_and_outcomes_of_one_crawl_only(postgres_url: str) -> None:
    staging = Staging.open(postgres_url)
    try:
        ids = [
            page_id
            for page_id, _ in staging.stage_many(
                [page_at(f"https://a.example/{n}", crawl_id="c1") for n in range(4)]
            )
        ]
        staging.stage_many([page_at("https://a.example/other", crawl_id="c2")])
        assert staging.claim(ids[0], 30, 3).status == "claimed"
        assert staging.claim(ids[1], 30, 3).status == "claimed"
        assert staging.finish(ids[1], "created", None, "")
        assert staging.claim(ids[2], 30, 3).status == "claimed"
        assert staging.finish(ids[2], "duplicate", None, "")

        counts = staging.counts("c1")
        assert (counts.pending, counts.done, counts.failed) == (2, 2, 0)
        assert counts.leased == 1  # page 0: claimed, not finished; page 3 was never claimed
        assert counts.outcomes == {"created": 1, "duplicate": 1}
        assert staging.counts("c2").pending == 1
    finally:
        staging.close()


def test_the_wait_looks_often_near_the_end_and_seldom_while_much_remains() -> None:
    # Nothing finished yet: no rate to go by.
    assert poll_interval(250, 0, 2.0) == POLL_SECONDS
    # 250 pages left at 25 pages a second: 10 s to go, looked at once a second.
    assert poll_interval(250, 50, 2.0) == MAX_POLL_SECONDS
    # 20 left at 25 a second: 0.8 s to go, looked at every 0.2 s.
    assert poll_interval(20, 50, 2.0) == pytest.approx(0.2)
    # The last pages: the end is seen within POLL_SECONDS.
    assert poll_interval(2, 50, 2.0) == POLL_SECONDS
    assert poll_interval(0, 50, 2.0) == POLL_SECONDS
