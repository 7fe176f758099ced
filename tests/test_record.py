"""Spike records: first_spike, spikes_to_events, events_to_spikes."""

from __future__ import annotations

import naive
import numpy as np
import pytest
import spikedefense.kernels as K


@pytest.mark.parametrize("shape", [(5, 13), (4, 2, 3, 5), (1, 7), (3, 1)])
def test_first_spike_matches_reference(backend: str, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(sum(shape))
    s = (rng.random(shape) < 0.25).astype(np.uint8)
    s0 = s.copy()
    out = K.first_spike(s, backend=backend)
    assert out.dtype == np.int64 and out.shape == shape[1:]
    np.testing.assert_array_equal(out, naive.first_spike(s))
    np.testing.assert_array_equal(s, s0)


def test_first_spike_hand(backend: str) -> None:
    s = np.array([[0, 0, 1], [1, 0, 1], [1, 0, 0]], dtype=np.uint8)
    assert K.first_spike(s, backend=backend).tolist() == [1, -1, 0]
    assert K.first_spike(s.astype(bool), backend=backend).tolist() == [1, -1, 0]


def test_spikes_to_events_matches_reference() -> None:
    rng = np.random.default_rng(1)
    s = (rng.random((6, 3, 4)) < 0.3).astype(np.uint8)
    times, ids = K.spikes_to_events(s)
    rt, ri = naive.spikes_to_events(s)
    assert times.dtype == np.int64 and ids.dtype == np.int64
    np.testing.assert_array_equal(times, rt)
    np.testing.assert_array_equal(ids, ri)
    # sorted by time, then id
    keys = list(zip(times.tolist(), ids.tolist(), strict=True))
    assert keys == sorted(keys) and len(keys) == int(s.sum())


def test_spikes_to_events_hand() -> None:
    s = np.array([[0, 1], [1, 1]], dtype=np.uint8)
    times, ids = K.spikes_to_events(s)
    assert times.tolist() == [0, 1, 1] and ids.tolist() == [1, 0, 1]
    times, ids = K.spikes_to_events(np.zeros((3, 2), np.uint8))
    assert times.shape == (0,) and ids.shape == (0,)
    assert times.dtype == np.int64 and ids.dtype == np.int64


def test_events_round_trip() -> None:
    rng = np.random.default_rng(2)
    s = (rng.random((5, 2, 3, 3)) < 0.3).astype(np.uint8)
    times, ids = K.spikes_to_events(s)
    back = K.events_to_spikes(times, ids, 5, (2, 3, 3))
    assert back.dtype == np.uint8 and back.shape == s.shape
    np.testing.assert_array_equal(back, s)
    np.testing.assert_array_equal(back, naive.events_to_spikes(times, ids, 5, (2, 3, 3)))


def test_events_to_spikes_hand_and_inputs_unchanged() -> None:
    times = np.array([2, 0, 2])
    ids = np.array([3, 1, 0])
    t0, i0 = times.copy(), ids.copy()
    out = K.events_to_spikes(times, ids, 3, (2, 2))
    want = np.zeros((3, 4), np.uint8)
    want[2, 3] = want[0, 1] = want[2, 0] = 1
    np.testing.assert_array_equal(out, want.reshape(3, 2, 2))
    np.testing.assert_array_equal(times, t0)
    np.testing.assert_array_equal(ids, i0)
    empty = K.events_to_spikes(np.zeros(0, np.int64), np.zeros(0, np.int64), 2, (3,))
    assert empty.shape == (2, 3) and not empty.any()


@pytest.mark.parametrize("times,ids,name", [
    ([0, 3], [0, 1], "times"),   # time == steps
    ([-1, 0], [0, 1], "times"),
    ([0, 1], [0, 6], "ids"),     # id == size
    ([0, 1], [-1, 0], "ids"),
])
def test_events_to_spikes_out_of_range(times: list[int], ids: list[int], name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name}"):
        K.events_to_spikes(np.array(times), np.array(ids), 3, (2, 3))
