"""The bench's load (real questions in turn, none twice before all, replayable) and the CPU it names."""

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


def test_the_bench_says_which_cpu_it_measured() -> None:
    from ops.bench import machine

    cpuinfo = (
        "processor\t: 0\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n\n"
        "processor\t: 1\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n"
    )
    assert machine(cpuinfo)["cpu"] == "AMD EPYC 9R14"
    assert machine(cpuinfo)["simd"] == ["avx512_vnni", "avx512f", "avx2"]
    assert machine("model name\t: old\nflags\t: fpu sse avx2\n")["simd"] == ["avx2"]
    assert machine("")["cpu"] == "unknown" and machine("")["simd"] == []
    here = machine()  # this machine's own /proc/cpuinfo
    assert here["cores"] and isinstance(here["simd"], list)


def test_the_bench_measures_the_rate_limits_with_residents_in_their_window() -> None:
    import asyncio

    from ops.bench import rate_limit_cpu

    measured = asyncio.run(rate_limit_cpu(keys=300, seconds=0.3))
    assert measured["keys"] == 300 and measured["hits_per_s"] == 20
    assert 0 < measured["core_share"] < 1
