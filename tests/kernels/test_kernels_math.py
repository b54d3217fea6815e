"""The branch-free scalar math used by the kernels, against Python's math module."""
import math

import numpy as np
import pytest

from tinygen.kernels import _math as M

from .kutil import needs_numba

SPECIAL = [0.0, -0.0, 1e-300, -1e-300, 1e-8, -1e-8, 0.5, -0.5, 1.0, -1.0, 8.0, -8.0, 30.0,
           -30.0, math.inf, -math.inf]


def _points(lo, hi, n=400, seed=0):
    rng = np.random.default_rng(seed)
    return list(rng.uniform(lo, hi, n)) + [v for v in SPECIAL if lo <= v <= hi or math.isinf(v)]


def _ulps(got, want):
    if math.isnan(want):
        return 0.0 if math.isnan(got) else math.inf
    if math.isinf(want) or want == 0.0:
        return 0.0 if got == want else math.inf
    return abs(got - want) / np.spacing(abs(want))


def _safe(fn):
    def f(x):
        try:
            return fn(x)
        except OverflowError:
            return math.inf
    return f


CASES = [
    ("fexp", _safe(math.exp), (-745.0, 709.0), 2),
    ("fexpm1", _safe(math.expm1), (-40.0, 40.0), 3),
    ("flog1p01", math.log1p, (0.0, 1.0), 2),
    ("ftanh", math.tanh, (-25.0, 25.0), 2),
    ("ferf", math.erf, (-7.0, 7.0), 2),
    ("ferfc", math.erfc, (-7.0, 26.0), 8),       # 1 − erf(x) below 1: erf's error, amplified
    ("fsigmoid", lambda t: 1 / (1 + math.exp(-t)) if t > -700 else math.exp(t), (-700.0, 700.0), 4),
]


@needs_numba
@pytest.mark.parametrize("name, ref, domain, max_ulps", CASES, ids=[c[0] for c in CASES])
def test_helper_matches_math(name, ref, domain, max_ulps):
    f = getattr(M, name).dispatcher()
    for x in _points(*domain):
        if name == "flog1p01" and not 0.0 <= x <= 1.0:
            continue
        got, want = f(float(x)), ref(float(x))
        # below the normal range only an absolute error is meaningful
        if abs(want) < 1e-300:
            assert abs(got - want) < 1e-300, (name, x, got, want)
            continue
        assert _ulps(got, want) <= max_ulps, (name, x, got, want)


@needs_numba
@pytest.mark.parametrize("name", ["fexp", "fexpm1", "ftanh", "ferf", "ferfc", "fsigmoid", "fsoftplus"])
def test_helper_propagates_nan(name):
    assert math.isnan(getattr(M, name).dispatcher()(math.nan))


@needs_numba
def test_exp_underflows_gradually_and_overflows():
    f = M.fexp.dispatcher()
    assert f(-745.0) == math.exp(-745.0) > 0          # smallest subnormal
    assert f(-740.0) == pytest.approx(math.exp(-740.0), rel=1e-12)
    assert f(-746.0) == 0.0
    assert f(710.0) == math.inf


@needs_numba
def test_softplus_helper():
    f = M.fsoftplus.dispatcher()
    for t in [-800.0, -30.0, -1.0, 0.0, 1e-9, 2.0, 30.0, 800.0]:
        want = max(t, 0.0) + math.log1p(math.exp(-abs(t)))
        assert f(t) == pytest.approx(want, rel=4e-16, abs=1e-300)


def test_erf_refs_match_math():
    x = np.array(_points(-9.0, 9.0, 300) + [40.0, -40.0], dtype=np.float64)
    want_erf = np.array([math.erf(v) for v in x])
    want_erfc = np.array([math.erfc(v) for v in x])
    np.testing.assert_allclose(M.erf_ref(x), want_erf, rtol=4e-16, atol=1e-300)
    np.testing.assert_allclose(M.erfc_ref(x), want_erfc, rtol=1e-15, atol=1e-300)
    x32 = x.astype(np.float32)
    assert M.erf_ref(x32).dtype == np.float32
    np.testing.assert_allclose(M.erfc_ref(x32), [math.erfc(v) for v in x32.astype(float)],
                               rtol=1e-7, atol=1e-38)


F32_CASES = [
    ("fexpf", _safe(math.exp), (-87.0, 88.0), 1),
    ("fexpm1f", _safe(math.expm1), (-20.0, 20.0), 2),
    ("flog1p01f", math.log1p, (0.0, 1.0), 2),
    ("ftanhf", math.tanh, (-12.0, 12.0), 2),
    ("fsigmoidf", lambda t: 1 / (1 + math.exp(-t)), (-80.0, 80.0), 3),
    ("fsoftplusf", lambda t: max(t, 0.0) + math.log1p(math.exp(-abs(t))), (-80.0, 80.0), 3),
    ("ferfcf", math.erfc, (-6.0, 9.0), 10),     # 1 − erf(x) below 1 costs a few ulps
]


@needs_numba
@pytest.mark.parametrize("name, ref, domain, max_ulps", F32_CASES, ids=[c[0] for c in F32_CASES])
def test_float32_helper_matches_math(name, ref, domain, max_ulps):
    f = getattr(M, name).dispatcher()
    xs = np.r_[np.linspace(*domain, 1501), np.random.default_rng(1).uniform(*domain, 500),
               [0.0, -0.0, 1e-20, -1e-20]].astype(np.float32)
    for x in xs:
        if name == "flog1p01f" and not 0.0 <= x <= 1.0:
            continue
        got = f(np.float32(x))
        assert type(got) in (float, np.float32)
        want = np.float32(ref(float(x)))
        if abs(want) < 1.2e-38:                       # subnormal results: absolute error only
            assert abs(got) < 1.2e-38, (name, x, got, want)
            continue
        ulps = abs(float(got) - float(want)) / float(np.spacing(np.abs(want)))
        assert ulps <= max_ulps, (name, x, got, want, ulps)


@needs_numba
def test_float32_helpers_special_values():
    inf, nan = np.float32(np.inf), np.float32(np.nan)
    assert M.fexpf.dispatcher()(inf) == np.inf and M.fexpf.dispatcher()(-inf) == 0.0
    assert M.ftanhf.dispatcher()(inf) == 1.0 and M.ftanhf.dispatcher()(-inf) == -1.0
    assert M.ferfcf.dispatcher()(inf) == 0.0 and M.ferfcf.dispatcher()(-inf) == 2.0
    assert M.fsigmoidf.dispatcher()(inf) == 1.0 and M.fsigmoidf.dispatcher()(-inf) == 0.0
    for name in ("fexpf", "fexpm1f", "ftanhf", "ferfcf", "fsigmoidf", "fsoftplusf"):
        assert math.isnan(getattr(M, name).dispatcher()(nan)), name
