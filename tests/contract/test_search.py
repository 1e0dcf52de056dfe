"""Search across the documents an agency is party to, on every backend: folded
Vietnamese, references first, cursor paging, and hostile query text."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from domain.errors import InvalidInputError
from domain.search_text import fold, party_word, word_key, words
from infrastructure.views.search import SearchQuery, search
from infrastructure.views.store import ViewStore
from infrastructure.views.worker import check, rebuild
from tests.factories import OTHER, RECIPIENT, SENDER, THIRD, World, header
from tests.views_support import caught_up, send


def found(store: ViewStore, agency: str, text: str = "", **kw: Any) -> list[str]:
    rows, _ = search(store, SearchQuery(agency=agency, text=text, **kw))
    return [r["document_id"] for r in rows]


def test_folding_drops_marks_and_maps_d_bar() -> None:
    assert fold("Quyết định ĐÔNG SƠN") == "quyet dinh dong son"
    assert words("12/QĐ-UBND, Đà Nẵng; ＡＢＣ") == ["12", "qd", "ubnd", "da", "nang", "abc"]
    assert word_key("12/QĐ-UBND") == word_key("12 qd ubnd") == "12 qd ubnd"


def test_words_without_diacritics_find_the_parties_documents(world: World) -> None:
    a = send(world, (RECIPIENT,), subject="Quyết định về xã Đông Sơn")
    b = send(world, (RECIPIENT, OTHER), subject="Công văn về kế hoạch năm 2027")
    store = caught_up(world)
    assert found(store, RECIPIENT, "quyet dinh dong son") == [a]
    assert found(store, RECIPIENT, "DONG son") == [a]
    assert found(store, RECIPIENT, "Đông Sơn") == [a]
    assert found(store, SENDER, "cong van") == [b]
    assert found(store, OTHER, "ke hoach") == [b]
    assert found(store, OTHER, "dong son") == []
    # the sender's code and name, the notation, the type are searched too
    assert set(found(store, RECIPIENT, "qd ubnd")) == {a, b}
    assert set(found(store, RECIPIENT, SENDER)) == {a, b}
    # whole words, the same on both backends: "don" is not "dong"
    assert found(store, RECIPIENT, "don son") == []


def test_another_agencys_document_with_the_same_words_is_not_found(world: World) -> None:
    world.register(THIRD)
    mine = send(world, (RECIPIENT,), subject="Quyết định khen thưởng")
    send(world, (OTHER,), subject="Quyết định khen thưởng")
    send(world, (THIRD,), sender=OTHER, subject="Quyết định khen thưởng")
    store = caught_up(world)
    assert found(store, RECIPIENT, "quyet dinh khen thuong") == [mine]
    assert found(store, THIRD, "quyet dinh khen thuong") != found(store, OTHER, "khen thuong")


def test_exact_reference_comes_first_then_most_recent(world: World) -> None:
    first = send(world, (RECIPIENT,), subject="Báo cáo")
    second = send(world, (RECIPIENT,), subject="Báo cáo tiếp")
    third = send(world, (RECIPIENT,), subject="Báo cáo nữa")
    store = caught_up(world)
    reference = store.query("SELECT reference FROM {t:v_search} WHERE document_id = %s",
                            [first])[0]["reference"]
    rows, _ = search(store, SearchQuery(agency=RECIPIENT, text=reference))
    assert rows[0]["document_id"] == first and rows[0]["exact"] is True
    assert found(store, RECIPIENT, "bao cao") == [third, second, first]


def test_cursor_pages_through_every_match_once(world: World) -> None:
    docs = [send(world, (RECIPIENT,), subject=f"Thông báo số {i}") for i in range(5)]
    store = caught_up(world)

    def pages(text: str, limit: int) -> list[list[str]]:
        out, after = [], None
        while True:
            kw = {} if after is None else {"after": after}
            rows, after = search(store, SearchQuery(agency=RECIPIENT, text=text, limit=limit,
                                                    **kw))
            out.append([r["document_id"] for r in rows])
            if after is None:
                return out

    assert pages("thong bao", 2) == [docs[4:2:-1], docs[2:0:-1], docs[:1]]
    # "2/QĐ-UBND": the document so numbered, then the one whose words hold 2, qd, ubnd
    reference = store.query("SELECT reference FROM {t:v_search} WHERE document_id = %s",
                            [docs[1]])[0]["reference"]
    assert reference == "2/QĐ-UBND"
    assert pages(reference, 1) == [[docs[1]], [docs[2]]]


def test_dates_find_by_promulgation_and_sent_day(world: World) -> None:
    a = send(world, (RECIPIENT,), promulgation_date="2026-10-02")
    b = send(world, (RECIPIENT,), promulgation_date="2026-11-20")
    store = caught_up(world)
    assert found(store, RECIPIENT, "2/10/2026") == [a]
    assert found(store, RECIPIENT, "2026-11-20") == [b]
    assert found(store, RECIPIENT, start=date(2026, 11, 1), end=date(2026, 11, 30)) == [b]
    assert found(store, RECIPIENT, "qd", end=date(2026, 10, 31)) == [a]


def test_a_removed_recipient_no_longer_finds_the_document(world: World) -> None:
    doc = send(world, (RECIPIENT, OTHER), subject="Giấy mời họp")
    world.act(SENDER, "document.revise", {
        "document": doc, "business_type": 2, "reason": "gửi nhầm",
        "add_recipients": [], "remove_recipients": [OTHER]})
    store = caught_up(world)
    assert found(store, OTHER, "giay moi") == []
    assert found(store, RECIPIENT, "giay moi") == [doc]


def test_a_revised_subject_is_searched_by_its_new_words(world: World) -> None:
    doc = send(world, (RECIPIENT,), subject="Giấy mời họp")
    world.act(SENDER, "document.revise", {
        "document": doc, "business_type": 2, "reason": "đổi", "add_recipients": [],
        "remove_recipients": [], "header": header(subject="Thông báo hoãn họp")})
    store = caught_up(world)
    assert found(store, RECIPIENT, "giay moi") == []
    assert found(store, RECIPIENT, "hoan hop") == [doc]


# ---- hostile query text --------------------------------------------------------------

FTS5_SYNTAX = [
    '"', '""', '"quyet', 'quyet"  OR "', "quyet OR dinh", "quyet NOT dinh", "NEAR(quyet dinh)",
    "NEAR(quyet dinh, 0)", "quy*", "*", "-quyet", "^quyet", "party : p", "words: quyet",
    "{party words}: quyet", "subject:quyet", "(quyet", "quyet)", "quyet AND", "AND", "OR", "NOT",
    "+", "quyet + dinh", "'; DROP TABLE v_search; --", "%", "_", "%quyet%", "\\", "\x00",
]


@pytest.mark.parametrize("text", FTS5_SYNTAX)
def test_fts5_query_syntax_injection_is_plain_words(world: World, text: str) -> None:
    """Operators, quotes, column filters and wildcards never widen the match nor
    fail: the words left are matched as words (all of them), nothing else."""
    mine = send(world, (RECIPIENT,), subject="Quyết định")
    send(world, (OTHER,), subject="Quyết định OR NOT NEAR party words")
    store = caught_up(world)
    result = found(store, RECIPIENT, text)
    expected = [mine] if words(text) and set(words(text)) <= {"quyet", "dinh"} else []
    assert result == expected


def test_fts5_column_filter_cannot_reach_the_party_column(world: World) -> None:
    send(world, (OTHER,), subject="Bí mật")
    store = caught_up(world)
    other_party = party_word(OTHER)
    assert found(store, RECIPIENT, f"party:{other_party}") == []
    assert found(store, RECIPIENT, other_party) == []


def test_overlong_query_text_is_refused(world: World) -> None:
    store = caught_up(world)
    with pytest.raises(InvalidInputError, match="at most 200 characters"):
        search(store, SearchQuery(agency=RECIPIENT, text="a" * 201))
    with pytest.raises(InvalidInputError, match="at most 16 words"):
        search(store, SearchQuery(agency=RECIPIENT, text=" ".join(f"w{i}" for i in range(17))))


def test_empty_query_finds_nothing_not_everything(world: World) -> None:
    send(world, (RECIPIENT,))
    store = caught_up(world)
    assert found(store, RECIPIENT, "") == [] and found(store, RECIPIENT, " -*\" ") == []


# ---- the index is part of the views ----------------------------------------------------


def test_rebuild_and_check_cover_the_search_rows_and_index(world: World) -> None:
    a = send(world, (RECIPIENT,), subject="Quyết định về Đông Sơn")
    store = caught_up(world)
    rebuild(world.app)
    store = ViewStore(world.app)
    assert found(store, RECIPIENT, "dong son") == [a]
    b = send(world, (RECIPIENT,), subject="Đông Sơn lần hai")
    store = caught_up(world)
    assert found(store, RECIPIENT, "dong son") == [b, a]
    assert check(world.app)[1] == []


@pytest.mark.parametrize("narrow", [0, 20_000])
def test_date_ranges_find_the_same_through_either_plan(
        world: World, monkeypatch: pytest.MonkeyPatch, narrow: int) -> None:
    """A range holding few rows is read by the date index, a wide one by walking
    the agency's rows newest first: the same rows either way."""
    monkeypatch.setattr("infrastructure.views.search.NARROW", narrow)
    a = send(world, (RECIPIENT,), subject="Quyết định về Đông Sơn",
             promulgation_date="2026-10-02")
    b = send(world, (RECIPIENT,), subject="Về Đông Sơn", promulgation_date="2026-11-20",
             document_type={"type": 2, "type_name": "Thông báo"})
    send(world, (RECIPIENT,), subject="Thông báo khác", promulgation_date="2026-11-21")
    store = caught_up(world)
    assert found(store, RECIPIENT, "dong son", start=date(2026, 10, 1)) == [b, a]
    assert found(store, RECIPIENT, "dong son", start=date(2026, 11, 1)) == [b]
    assert found(store, RECIPIENT, "thong bao", end=date(2026, 11, 20)) == [b]
    assert found(store, RECIPIENT, "quyet dinh", end=date(2026, 11, 20)) == [a]  # the type


