"""Stories: articles of one news event across outlets share a story, in both modes.

Three loopback outlets (tests/story_sites.py) report three events in their own words, plus an
article of its own. What a user sees is checked: the feed's ``story_id``, ``newsdedup stories``,
``/v1/stories``, ``/v1/stories/{id}``, the per-story Atom feed; a merge of two stories through
the real pipeline; the switch that turns stories off; and distributed mode with real
``newsdedup worker`` processes giving the same stories as embedded mode.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient
from faultkit import start_worker
from story_sites import ARTICLES, LONE, StoryArticle, StorySites, article_html
from test_distributed import kill_group, wait_ready

from newsdedup.api import create_app
from newsdedup.config import Settings
from newsdedup.dedup import InMemoryIndex, background
from newsdedup.dedup.stories import ArticleTerms, FrequencySketch, StoryParams, article_terms, background_of
from newsdedup.fetched.page import Page
from newsdedup.pipeline.page_pipeline import PagePipeline
from newsdedup.pipeline.services import dedup_params
from newsdedup.store import Store

REPO = Path(__file__).resolve().parents[1]
ATOM = "{http://www.w3.org/2005/Atom}"


def run(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "newsdedup", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    print(result.stdout, result.stderr[-4000:])  # shown by pytest when the test fails
    assert result.returncode == 0
    return result.stdout


def base_env(sites: StorySites, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDEDUP_")}
    env.update(
        NEWSDEDUP_DATABASE_URL=database_url,
        NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1",
        NEWSDEDUP_CONFIG=str(sites.sources_file),
        NEWSDEDUP_ARCHIVE="0",
    )
    return env


def groups_by_event(sites: StorySites, feed: list[dict]) -> dict[str, set[str | None]]:
    """Each event's story ids, read from the feed through the articles' URLs."""
    story_of_url = {url: record["story_id"] for record in feed for url in record["urls"]}
    found: dict[str, set[str | None]] = defaultdict(set)
    for article in sites.articles:
        found[article.event if article.event != LONE else article.slug].add(
            story_of_url[sites.url_of(article)]
        )
    return found


def partition(sites: StorySites, feed: list[dict]) -> set[frozenset[str]]:
    """The stories as sets of article slugs: comparable between two stores (ids differ)."""
    story_of_url = {url: record["story_id"] for record in feed for url in record["urls"]}
    members: dict[str | None, set[str]] = defaultdict(set)
    for article in sites.articles:
        members[story_of_url[sites.url_of(article)]].add(article.slug)
    return {frozenset(slugs) for slugs in members.values()}


def assert_one_story_per_event(sites: StorySites, feed: list[dict]) -> None:
    groups = groups_by_event(sites, feed)
    assert all(len(ids) == 1 and None not in ids for ids in groups.values()), groups
    stories = [next(iter(ids)) for ids in groups.values()]
    assert len(set(stories)) == len(stories), groups  # no two events share a story


def test_an_embedded_crawl_groups_each_event_across_outlets(tmp_path: Path) -> None:
    with StorySites(tmp_path) as sites:
        env = base_env(sites, f"sqlite:///{tmp_path / 'store.db'}")
        summary = run(env, "crawl")
        assert "9 articles created" in summary, summary
        feed = [json.loads(line) for line in run(env, "feed").splitlines()]
        assert_one_story_per_event(sites, feed)

        stories = json.loads(run(env, "stories", "--format", "json"))
        assert sorted(s["article_count"] for s in stories) == [1, 2, 3, 3]
        by_id = {s["id"]: s for s in stories}
        quake = by_id[next(r["story_id"] for r in feed if "kesmet-quake" in r["canonical_url"])]
        assert quake["sources"] == ["capital-daily", "harbor-post", "valley-courier"]
        assert quake["first_published_at"].startswith("2026-03-02T06:10")
        assert quake["last_published_at"].startswith("2026-03-02T11:40")
        assert quake["merged_into"] is None
        # The title is one of its articles' headlines, not one made up.
        assert quake["title"] in {a.title for a in ARTICLES if a.event == "quake"}
        assert set(quake["article_ids"]) == {r["id"] for r in feed if r["story_id"] == quake["id"]}
        # The cursor: nothing after the last story's seq; jsonl by default.
        last = max(s["seq"] for s in stories)
        assert run(env, "stories", "--after", str(last)) == ""
        assert len(run(env, "stories").splitlines()) == 4

        settings = Settings(database_url=env["NEWSDEDUP_DATABASE_URL"], config=sites.sources_file)
        with TestClient(create_app(settings)) as api:
            page = api.get("/v1/stories", params={"after": 0, "limit": 2}).json()
            assert len(page["items"]) == 2 and page["next_after"] == page["items"][-1]["seq"]
            rest = api.get("/v1/stories", params={"after": page["next_after"]}).json()["items"]
            assert {s["id"] for s in page["items"] + rest} == set(by_id)
            one = api.get(f"/v1/stories/{quake['id']}").json()
            assert {a["id"] for a in one["articles"]} == set(quake["article_ids"])
            assert all(a["story_id"] == quake["id"] for a in one["articles"])
            assert api.get("/v1/stories/nosuchstory").status_code == 404
            atom = api.get(f"/v1/stories/{quake['id']}/feed.atom")
            assert atom.status_code == 200 and atom.headers["content-type"].startswith("application/atom+xml")
            entries = ElementTree.fromstring(atom.text).findall(f"{ATOM}entry")
            assert {e.findtext(f"{ATOM}title") for e in entries} == {
                a.title for a in ARTICLES if a.event == "quake"
            }
            record = api.get(f"/v1/articles/{quake['article_ids'][0]}").json()
            assert record["story_id"] == quake["id"]

        # The console's story page: the story's articles on one time line, oldest first.
        console = Settings(
            database_url=env["NEWSDEDUP_DATABASE_URL"], config=sites.sources_file, console_open_reads=True
        )
        with TestClient(create_app(console)) as ui:
            page = ui.get(f"/ui/stories/{quake['id']}")
            assert page.status_code == 200, page.text
            timeline = page.text[page.text.index('class="timeline"') :]  # the story's title heads the page
            quake_titles = sorted(
                (a for a in ARTICLES if a.event == "quake"), key=lambda a: timeline.index(a.title)
            )
            assert [a.title for a in quake_titles] == [
                a.title
                for a in sorted((a for a in ARTICLES if a.event == "quake"), key=lambda a: a.published)
            ]
            assert all(source in page.text for source in quake["sources"])
            article_page = ui.get(f"/ui/articles/{quake['article_ids'][0]}")
            assert f'href="/ui/stories/{quake["id"]}"' in article_page.text
            assert ui.get("/ui/stories/nosuchstory").status_code == 404


def test_reprocessing_the_archive_makes_the_same_stories(tmp_path: Path) -> None:
    with StorySites(tmp_path) as sites:
        env = {
            **base_env(sites, f"sqlite:///{tmp_path / 'store.db'}"),
            "NEWSDEDUP_ARCHIVE": "1",
            "NEWSDEDUP_ARCHIVE_DIR": str(tmp_path / "archive"),
        }
        run(env, "crawl")
        crawled = [json.loads(line) for line in run(env, "feed").splitlines()]
        again = f"sqlite:///{tmp_path / 'again.db'}"
        run(env, "reprocess", "--database-url", again)
        reprocessed = [
            json.loads(line) for line in run({**env, "NEWSDEDUP_DATABASE_URL": again}, "feed").splitlines()
        ]
        assert_one_story_per_event(sites, reprocessed)
        assert partition(sites, reprocessed) == partition(sites, crawled)


def test_stories_switched_off_leave_story_id_null(tmp_path: Path) -> None:
    with StorySites(tmp_path) as sites:
        env = {**base_env(sites, f"sqlite:///{tmp_path / 'store.db'}"), "NEWSDEDUP_STORIES": "0"}
        run(env, "crawl")
        feed = [json.loads(line) for line in run(env, "feed").splitlines()]
        assert len(feed) == 9 and all(record["story_id"] is None for record in feed)
        assert run(env, "stories") == ""


def test_a_later_article_that_shows_two_stories_to_be_one_merges_them(tmp_path: Path) -> None:
    """Two reports of the quake too far apart for the threshold make two stories; a third that
    is close to both merges them: the younger story's articles move (new seqs in the feed), its
    id answers with where it went, and its Atom feed is the survivor's."""
    first, second = ARTICLES[0], ARTICLES[1]
    bridge = StoryArticle(
        "capital-daily",
        "kesmet-what-we-know",
        "quake",
        "2026-03-02T12:00:00+00:00",
        "Kesmet earthquake: what we know",
        (first.paragraphs[0], second.paragraphs[1], first.paragraphs[1], second.paragraphs[2]),
    )
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    params = dedup_params(Settings())
    pipeline = PagePipeline(
        store,
        InMemoryIndex(params),
        params,
        20,
        # Thresholds set for this store's own counts: no background frequencies, no cold start.
        story_params=StoryParams(
            threshold=0.55, merge_threshold=0.55, cold_start=0.0, background_documents=0.0
        ),
    )

    def process(article: StoryArticle) -> str:
        url = f"http://{article.outlet}.example/{article.slug}.html"
        page = Page(
            url=url,
            final_url=url,
            status=200,
            headers={"content-type": "text/html"},
            html=article_html(article, f"http://{article.outlet}.example"),
            fetched_at=datetime.fromisoformat(article.published),
            source=article.outlet,
        )
        outcome = pipeline.process(page)
        assert outcome.kind == "created", outcome
        assert outcome.article_id is not None
        return outcome.article_id

    try:
        first_id, second_id = process(first), process(second)
        before = {r["id"]: r for r in store.feed_reader.feed()}
        assert before[first_id]["story_id"] != before[second_id]["story_id"]  # two stories so far
        cursor = store.feed_reader.last_seq()
        bridge_id = process(bridge)
        changed = {r["id"]: r for r in store.feed_reader.feed(after=cursor)}
        survivor = before[first_id]["story_id"]  # the older story survives
        assert changed[bridge_id]["story_id"] == survivor
        assert changed[second_id]["story_id"] == survivor  # moved: back in the feed with a new seq
        assert first_id not in changed  # its story did not change

        with TestClient(create_app(Settings(database_url=store.database_url), store=store)) as api:
            old = api.get(f"/v1/stories/{second_id}").json()
            assert old["merged_into"] == survivor and old["article_ids"] == []
            merged = api.get(f"/v1/stories/{survivor}").json()
            assert set(merged["article_ids"]) == {first_id, second_id, bridge_id}
            listed = {s["id"]: s for s in api.get("/v1/stories").json()["items"]}
            assert listed[second_id]["merged_into"] == survivor and listed[survivor]["article_count"] == 3
            atom = api.get(f"/v1/stories/{second_id}/feed.atom")
            assert len(ElementTree.fromstring(atom.text).findall(f"{ATOM}entry")) == 3
    finally:
        store.close()


