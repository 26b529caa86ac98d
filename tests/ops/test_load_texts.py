"""The bench's load: real questions in turn, none twice before all, replayable for the peer."""

from __future__ import annotations

import pytest

from ops.bench import texts
from ops.load import Texts
from settings import get_settings


def test_no_text_comes_twice_before_all_have_come_and_a_run_can_be_replayed() -> None:
    stream = Texts(["甲", "乙", "丙"])
    first = [stream.take() for _ in range(3)]
    assert sorted(first) == ["丙", "乙", "甲"]
    assert stream.take() == first[0]  # only then again
    start = stream.position
    run = [stream.take() for _ in range(4)]
    replay = stream.at(start)
    assert [replay.take() for _ in range(4)] == run
    with pytest.raises(ValueError):
        Texts([])


def test_the_bench_sends_more_distinct_real_questions_than_the_action_server_remembers() -> None:
    from knowledge_base.retrieval.retriever import RECENT_VECTORS

    pool = texts(get_settings()).pool  # `make test` builds the real questions' splits first
    assert len(pool) == len(set(pool))
    # each message may keep two vectors (its words and their statutory expansion)
    assert len(pool) > 2 * RECENT_VECTORS
