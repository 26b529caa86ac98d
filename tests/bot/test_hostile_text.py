"""Property-based tests of every function that reads a resident's raw text.

Residents (and attackers) send anything: emoji, control characters, lone
surrogates, 100 KB pastes, markup, traditional characters. Each function
here sits before Rasa or before a log line, so an exception or a leak here
becomes a lost message or personal data in a log. Hypothesis generates the
inputs; the properties are what must hold for all of them.
"""

from __future__ import annotations

import contextlib
import logging

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bot.api.deps import validated
from bot.api.schemas import MessageIn
from bot.core.privacy import PersonalDataFilter, mask_personal_data
from bot.errors import ApiError
from knowledge_base.chinese_numerals import parse_chinese_number
from knowledge_base.corpus.citations import CITATION, find_citations, problems
from knowledge_base.retrieval.colloquial import expand_for_dense, to_statute_wording
from knowledge_base.retrieval.legal_issues import key_provisions, load_issues, spot
from nlu.taxonomy import load as load_taxonomy
from nlu.text_normaliser import fold_for_matching

PROFILE = hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# any code point, surrogates and control characters included, plus the domain's own words
HOSTILE_TEXT = st.one_of(
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=200),
    st.text(
        alphabet="工资押金电梯外卖骑手辞退炒鱿鱼出粮按金《》第条之一二三十百0123456789 \n\t<>&'\";-/", max_size=120
    ),
    st.builds(lambda law, n: f"《{law}》第{n}条", st.text(max_size=8), st.text(alphabet="一二十百零1²٣〇", max_size=5)),
    st.builds(
        lambda a, b: a + b,
        st.sampled_from(
            [
                "<script>alert(1)</script>",
                "'; DROP TABLE messages; --",
                "\x00\x1b[31m",
                "\ud800",
                "🧑‍🔧👷🏽‍♀️",
                "ｆｕｌｌｗｉｄｔｈ",
            ]
        ),
        st.text(max_size=50),
    ),
)
CATEGORIES = st.one_of(st.none(), st.sampled_from(sorted(load_taxonomy().categories)), st.text(max_size=10))


@PROFILE
@given(HOSTILE_TEXT)
def test_folding_never_fails_and_leaves_no_capitals(text: str) -> None:
    folded = fold_for_matching(text)
    assert not any("A" <= ch <= "Z" or "Ａ" <= ch <= "Ｚ" for ch in folded)


@PROFILE
@given(HOSTILE_TEXT)
def test_statute_wording_and_dense_expansion_never_fail(text: str) -> None:
    wording = to_statute_wording(text)
    # the dense query is the statute wording, optionally followed by concept terms
    assert expand_for_dense(text).startswith(wording)


@PROFILE
@given(HOSTILE_TEXT, CATEGORIES)
def test_issue_spotting_returns_only_table_provisions(text: str, category: str | None) -> None:
    table = {p for issue in load_issues() for p in issue.articles}
    spotted = spot(text, category)
    provisions = key_provisions(text, category)
    assert set(provisions) <= table
    assert len(provisions) == len(set(provisions))
    assert not spotted or provisions


@PROFILE
@given(HOSTILE_TEXT)
def test_every_citation_lookalike_is_checked(text: str) -> None:
    for _written, law, number, _suffix in find_citations(text):
        # a law name that normalises to nothing (「《\r》第0条」) is still a citation: it resolves
        # to no article, so it is blocked like any made-up one (the assertion below)
        assert isinstance(law, str) and number >= 0
    # with an empty corpus every 《…》第…条 must be reported, malformed numbers too: none passes unchecked
    assert len(problems(text, lambda law, number: [])) >= len(CITATION.findall(text))


@PROFILE
@given(st.text(alphabet="零〇一二三四五六七八九十百千万两0123456789", min_size=0, max_size=12))
def test_chinese_numbers_parse_or_refuse_cleanly(text: str) -> None:
    with contextlib.suppress(ValueError):
        assert parse_chinese_number(text) >= 0


MOBILE = st.builds(
    lambda second, rest: f"1{second}{rest}",
    st.sampled_from("3456789"),
    st.text(alphabet="0123456789", min_size=9, max_size=9),
)
ID_CARD = st.builds(
    lambda area, year, month, day, seq, check: f"{area}{year}{month:02d}{day:02d}{seq}{check}",
    st.integers(110000, 659999).map(str),
    st.integers(1900, 2025).map(str),
    st.integers(1, 12),
    st.integers(1, 28),
    st.text(alphabet="0123456789", min_size=3, max_size=3),
    st.sampled_from("0123456789X"),
)
AROUND = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Nd",)), max_size=30)


@PROFILE
@given(AROUND, st.one_of(MOBILE, ID_CARD), AROUND)
def test_phone_and_id_numbers_are_masked_wherever_they_sit(before: str, number: str, after: str) -> None:
    masked = mask_personal_data(before + number + after)
    assert number not in masked


@PROFILE
@given(AROUND, MOBILE, ID_CARD)
def test_log_records_carry_no_numbers(words: str, mobile: str, id_card: str) -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "%s 电话%s 身份证%s", (words, mobile, id_card), None)
    PersonalDataFilter().filter(record)
    line = record.getMessage()
    assert mobile not in line and id_card not in line


@PROFILE
@given(
    st.one_of(
        st.none(),
        st.integers(),
        st.floats(allow_nan=True),
        st.booleans(),
        HOSTILE_TEXT,
        st.lists(st.text(max_size=5), max_size=3),
        st.dictionaries(st.text(max_size=5), st.text(max_size=5)),
    )
)
def test_text_validation_answers_every_value(value: object) -> None:
    try:
        checked = validated(MessageIn, {"text": value}).text
    except ApiError as refused:
        assert refused.status == 422 and refused.code in ("invalid_text", "empty_text")
    else:
        assert checked.strip()


@PROFILE
@given(MOBILE, ID_CARD, AROUND)
def test_masked_access_log_lines_still_format(mobile: str, id_card: str, words: str) -> None:
    """uvicorn's access formatter unpacks the record's five arguments; masking must keep them."""
    from uvicorn.logging import AccessFormatter

    path = f"/api/v1/conversations/{words}{mobile}/messages?id={id_card}"
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200),
        None,
    )
    PersonalDataFilter().filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(record)
    assert mobile not in line and id_card not in line and "GET" in line
