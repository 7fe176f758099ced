"""Bad input: every public op raises TypeError/ValueError naming the argument, and leaves its
inputs as they were."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import spikedefense.kernels as K

F32 = np.float32
NAN = float("nan")
INF = float("inf")


def _cur(**kw: Any) -> np.ndarray:
    return np.full((3, 4), 0.5, dtype=kw.get("dtype", F32))


def _with(array: np.ndarray, index: tuple[int, ...], value: float) -> np.ndarray:
    array = array.copy()
    array[index] = value
    return array


# Each case: (id, exception, argument name the message must start with, builder). The builder
# returns (call, arrays): `call()` must raise; `arrays` are checked unchanged afterwards.
Case = tuple[str, type, str, Callable[[], tuple[Callable[[], Any], list[np.ndarray]]]]


def _lif(currents: Any, params: Any = None, v0: Any = None):  # type: ignore[no-untyped-def]
    params = K.LIFParams() if params is None else params
    parts = v0 if isinstance(v0, K.LIFState) else (v0,)
    arrays = [a for a in (currents, *parts) if isinstance(a, np.ndarray)]
    return (lambda: K.lif_run(currents, params, v0, backend="cpu")), arrays


def _enc(x: Any, steps: Any = 3, gain: Any = 1.0, seed: Any = 0):  # type: ignore[no-untyped-def]
    arrays = [x] if isinstance(x, np.ndarray) else []
    return (lambda: K.bernoulli_encode(x, steps, gain=gain, seed=seed, backend="cpu")), arrays


def _dense(s: Any, w: Any):  # type: ignore[no-untyped-def]
    return (lambda: K.propagate_dense(s, w, backend="cpu")), [s, w]


def _conv(s: Any, w: Any, stride: Any = 1, padding: Any = 0):  # type: ignore[no-untyped-def]
    return (lambda: K.propagate_conv2d(s, w, stride=stride, padding=padding, backend="cpu")), [s, w]


def _convt(s: Any, w: Any, stride: Any = 1, padding: Any = 0, op: Any = 0):  # type: ignore[no-untyped-def]
    return (lambda: K.propagate_conv_transpose2d(s, w, stride=stride, padding=padding,
                                                 output_padding=op, backend="cpu")), [s, w]


def _kc(pot: Any, fs: Any, k: Any = 1, radius: Any = 0):  # type: ignore[no-untyped-def]
    return (lambda: K.kwta_conv(pot, fs, k, radius, backend="cpu")), [pot, fs]


def _kd(pot: Any, fs: Any, k: Any = 1):  # type: ignore[no-untyped-def]
    return (lambda: K.kwta_dense(pot, fs, k, backend="cpu")), [pot, fs]


S = np.ones((2, 5), np.uint8)
W = np.full((3, 5), 0.5, F32)
SC = np.ones((2, 2, 6, 6), np.uint8)
WC = np.full((3, 2, 3, 3), 0.5, F32)
WT = np.full((2, 3, 3, 3), 0.5, F32)
POT = np.ones((2, 3, 3), F32)
FS = np.zeros((2, 3, 3), np.int64)

# STDP conv: weight [2, 1, 2, 2] on a 1x3x3 input, stride 1, no padding -> post [2, 2, 2]
SW = np.full((2, 1, 2, 2), 0.5, F32)
SPRE = np.zeros((1, 3, 3), np.int64)
SPOST = np.zeros((2, 2, 2), np.int64)
SWIN = np.array([[0, 1, 1]])


def _sc(w: Any = None, pre: Any = None, post: Any = None, win: Any = None,  # type: ignore[no-untyped-def]
        stride: Any = 1, padding: Any = 0, params: Any = None, mirror: Any = None):
    w = SW.copy() if w is None else w
    pre = SPRE.copy() if pre is None else pre
    post = SPOST.copy() if post is None else post
    win = SWIN.copy() if win is None else win
    params = K.STDPParams() if params is None else params
    arrays = [a for a in (w, pre, post, win, mirror) if isinstance(a, np.ndarray)]
    return (lambda: K.stdp_conv(w, pre, post, win, stride, padding, params, mirror=mirror,
                                backend="cpu")), arrays


DW = np.full((2, 4), 0.5, F32)


def _sd(w: Any = None, pre: Any = None, post: Any = None, win: Any = None,  # type: ignore[no-untyped-def]
        params: Any = None, mirror: Any = None):
    w = DW.copy() if w is None else w
    pre = np.zeros(4, np.int64) if pre is None else pre
    post = np.zeros(2, np.int64) if post is None else post
    win = np.array([1]) if win is None else win
    params = K.STDPParams() if params is None else params
    arrays = [a for a in (w, pre, post, win, mirror) if isinstance(a, np.ndarray)]
    return (lambda: K.stdp_dense(w, pre, post, win, params, mirror=mirror,
                                 backend="cpu")), arrays


def _td(w: Any = None, pre: Any = None, post: Any = None, params: Any = None):  # type: ignore[no-untyped-def]
    w = np.zeros((2, 4), F32) if w is None else w
    pre = np.ones(4, np.uint8) if pre is None else pre
    post = np.ones(2, np.uint8) if post is None else post
    params = K.TadrosParams() if params is None else params
    arrays = [a for a in (w, pre, post) if isinstance(a, np.ndarray)]
    return (lambda: K.tadros_dense(w, pre, post, params, backend="cpu")), arrays


CASES: list[Case] = [
    # lif_run
    ("lif-nan", ValueError, "currents", lambda: _lif(_with(_cur(), (1, 2), NAN))),
    ("lif-inf", ValueError, "currents", lambda: _lif(_with(_cur(), (0, 0), -INF))),
    ("lif-int", TypeError, "currents", lambda: _lif(np.ones((3, 4), np.int32))),
    ("lif-f16", TypeError, "currents", lambda: _lif(np.ones((3, 4), np.float16))),
    ("lif-scalar", ValueError, "currents", lambda: _lif(np.array(0.5, F32))),
    ("lif-T0", ValueError, "currents", lambda: _lif(np.zeros((0, 4), F32))),
    ("lif-v0-shape", ValueError, "state.v", lambda: _lif(_cur(), v0=np.zeros(3, F32))),
    ("lif-v0-nan", ValueError, "state.v",
     lambda: _lif(_cur(), v0=_with(np.zeros(4, F32), (1,), NAN))),
    ("lif-v0-int", TypeError, "state.v", lambda: _lif(_cur(), v0=np.zeros(4, np.int64))),
    ("lif-refractory-shape", ValueError, "state.refractory_left",
     lambda: _lif(_cur(), v0=K.LIFState(np.zeros(4, F32), np.zeros(3, np.int32)))),
    ("lif-refractory-float", TypeError, "state.refractory_left",
     lambda: _lif(_cur(), v0=K.LIFState(np.zeros(4, F32), np.zeros(4, F32)))),
    ("lif-refractory-negative", ValueError, "state.refractory_left",
     lambda: _lif(_cur(), v0=K.LIFState(np.zeros(4, F32), np.full(4, -1, np.int32)))),
    ("lif-params-type", TypeError, "params", lambda: _lif(_cur(), (1.0, 1.0, "zero", 0))),
    ("lif-beta", ValueError, "params", lambda: _lif(_cur(), K.LIFParams(beta=1.5))),
    ("lif-beta-nan", ValueError, "params", lambda: _lif(_cur(), K.LIFParams(beta=NAN))),
    ("lif-threshold", ValueError, "params", lambda: _lif(_cur(), K.LIFParams(threshold=0.0))),
    ("lif-reset", ValueError, "params", lambda: _lif(_cur(), K.LIFParams(reset="none"))),
    ("lif-refractory", ValueError, "params", lambda: _lif(_cur(), K.LIFParams(refractory=-1))),
    ("lif-beta-str", TypeError, r"params\.beta", lambda: _lif(_cur(), K.LIFParams(beta="a"))),
    # bernoulli_encode
    ("enc-nan", ValueError, "x", lambda: _enc(np.array([0.5, NAN]))),
    ("enc-inf", ValueError, "x", lambda: _enc(np.array([0.5, INF], F32))),
    ("enc-int", TypeError, "x", lambda: _enc(np.array([0, 1]))),
    ("enc-steps0", ValueError, "steps", lambda: _enc(np.zeros(2), steps=0)),
    ("enc-steps-float", TypeError, "steps", lambda: _enc(np.zeros(2), steps=2.0)),
    ("enc-gain-neg", ValueError, "gain", lambda: _enc(np.zeros(2), gain=-0.1)),
    ("enc-gain-nan", ValueError, "gain", lambda: _enc(np.zeros(2), gain=NAN)),
    ("enc-gain-inf", ValueError, "gain", lambda: _enc(np.zeros(2), gain=INF)),
    ("enc-seed-neg", ValueError, "seed", lambda: _enc(np.zeros(2), seed=-1)),
    ("enc-seed-big", ValueError, "seed", lambda: _enc(np.zeros(2), seed=2**64)),
    ("enc-seed-float", TypeError, "seed", lambda: _enc(np.zeros(2), seed=1.5)),
    # propagate_dense
    ("dense-float-spikes", TypeError, "spikes", lambda: _dense(S.astype(F32), W.copy())),
    ("dense-spike-2", ValueError, "spikes", lambda: _dense(_with(S, (0, 0), 2), W.copy())),
    ("dense-spikes-rank", ValueError, "spikes", lambda: _dense(np.ones((2, 5, 1), np.uint8),
                                                               W.copy())),
    ("dense-weight-int", TypeError, "weight", lambda: _dense(S.copy(), np.ones((3, 5), np.int64))),
    ("dense-weight-nan", ValueError, "weight", lambda: _dense(S.copy(), _with(W, (2, 4), NAN))),
    ("dense-weight-rank", ValueError, "weight", lambda: _dense(S.copy(), np.ones(5, F32))),
    ("dense-mismatch", ValueError, "(spikes|weight)",
     lambda: _dense(np.ones((2, 4), np.uint8), W.copy())),
    # propagate_conv2d
    ("conv-channels", ValueError, "(spikes|weight)",
     lambda: _conv(SC.copy(), np.full((3, 1, 3, 3), 0.5, F32))),
    ("conv-nonsquare", ValueError, "weight",
     lambda: _conv(SC.copy(), np.full((3, 2, 3, 2), 0.5, F32))),
    ("conv-stride0", ValueError, "stride", lambda: _conv(SC.copy(), WC.copy(), stride=0)),
    ("conv-stride-float", TypeError, "stride", lambda: _conv(SC.copy(), WC.copy(), stride=1.0)),
    ("conv-padding-neg", ValueError, "padding", lambda: _conv(SC.copy(), WC.copy(), padding=-1)),
    ("conv-too-big", ValueError, "(spikes|weight|padding|stride)",
     lambda: _conv(np.ones((1, 2, 2, 2), np.uint8), WC.copy())),
    ("conv-spikes-rank", ValueError, "spikes",
     lambda: _conv(np.ones((2, 6, 6), np.uint8), WC.copy())),
    ("conv-float-spikes", TypeError, "spikes", lambda: _conv(SC.astype(np.float64), WC.copy())),
    ("conv-weight-inf", ValueError, "weight",
     lambda: _conv(SC.copy(), _with(WC, (0, 0, 0, 0), INF))),
    # propagate_conv_transpose2d
    ("convt-channels", ValueError, "(spikes|weight)",
     lambda: _convt(SC.copy(), np.full((3, 3, 3, 3), 0.5, F32))),
    ("convt-output-padding", ValueError, "output_padding",
     lambda: _convt(SC.copy(), WT.copy(), stride=2, op=2)),
    ("convt-output-padding-s1", ValueError, "output_padding",
     lambda: _convt(SC.copy(), WT.copy(), stride=1, op=1)),
    ("convt-stride0", ValueError, "stride", lambda: _convt(SC.copy(), WT.copy(), stride=0)),
    ("convt-weight-nan", ValueError, "weight",
     lambda: _convt(SC.copy(), _with(WT, (1, 2, 0, 0), NAN))),
    ("convt-weight-rank", ValueError, "weight", lambda: _convt(SC.copy(), np.ones((2, 3, 3), F32))),
    # kwta_conv
    ("kc-k-neg", ValueError, "k", lambda: _kc(POT.copy(), FS.copy(), k=-1)),
    ("kc-k-big", ValueError, "k", lambda: _kc(POT.copy(), FS.copy(), k=19)),
    ("kc-k-float", TypeError, "k", lambda: _kc(POT.copy(), FS.copy(), k=1.0)),
    ("kc-radius-neg", ValueError, "radius", lambda: _kc(POT.copy(), FS.copy(), radius=-1)),
    ("kc-pot-nan", ValueError, "potentials", lambda: _kc(_with(POT, (1, 1, 1), NAN), FS.copy())),
    ("kc-pot-int", TypeError, "potentials", lambda: _kc(np.ones((2, 3, 3), np.int64), FS.copy())),
    ("kc-fs-float", TypeError, "first_spike", lambda: _kc(POT.copy(), FS.astype(F32))),
    ("kc-shape", ValueError, "(first_spike|potentials)",
     lambda: _kc(POT.copy(), np.zeros((2, 3, 4), np.int64))),
    ("kc-rank", ValueError, "potentials", lambda: _kc(np.ones((3, 3), F32), np.zeros((3, 3), int))),
    # kwta_dense
    ("kd-k-neg", ValueError, "k", lambda: _kd(np.ones(4, F32), np.zeros(4, np.int64), k=-1)),
    ("kd-k-big", ValueError, "k", lambda: _kd(np.ones(4, F32), np.zeros(4, np.int64), k=5)),
    ("kd-pot-inf", ValueError, "potentials",
     lambda: _kd(_with(np.ones(4), (0,), INF), np.zeros(4, np.int64))),
    ("kd-shape", ValueError, "(first_spike|potentials)",
     lambda: _kd(np.ones(4, F32), np.zeros(3, np.int64))),
    ("kd-rank", ValueError, "potentials", lambda: _kd(np.ones((2, 2), F32), np.zeros((2, 2), int))),
    # stdp_conv
    ("sc-weight-above-1", ValueError, "weight", lambda: _sc(w=_with(SW, (1, 0, 1, 1), 1.5))),
    ("sc-weight-neg", ValueError, "weight", lambda: _sc(w=_with(SW, (0, 0, 0, 0), -0.1))),
    ("sc-weight-nan", ValueError, "weight", lambda: _sc(w=_with(SW, (0, 0, 0, 0), NAN))),
    ("sc-weight-int", TypeError, "weight", lambda: _sc(w=np.zeros((2, 1, 2, 2), np.int64))),
    ("sc-weight-nonsquare", ValueError, "weight", lambda: _sc(w=np.full((2, 1, 2, 3), 0.5, F32))),
    ("sc-mirror-range", ValueError, "mirror", lambda: _sc(mirror=_with(SW, (0, 0, 1, 0), 2.0))),
    ("sc-mirror-shape", ValueError, "mirror", lambda: _sc(mirror=np.full((2, 1, 2, 3), 0.5, F32))),
    ("sc-win-c", ValueError, "winners", lambda: _sc(win=np.array([[2, 0, 0]]))),
    ("sc-win-y", ValueError, "winners", lambda: _sc(win=np.array([[0, 2, 0]]))),
    ("sc-win-x-neg", ValueError, "winners", lambda: _sc(win=np.array([[0, 0, -1]]))),
    ("sc-win-cols", ValueError, "winners", lambda: _sc(win=np.array([[0, 0]]))),
    ("sc-win-float", TypeError, "winners", lambda: _sc(win=np.array([[0.0, 0.0, 0.0]]))),
    ("sc-pre-float", TypeError, "pre_first_spike", lambda: _sc(pre=SPRE.astype(F32))),
    ("sc-pre-channels", ValueError, "pre_first_spike",
     lambda: _sc(pre=np.zeros((2, 3, 3), np.int64))),
    ("sc-post-channels", ValueError, "post_first_spike",
     lambda: _sc(post=np.zeros((3, 2, 2), np.int64))),
    ("sc-post-size", ValueError, "post_first_spike",
     lambda: _sc(post=np.zeros((2, 3, 3), np.int64))),
    ("sc-stride0", ValueError, "stride", lambda: _sc(stride=0)),
    ("sc-params-type", TypeError, "params", lambda: _sc(params=K.LIFParams())),
    ("sc-params-nan", ValueError, "params", lambda: _sc(params=K.STDPParams(a_r_plus=NAN))),
    ("sc-params-delta", ValueError, "params", lambda: _sc(params=K.STDPParams(a_r_plus=5.0))),
    ("sc-params-delta-neg", ValueError, "params",
     lambda: _sc(params=K.STDPParams(a_r_minus=-2.0))),
    ("sc-win-silent", ValueError, "winners", lambda: _sc(post=np.full_like(SPOST, -1))),
    # stdp_dense
    ("sd-weight-above-1", ValueError, "weight", lambda: _sd(w=_with(DW, (1, 3), 1.01))),
    ("sd-weight-inf", ValueError, "weight", lambda: _sd(w=_with(DW, (1, 3), INF))),
    ("sd-mirror-range", ValueError, "mirror", lambda: _sd(mirror=_with(DW, (0, 0), -0.5))),
    ("sd-mirror-shape", ValueError, "mirror", lambda: _sd(mirror=np.full((2, 3), 0.5, F32))),
    ("sd-win-range", ValueError, "winners", lambda: _sd(win=np.array([2]))),
    ("sd-win-neg", ValueError, "winners", lambda: _sd(win=np.array([-1]))),
    ("sd-win-rank", ValueError, "winners", lambda: _sd(win=np.array([[0]]))),
    ("sd-pre-shape", ValueError, "pre_first_spike", lambda: _sd(pre=np.zeros(5, np.int64))),
    ("sd-post-shape", ValueError, "post_first_spike", lambda: _sd(post=np.zeros(3, np.int64))),
    ("sd-pre-float", TypeError, "pre_first_spike", lambda: _sd(pre=np.zeros(4, F32))),
    ("sd-params-type", TypeError, "params", lambda: _sd(params=K.TadrosParams())),
    ("sd-params-str", TypeError, r"params\.alpha", lambda: _sd(params=K.STDPParams(alpha="x"))),
    ("sd-win-silent", ValueError, "winners", lambda: _sd(post=np.array([0, -1]))),
    # tadros_dense
    ("td-weight-nan", ValueError, "weight",
     lambda: _td(w=_with(np.zeros((2, 4), F32), (1, 1), NAN))),
    ("td-weight-int", TypeError, "weight", lambda: _td(w=np.zeros((2, 4), np.int32))),
    ("td-pre-float", TypeError, "pre_spikes", lambda: _td(pre=np.ones(4, F32))),
    ("td-pre-shape", ValueError, "pre_spikes", lambda: _td(pre=np.ones(3, np.uint8))),
    ("td-post-shape", ValueError, "post_spikes", lambda: _td(post=np.ones(3, np.uint8))),
    ("td-post-2", ValueError, "post_spikes", lambda: _td(post=np.array([1, 2], np.uint8))),
    ("td-params-neg", ValueError, "params", lambda: _td(params=K.TadrosParams(inc=-0.1))),
    ("td-params-scale0", ValueError, "params",
     lambda: _td(params=K.TadrosParams(sigmoid_scale=0.0))),
    ("td-params-type", TypeError, "params", lambda: _td(params=K.STDPParams())),
    # records
    ("fs-float", TypeError, "spikes",
     lambda: ((lambda a: (lambda: K.first_spike(a, backend="cpu"), [a]))(np.ones((2, 3), F32)))),
    ("fs-2", ValueError, "spikes",
     lambda: ((lambda a: (lambda: K.first_spike(a, backend="cpu"), [a]))(
         np.array([[0, 2]], np.uint8)))),
    ("fs-scalar", ValueError, "spikes",
     lambda: ((lambda a: (lambda: K.first_spike(a, backend="cpu"), [a]))(np.array(1, np.uint8)))),
    ("s2e-float", TypeError, "spikes",
     lambda: ((lambda a: (lambda: K.spikes_to_events(a), [a]))(np.ones((2, 3))))),
    ("e2s-steps0", ValueError, "steps",
     lambda: ((lambda t, i: (lambda: K.events_to_spikes(t, i, 0, (3,)), [t, i]))(
         np.zeros(0, np.int64), np.zeros(0, np.int64)))),
    ("e2s-length", ValueError, "(ids|times)",
     lambda: ((lambda t, i: (lambda: K.events_to_spikes(t, i, 2, (3,)), [t, i]))(
         np.zeros(2, np.int64), np.zeros(3, np.int64)))),
    ("e2s-float", TypeError, "times",
     lambda: ((lambda t, i: (lambda: K.events_to_spikes(t, i, 2, (3,)), [t, i]))(
         np.zeros(2), np.zeros(2, np.int64)))),
]


def test_numpy_numbers_are_valid_parameters() -> None:
    currents = _cur()
    expected = K.lif_run(currents, K.LIFParams(refractory=2, beta=0.9), backend="cpu")
    got = K.lif_run(currents, K.LIFParams(refractory=np.int64(2), beta=np.float32(0.9)),
                    backend="cpu")  # fmt: skip
    for a, b in zip((expected[0], *expected[1]), (got[0], *got[1]), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("exc,name,build", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(exc: type, name: str, build: Callable[[], Any]) -> None:
    call, arrays = build()
    copies = [a.copy() for a in arrays]
    with pytest.raises(exc, match=rf"^{name}") as info:
        call()
    assert type(info.value) is exc or issubclass(type(info.value), exc)
    for before, after in zip(copies, arrays, strict=True):
        np.testing.assert_array_equal(after, before)  # NaNs compare equal here
        assert after.dtype == before.dtype


# --------------------------------------------------------------------------------------------
# unknown backend, for every op that takes one
# --------------------------------------------------------------------------------------------
GOOD_CALLS: dict[str, Callable[[str], Any]] = {
    "lif_run": lambda b: K.lif_run(_cur(), K.LIFParams(), backend=b),
    "bernoulli_encode": lambda b: K.bernoulli_encode(np.zeros(3), 2, backend=b),
    "propagate_dense": lambda b: K.propagate_dense(S, W, backend=b),
    "propagate_conv2d": lambda b: K.propagate_conv2d(SC, WC, backend=b),
    "propagate_conv_transpose2d": lambda b: K.propagate_conv_transpose2d(SC, WT, backend=b),
    "kwta_conv": lambda b: K.kwta_conv(POT, FS, 1, 0, backend=b),
    "kwta_dense": lambda b: K.kwta_dense(np.ones(3), np.zeros(3, np.int64), 1, backend=b),
    "stdp_conv": lambda b: K.stdp_conv(SW, SPRE, SPOST, SWIN, 1, 0, K.STDPParams(), backend=b),
    "stdp_dense": lambda b: K.stdp_dense(DW, np.zeros(4, np.int64), np.zeros(2, np.int64),
                                         np.array([0]), K.STDPParams(), backend=b),
    "tadros_dense": lambda b: K.tadros_dense(np.zeros((2, 4)), np.ones(4, np.uint8),
                                             np.ones(2, np.uint8), K.TadrosParams(), backend=b),
    "first_spike": lambda b: K.first_spike(np.ones((2, 3), np.uint8), backend=b),
}


@pytest.mark.parametrize("op", sorted(GOOD_CALLS))
@pytest.mark.parametrize("bad", ["gpu", "CPU", "", "numba"])
def test_unknown_backend(op: str, bad: str) -> None:
    with pytest.raises(ValueError, match=r"^backend:"):
        GOOD_CALLS[op](bad)


@pytest.mark.parametrize("op", sorted(GOOD_CALLS))
def test_good_calls_run_on_cpu_and_auto(op: str) -> None:
    """The calls above are valid, so the failures above are due to the backend alone."""
    a = GOOD_CALLS[op]("cpu")
    b = GOOD_CALLS[op]("auto")
    for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,),
                    strict=True):
        np.testing.assert_array_equal(x, y)