def test_words_of_scripts_without_spaces_become_character_bigrams() -> None:
    terms = article_terms("地震", "京都で地震があった。\nKesmet Valdoria", datetime(2026, 3, 2), "ja")
    assert "地震" in terms.words and "京都" in terms.words
    # "Kesmet" opens its line (a sentence start: no cue); "Valdoria" is capitalized inside it.
    assert dict(terms.names) == {"valdoria": 1, "kesmet valdoria": 1}
    assert "valdoria" in terms.words


@pytest.mark.redis
@pytest.mark.postgres
def test_distributed_workers_make_the_same_stories_as_embedded_mode(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    from newsdedup.workers.app import create_celery_app  # deferred: Celery only for this test

    with StorySites(tmp_path) as sites:
        embedded_env = base_env(sites, f"sqlite:///{tmp_path / 'store.db'}")
        run(embedded_env, "crawl")
        embedded = [json.loads(line) for line in run(embedded_env, "feed").splitlines()]

        env = {
            **base_env(sites, postgres_url),
            "NEWSDEDUP_REDIS_URL": redis_url,
            "NEWSDEDUP_LSH_BASENAME": "stories",
        }
        workers = []
        logs = [open(tmp_path / f"w{i}.log", "wb") for i in (1, 2)]
        try:
            for i, log in enumerate(logs, 1):
                workers.append(start_worker(env, f"w{i}@%h", log, 2))
            settings = Settings(redis_url=redis_url, database_url=postgres_url, lsh_basename="stories")
            wait_ready(create_celery_app(settings), ["w1", "w2"])
            summary = run(env, "crawl")
            assert "9 articles created" in summary and "0 errors" in summary, summary
            distributed = [json.loads(line) for line in run(env, "feed").splitlines()]
        finally:
            for process in workers:
                kill_group(process)
            for log in logs:
                log.close()
        assert_one_story_per_event(sites, distributed)
        assert partition(sites, distributed) == partition(sites, embedded)


def _synthetic_terms(i: int) -> ArticleTerms:
    """Article ``i`` of event ``i % 4``: its event's words and names, and words of its own."""
    event = i % 4
    words = {f"event{event}word{k}": 2 for k in range(12)} | {f"own{i}word{k}": 1 for k in range(20)}
    names = {f"event{event}name{k}": 1 for k in range(4)}
    title = {f"event{event}word{k}": 1 for k in range(3)}
    return ArticleTerms(words, names, title, datetime(2026, 3, 1, i % 24, tzinfo=UTC), "en")


def _assign_all(stores: list[Store], count: int, fail_every: int = 0) -> list[str]:
    """Assign articles 0..count-1, article i by ``stores[i % len(stores)]`` (each a process with
    its own copy of the statistics); every ``fail_every``-th write is undone once first."""
    from newsdedup.store.stories import StoryInput, assign_story

    params = StoryParams()
    found = []
    for i in range(count):
        store = stores[i % len(stores)]
        terms = _synthetic_terms(i)
        if fail_every and i % fail_every == 0:
            with pytest.raises(RuntimeError), store.db.writer.begin() as connection:
                assign_story(
                    connection, f"undone{i}", "t", StoryInput(_synthetic_terms(i + 1), params), terms.at
                )
                raise RuntimeError("the page's write fails after its story was assigned")
        with store.db.writer.begin() as connection:
            found.append(
                assign_story(connection, f"{i:032x}", "t", StoryInput(terms, params), terms.at).story_id
            )
    return found


def test_processes_sharing_a_store_count_the_same_statistics(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Each process keeps its own copy of the document frequencies and catches up from the
    store: two processes taking turns, with undone writes and snapshots of the statistics
    between, make the same stories as one process alone."""
    import newsdedup.store.stories as stored

    monkeypatch.setattr(stored, "SNAPSHOT_EVERY", 7)
    alone = Store.open(f"sqlite:///{tmp_path / 'alone.db'}")
    first = Store.open(f"sqlite:///{tmp_path / 'shared.db'}")
    second = Store.open(f"sqlite:///{tmp_path / 'shared.db'}")
    try:
        expected = _assign_all([alone], 40)
        assert len(set(expected)) == 4  # the four events
        assert _assign_all([first, second], 40, fail_every=5) == expected
    finally:
        for store in (alone, first, second):
            store.close()


def test_a_store_with_stories_before_the_sketch_keeps_assigning(tmp_path: Path) -> None:
    """A store made by a development build (document frequencies per term, migration 0013)
    is upgraded on open and goes on assigning stories."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from newsdedup.store.engine import alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0016")
        connection.execute(text("UPDATE counters SET value = 12 WHERE name IN ('story_docs', 'story_seq')"))
        connection.execute(text("INSERT INTO story_terms (term, df) VALUES (1, 3), (2, 12)"))
    engine.dispose()
    store = Store.open(url)
    try:
        assert len(set(_assign_all([store], 8))) == 4
    finally:
        store.close()


def test_a_story_stored_in_the_earlier_form_is_read_the_same(tmp_path: Path) -> None:
    """Centroids written as plain JSON (before their weights were packed) are still read, to
    the same weights, so stories made before an upgrade keep receiving their articles."""
    import json as json_module

    from sqlalchemy import update

    from newsdedup.store.models import Story
    from newsdedup.store.stories import load_profiles

    store = Store.open(f"sqlite:///{tmp_path / 'forms.db'}")
    try:
        first = _assign_all([store], 6)[0]
        with store.db.writer.begin() as connection:
            [packed] = load_profiles(connection, [first])
            earlier = json_module.dumps(packed.to_json(), sort_keys=True)
            connection.execute(update(Story).where(Story.id == first).values(profile=earlier))
            [plain] = load_profiles(connection, [first])
        assert plain.families == packed.families and plain.central == packed.central
        assert plain.central_id == packed.central_id and plain.families["w"]
    finally:
        store.close()


def test_a_story_of_one_article_stores_its_centroid_once_and_reads_back_both() -> None:
    """Most stories hold one article, whose vectors are the centroid: written once (half the
    bytes of a story row), read back as two separate copies, as a story of several is."""
    from newsdedup.dedup.stories import new_profile
    from newsdedup.store.stories import _profile_data, profile_json

    at = datetime(2026, 1, 1, tzinfo=UTC)
    first = {"w": {"harbour": 0.8, "bridge": 0.6}, "n": {"council": 1.0}, "t": {"bridge": 1.0}}
    second = {"w": {"ferry": 0.9, "harbour": 0.4}, "n": {"traders": 1.0}, "t": {"ferry": 1.0}}

    def read_back(text: str, profile_id: str) -> object:
        from newsdedup.dedup.stories import StoryProfile

        return StoryProfile.from_json(profile_id, _profile_data(text), at, at, 1, 1)

    alone = new_profile("s1", first, at, 1, 200)
    written_once = profile_json(alone)
    assert '"m"' not in written_once
    loaded = read_back(written_once, "s1")
    assert loaded.families == alone.families and loaded.central == alone.central == first
    assert loaded.central_id == "s1"
    loaded.add("a2", second, at, 200)  # the centroid changes in place; the central article may not
    assert loaded.families["w"]["harbour"] == pytest.approx(1.2)
    assert loaded.central in (first, second) and loaded.central != loaded.families

    joined = new_profile("s2", first, at, 1, 200)
    joined.add("a2", second, at, 200)
    assert joined.central != joined.families
    written_twice = profile_json(joined)
    assert '"m"' in written_twice
    both = read_back(written_twice, "s2")
    assert both.families == joined.families and both.central == joined.central
    # The weights of the centroid alone: one double per term.
    assert len(base64.b64decode(json.loads(written_once)["f"])) == 8 * sum(map(len, first.values()))


def _terms_in(language: str | None) -> ArticleTerms:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    words, names, title = {"police": 1, "chibok": 1}, {"south korea": 1}, {"police": 1}
    return ArticleTerms(words=words, names=names, title=title, at=at, language=language)


def test_a_new_store_weighs_words_common_in_their_language_below_rare_ones() -> None:
    """Before a store has counted any article, "police" and "Chibok" would weigh the same: the
    language's word frequencies (dedup/background.py) tell them apart from the first article."""
    sketch, terms = FrequencySketch(), _terms_in("en-GB")
    keys, buckets = terms.keys, terms.buckets
    assert keys == ("w:police", "w:chibok", "n:south korea", "t:police")
    alone = sketch.frequencies(keys, buckets, True)
    assert alone.idfs["w:police"] == alone.idfs["w:chibok"]
    weighed = sketch.frequencies(keys, buckets, True, *background_of(terms, StoryParams()))
    assert weighed.idfs["w:police"] < weighed.idfs["n:south korea"] < weighed.idfs["w:chibok"]
    # a headline holds a word less often than a whole article does
    assert weighed.idfs["w:police"] < weighed.idfs["t:police"]
    # a language with no word list, or none known, or a code that is no language: the store's
    # own counts alone
    for language in ("xx", None, "../en", ""):
        assert background_of(_terms_in(language), StoryParams()) == (None, 0.0)
    assert background_of(terms, StoryParams(background_documents=0.0)) == (None, 0.0)


def test_the_word_lists_read_as_wordfreq_itself_reads_them() -> None:
    """dedup/background.py reads wordfreq's files without importing wordfreq (its import cost a
    crawl more than the lists): a release that changes their format or place fails here."""
    import wordfreq

    assert set(background.available_languages()) == set(wordfreq.available_languages("small"))
    for language in ("en", "de", "zh", "ar"):
        expected: dict[str, float] = {}
        for index, words in enumerate(wordfreq.get_frequency_list(language, "small")):
            for word in words:
                expected.setdefault(word, 10.0 ** (-index / 100.0))
            if len(expected) >= background.TOP_WORDS:
                break
        assert background.word_frequencies(language) == expected