@pytest.mark.parametrize("walk", [0, 1, 5_000])
def test_words_find_the_same_through_the_walk_or_the_word_index(
        world: World, monkeypatch: pytest.MonkeyPatch, walk: int) -> None:
    """PostgreSQL reads the agency's newest rows first, then asks its word index:
    the same rows either way (SQLite always asks FTS5)."""
    monkeypatch.setattr("infrastructure.views.search.WALK", walk)
    a = send(world, (RECIPIENT,), subject="Quyết định về Đông Sơn")
    send(world, (RECIPIENT,), subject="Thông báo khác")
    b = send(world, (RECIPIENT, OTHER), subject="Đông Sơn lần hai")
    send(world, (OTHER,), subject="Đông Sơn của nơi khác")
    store = caught_up(world)
    assert found(store, RECIPIENT, "dong son") == [b, a]
    assert found(store, RECIPIENT, "son dong lan") == [b]
    assert found(store, OTHER, "dong son") == found(store, OTHER, "dong son", limit=5)
    assert len(found(store, OTHER, "dong son")) == 2
    rows, after = search(store, SearchQuery(agency=RECIPIENT, text="dong son", limit=1))
    assert [r["document_id"] for r in rows] == [b] and after is not None
    assert found(store, RECIPIENT, "dong son", after=after) == [a]
