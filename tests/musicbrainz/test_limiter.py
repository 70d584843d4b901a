"""The process-wide limiter: at most one request per second, counted on a fake clock."""

from __future__ import annotations

import itertools
import threading

import pytest

from slskdn.musicbrainz.client import MusicBrainzClient, RateLimiter, RetryPolicy, process_limiter
from tests.musicbrainz import synthetic as S
from tests.musicbrainz.conftest import FakeClock
from tests.musicbrainz.server import FakeMusicBrainz


def test_back_to_back_calls_wait_one_second_each(clock: FakeClock) -> None:
    limiter = RateLimiter(1.0, clock=clock.monotonic, sleep=clock.sleep)
    for _ in range(10):
        limiter.wait()
    assert len(clock.sleeps) == 9
    assert sum(clock.sleeps) == pytest.approx(9.0)


def test_time_already_passed_counts(clock: FakeClock) -> None:
    limiter = RateLimiter(1.0, clock=clock.monotonic, sleep=clock.sleep)
    limiter.wait()
    clock.now += 0.75  # the request itself took 0.75 s
    assert limiter.wait() == pytest.approx(0.25)
    clock.now += 5
    assert limiter.wait() == 0.0


def test_n_requests_through_the_client_sleep_at_least_n_minus_one_seconds(
    fake_mb: FakeMusicBrainz, clock: FakeClock, limiter: RateLimiter, client: MusicBrainzClient
) -> None:
    n = 8
    for _ in range(n):
        client.get_release(S.R_EP)
    assert fake_mb.count() == n
    assert sum(clock.sleeps) >= n - 1


def test_retries_also_pass_through_the_limiter(
    fake_mb: FakeMusicBrainz, clock: FakeClock, limiter: RateLimiter
) -> None:
    # No backoff at all: only the limiter keeps the three attempts apart.
    client = MusicBrainzClient(
        fake_mb.base_url,
        limiter=limiter,
        sleep=lambda _s: None,
        retry=RetryPolicy(attempts=3, base_delay_s=0.0),
    )
    fake_mb.fail_next(2)
    client.get_release(S.R_EP)
    assert fake_mb.count() == 3
    assert sum(clock.sleeps) >= 2


def test_threads_share_one_spacing() -> None:
    # A real clock but a recording sleep that advances a shared fake time: threads that
    # call together must still be spaced, never bunched.
    clock = FakeClock()
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            clock.sleep(seconds)

    limiter = RateLimiter(1.0, clock=clock.monotonic, sleep=sleep)
    starts: list[float] = []

    def worker() -> None:
        for _ in range(5):
            limiter.wait()
            starts.append(clock.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    starts.sort()
    assert len(starts) == 20
    assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(starts))


def test_process_limiter_is_one_object_and_never_faster_than_one_per_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = process_limiter(1.0)
    monkeypatch.setattr(first, "min_interval_s", first.min_interval_s)  # restored afterwards
    assert process_limiter(0.5) is first
    assert first.min_interval_s >= 2.0  # slowed for the 0.5/s user, kept for everyone
    assert process_limiter(5.0).min_interval_s >= 1.0
