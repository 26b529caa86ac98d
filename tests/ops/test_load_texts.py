"""The bench's load (real questions in turn, none twice before all, replayable) and the CPU it names."""

from __future__ import annotations

import time

import httpx
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


class FakeTarget:
    """What ops/load.py asks of a target, for residents who need no identity; `sent` counts
    the messages, so that a subclass can answer them in turn."""

    sent = 0

    async def resident(self, http) -> dict[str, str]:
        return {}

    async def answered(self, http, who, message_id) -> bool:
        return False


class Keeping(FakeTarget):
    """A target that keeps every other message and answers the kept ones after `answer_after_s`
    (None: never), as the gateway does past its turns."""

    def __init__(self, answer_after_s: float | None) -> None:
        self.answer_after_s, self.kept_at = answer_after_s, {}

    async def send(self, http, who, text) -> tuple[str, str | None]:
        self.sent += 1
        if self.sent % 2:
            return "answered", None
        self.kept_at[f"m{self.sent}"] = time.monotonic()
        return "kept", f"m{self.sent}"

    async def answered(self, http, who, message_id) -> bool:
        return self.answer_after_s is not None and time.monotonic() - self.kept_at[message_id] >= self.answer_after_s


@pytest.mark.parametrize("answer_after_s", [0.3, None])
def test_the_open_loop_waits_for_kept_messages_and_counts_those_never_answered(answer_after_s) -> None:
    import asyncio

    from ops.bench import open_loop_summary
    from ops.load import open_loop

    run = asyncio.run(open_loop(Keeping(answer_after_s), "http://127.0.0.1:9", Texts(["问"]), 20, 0.5, drain_s=1.5))
    assert run["sent"] == 10 and run["kept"] == 5 and run["lost"] == 0
    assert run["kept_p95_ms"] is not None and run["kept_p95_ms"] <= run["p99_ms"]
    if answer_after_s is None:
        assert run["kept_unanswered"] == 5 and run["drained_s"] >= 1.5
    else:
        assert run["kept_unanswered"] == 0 and run["drained_s"] < 1.5
    # a rate the gateway had to shed was not held, however fast its 503s came
    summary = open_loop_summary([run])
    assert summary["max_rate_p95_1s"] == 0 and summary["20"]["kept"] == 5


class Failing(FakeTarget):
    """A target whose messages fail in turn as a 502 from the balancer and as a timeout."""

    async def send(self, http, who, text) -> tuple[str, str | None]:
        self.sent += 1
        if self.sent % 2:
            return "error 502 connection_lost", None
        raise httpx.ReadTimeout("gave up")


def test_the_bench_says_what_kind_of_error_residents_saw() -> None:
    import asyncio

    from ops.bench import open_loop_summary
    from ops.load import open_loop

    run = asyncio.run(open_loop(Failing(), "http://127.0.0.1:9", Texts(["问"]), 20, 0.5))
    assert run["errors"] == 10 and run["error_kinds"] == {"502 connection_lost": 5, "ReadTimeout": 5}
    assert open_loop_summary([run])["20"]["error_kinds"] == run["error_kinds"]
