"""The language model unpacked once into the cache folder (NEWSDEDUP_CACHE_DIR), and read from
there by every process that loads it after."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from newsdedup.config import Settings
from newsdedup.extract import language_id
from newsdedup.extract.language_id import identify_language, load_identifier, use_cache

TEXTS = {
    "en": "The harbour bridge reopened to traffic on Tuesday morning after eight months of repairs, "
    "the city council said, ahead of the schedule it set last summer. Engineers replaced the bearings.",
    "de": "Die Hafenbrücke ist am Dienstagmorgen nach acht Monaten Reparatur wieder für den Verkehr "
    "freigegeben worden, teilte die Stadtverwaltung mit, früher als im vergangenen Sommer geplant.",
    "fr": "Le pont du port a rouvert à la circulation mardi matin après huit mois de travaux, a indiqué "
    "le conseil municipal, en avance sur le calendrier fixé l'été dernier par la ville.",
    "ja": "港の橋は八か月の修理を終えて火曜日の朝に再開通した。市議会によると、工事は昨年夏に定めた"
    "予定より早く終わり、予算の範囲内に収まった。両側に自転車専用の車線が設けられた。",
}


@pytest.fixture
def fresh_identifier(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each load in the test loads the model again (a process loads it once)."""
    monkeypatch.setattr(language_id, "_identifier", None)
    monkeypatch.setattr(language_id, "_cache_dir", None)


def identified(cache_dir: Path | None) -> dict[str, tuple[str, float]]:
    """Each text's language and probability, from a model loaded now with ``cache_dir``."""
    language_id._identifier = None
    use_cache(cache_dir)
    identifier = load_identifier()
    return {name: identifier.classify(text) for name, text in TEXTS.items()}


def cached_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("py3langid-*.npz"))


@pytest.mark.usefixtures("fresh_identifier")
def test_the_model_read_from_the_cache_identifies_as_the_packaged_one(tmp_path: Path) -> None:
    packaged = identified(None)
    assert not cached_files(tmp_path)
    first = identified(tmp_path)  # unpacks into the folder
    (cached,) = cached_files(tmp_path)
    written = cached.stat().st_mtime_ns
    again = identified(tmp_path)  # reads what the first load unpacked
    assert first == packaged == again
    assert {name: language for name, (language, _) in packaged.items()} == {name: name for name in TEXTS}
    assert cached.stat().st_mtime_ns == written
    assert cached.stat().st_size > 50_000_000  # unpacked: the package's file is 4.5 MB


@pytest.mark.usefixtures("fresh_identifier")
def test_an_unreadable_cache_file_is_replaced_and_the_texts_still_identified(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    expected = identified(None)
    identified(tmp_path)
    (cached,) = cached_files(tmp_path)
    cached.write_bytes(b"not a model")
    with caplog.at_level(logging.WARNING, logger=language_id.__name__):
        assert identified(tmp_path) == expected
    assert "unreadable" in caplog.text and str(cached) in caplog.text
    assert not cached.exists()  # removed: the next process unpacks it again
    assert identified(tmp_path) == expected
    assert cached_files(tmp_path) == [cached]


@pytest.mark.usefixtures("fresh_identifier")
def test_a_cache_folder_that_cannot_be_written_leaves_the_model_unpacked_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    in_the_way = tmp_path / "cache"
    in_the_way.write_text("a file where the folder should be")
    with caplog.at_level(logging.WARNING, logger=language_id.__name__):
        assert identified(in_the_way) == identified(None)
    assert "not cached" in caplog.text
    assert in_the_way.read_text() == "a file where the folder should be"
    assert not list(tmp_path.glob("**/.unpacking-*"))


@pytest.mark.usefixtures("fresh_identifier")
def test_another_versions_unpacked_model_is_removed_when_this_one_is_unpacked(tmp_path: Path) -> None:
    stale = tmp_path / "py3langid-0.3.0-4000000-1.npz"
    stale.write_bytes(b"an older install's model")
    other = tmp_path / "notes.txt"
    other.write_text("not ours")
    identified(tmp_path)
    assert not stale.exists()
    assert other.exists()
    assert len(cached_files(tmp_path)) == 1


@pytest.mark.usefixtures("fresh_identifier")
def test_identify_language_uses_the_cache_set_for_the_process(tmp_path: Path) -> None:
    use_cache(tmp_path)
    assert identify_language(TEXTS["de"] * 2) == "de"  # long enough to tell
    assert len(cached_files(tmp_path)) == 1


def test_the_cache_folder_follows_xdg_and_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/var/cache/someone")
    monkeypatch.delenv("NEWSDEDUP_CACHE_DIR", raising=False)
    assert Settings().cache_path == Path("/var/cache/someone/newsdedup")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", "/home/someone")
    assert Settings().cache_path == Path("/home/someone/.cache/newsdedup")
    monkeypatch.setenv("NEWSDEDUP_CACHE_DIR", "")
    assert Settings().cache_path is None
    monkeypatch.setenv("NEWSDEDUP_CACHE_DIR", "~/models")
    assert Settings().cache_path == Path("/home/someone/models")
