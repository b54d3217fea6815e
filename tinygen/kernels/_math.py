"""Branch-free scalar math for the Numba kernels, and erf/erfc for the array references.

Numba lowers ``math.exp`` and friends to scalar libm calls, which keep LLVM from vectorising a
loop (this build has no SVML). The helpers below are the Cephes algorithms (S. L. Moshier)
written without data-dependent branches (both sides are computed and one is selected), so a
loop that calls them compiles to SIMD code:

* ``fexp fexpm1 flog1p01 fsoftplus fsigmoid ftanh ferf ferfc``: float64 in and out, a few
  float64 ulps (tests/kernels/test_kernels_math.py checks each against :mod:`math`);
* ``fexpf fexpm1f flog1p01f fsoftplusf fsigmoidf ftanhf ferfcf``: float32 in and out with float32
  constants (Numba keeps the arithmetic in float32), division-free where Cephes is, 1-10
  float32 ulps; the float32 kernels use them.

Numba's on-disk cache does not notice edits to this file by itself; the kernels' cache keys
include its hash (see ``_jit._use_dependency_cache``).

``erf_ref``/``erfc_ref`` are the float64 rational approximations in array form for the
NumPy/CuPy references (NumPy has no erf).
"""
from __future__ import annotations

import math

import numpy

from ._jit import helper

# -- exp --------------------------------------------------------------------------------
LOG2E = 1.4426950408889634073599
_EXP_C1 = 6.93145751953125e-1
_EXP_C2 = 1.42860682030941723212e-6
_EXP_P0, _EXP_P1, _EXP_P2 = 1.26177193074810590878e-4, 3.02994407707441961300e-2, 9.99999999999999999910e-1
_EXP_Q0, _EXP_Q1, _EXP_Q2, _EXP_Q3 = (3.00198505138664455042e-6, 2.52448340349684104192e-3,
                                      2.27265548208155028766e-1, 2.00000000000000000009e0)


@helper
def _pow2(k):
    """2**k for an integer-valued float64 k in [-1022, 1023], by building the bits."""
    return numpy.int64((numpy.int64(k) + 1023) << 52).view(numpy.float64)


@helper
def fexp(x):
    """exp(x): x = k ln2 + r, |r| <= ln2/2; exp(r) = 1 + 2 r P(r²) / (Q(r²) − r P(r²)); times 2**k.

    2**k is applied as two factors 2**(k//2) · 2**(k − k//2) so that results in the subnormal
    range underflow gradually, as libm's do. exp(x) = inf for x > 709.78, 0 for x < −745.2.
    """
    x = min(max(x, -760.0), 760.0)     # NaN passes through (comparisons are false)
    k = numpy.floor(LOG2E * x + 0.5)
    r = x - k * _EXP_C1
    r = r - k * _EXP_C2
    rr = r * r
    px = r * ((_EXP_P0 * rr + _EXP_P1) * rr + _EXP_P2)
    q = ((_EXP_Q0 * rr + _EXP_Q1) * rr + _EXP_Q2) * rr + _EXP_Q3
    e = 1.0 + 2.0 * (px / (q - px))
    k = min(max(k, -1100.0), 1100.0)
    k1 = numpy.floor(k * 0.5)
    return e * _pow2(k1) * _pow2(k - k1)


_EM_P0, _EM_P1, _EM_P2 = 1.2617719307481059087798e-4, 3.0299440770744196129956e-2, 9.9999999999999999991025e-1
_EM_Q0, _EM_Q1, _EM_Q2, _EM_Q3 = (3.0019850513866445504159e-6, 2.5244834034968410419224e-3,
                                  2.2726554820815502876593e-1, 2.0000000000000000000897e0)


@helper
def fexpm1(x):
    """exp(x) − 1: for |x| <= 1/2, r = x P(x²) / (Q(x²) − x P(x²)) and expm1 = 2r; else exp(x) − 1."""
    big = fexp(x) - 1.0
    xs = min(max(x, -0.5), 0.5)
    xx = xs * xs
    r = xs * ((_EM_P0 * xx + _EM_P1) * xx + _EM_P2)
    r = r / ((((_EM_Q0 * xx + _EM_Q1) * xx + _EM_Q2) * xx + _EM_Q3) - r)
    small = r + r
    return small if (x >= -0.5 and x <= 0.5) else big


# -- log1p on [0, 1] -------------------------------------------------------------------
_LG_P = (1.01875663804580931796e-4, 4.97494994976747001425e-1, 4.70579119878881725854e0,
         1.44989225341610930846e1, 1.79368678507819816313e1, 7.70838733755885391666e0)
_LG_Q = (1.12873587189167450590e1, 4.52279145837532221105e1, 8.29875266912776603211e1,
         7.11544750618563894466e1, 2.31251620126765340583e1)
_SQRT2M1 = 0.41421356237309504880


@helper
def flog1p01(e):
    """log(1 + e) for 0 <= e <= 1.

    With f = e (k = 0) when e < √2 − 1, else f = (1 + e)/2 − 1 (k = 1):
    log1p(f) = f − f²/2 + f³ P(f)/Q(f), plus k ln2 (ln2 split in two parts for exactness).
    """
    hi = e >= _SQRT2M1
    f = (1.0 + e) * 0.5 - 1.0 if hi else e
    k = 1.0 if hi else 0.0
    z = f * f
    p = ((((_LG_P[0] * f + _LG_P[1]) * f + _LG_P[2]) * f + _LG_P[3]) * f + _LG_P[4]) * f + _LG_P[5]
    q = ((((f + _LG_Q[0]) * f + _LG_Q[1]) * f + _LG_Q[2]) * f + _LG_Q[3]) * f + _LG_Q[4]
    y = f * (z * p / q)
    y = y - k * 2.121944400546905827679e-4
    y = y - 0.5 * z
    return f + y + k * 0.693359375


@helper
def fsoftplus(t):
    """log(1 + exp(t)) = max(t, 0) + log1p(exp(−|t|))."""
    return max(t, 0.0) + flog1p01(fexp(-abs(t)))


@helper
def fsigmoid(t):
    """1 / (1 + exp(−t)), as 1/(1+e) for t >= 0 and e/(1+e) for t < 0, with e = exp(−|t|)."""
    e = fexp(-abs(t))
    r = 1.0 / (1.0 + e)
    return r if t >= 0.0 else e * r


_TH_P = (-9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3)
_TH_Q = (1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3)


@helper
def ftanh(x):
    """tanh x: for |x| < 0.625, x + x³ P(x²)/Q(x²); else sign(x) (1 − 2/(exp(2|x|) + 1))."""
    a = abs(x)
    big = 1.0 - 2.0 / (fexp(2.0 * a) + 1.0)
    big = big if x >= 0.0 else -big
    xs = min(a, 0.625)
    s = xs * xs
    p = (_TH_P[0] * s + _TH_P[1]) * s + _TH_P[2]
    q = ((s + _TH_Q[0]) * s + _TH_Q[1]) * s + _TH_Q[2]
    small = x + x * s * (p / q)
    return small if a < 0.625 else big


# -- erf / erfc -------------------------------------------------------------------------
_ERF_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
          7.00332514112805075473e3, 5.55923013010394962768e4)
_ERF_U = (3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
          2.26290000613890934246e4, 4.92673942608635921086e4)
_ERFC_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
           4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
           9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)
_ERFC_Q = (1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
           9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
           1.65666309194161350182e3, 5.57535340817727675546e2)
_ERFC_R = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0,
           6.16021097993053585195e0, 7.40974269950448939160e0, 2.97886665372100240670e0)
_ERFC_S = (2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1,
           1.70814450747565897222e1, 9.60896809063285878198e0, 3.36907645100081516050e0)


@helper
def _erf_small(x):
    """erf x for |x| <= 1: x T(x²) / U(x²)."""
    z = x * x
    t = (((_ERF_T[0] * z + _ERF_T[1]) * z + _ERF_T[2]) * z + _ERF_T[3]) * z + _ERF_T[4]
    u = ((((z + _ERF_U[0]) * z + _ERF_U[1]) * z + _ERF_U[2]) * z + _ERF_U[3]) * z + _ERF_U[4]
    return x * t / u


@helper
def _erfc_big(a):
    """erfc |a| for |a| >= 1: exp(−a²) P(|a|)/Q(|a|) (R/S beyond 8); 0 beyond 30 (underflow)."""
    x = min(max(abs(a), 1.0), 30.0)
    P, Q, R, S = _ERFC_P, _ERFC_Q, _ERFC_R, _ERFC_S
    p1 = (((((((P[0] * x + P[1]) * x + P[2]) * x + P[3]) * x + P[4]) * x + P[5]) * x + P[6]) * x
          + P[7]) * x + P[8]
    q1 = (((((((x + Q[0]) * x + Q[1]) * x + Q[2]) * x + Q[3]) * x + Q[4]) * x + Q[5]) * x
          + Q[6]) * x + Q[7]
    p2 = ((((R[0] * x + R[1]) * x + R[2]) * x + R[3]) * x + R[4]) * x + R[5]
    q2 = (((((x + S[0]) * x + S[1]) * x + S[2]) * x + S[3]) * x + S[4]) * x + S[5]
    r = p1 / q1 if x < 8.0 else p2 / q2
    # exp(−x²) as exp(−m²)·exp(−(2 m f + f²)) with m = x rounded to 1/128 (m² is exact), so the
    # rounding of x² does not cost ~x² ulps (Cephes' expx2)
    m = numpy.floor(x * 128.0 + 0.5) * 0.0078125
    f = x - m
    return fexp(-(m * m)) * fexp(-(2.0 * m * f + f * f)) * r


@helper
def ferf(x):
    """erf x = x T(x²)/U(x²) for |x| <= 1, else sign(x) (1 − erfc|x|)."""
    small = _erf_small(min(max(x, -1.0), 1.0))
    big = 1.0 - _erfc_big(x)
    big = big if x >= 0.0 else -big
    return small if abs(x) <= 1.0 else big


@helper
def ferfc(x):
    """erfc x = 1 − erf x for |x| < 1, else exp(−x²) P/Q (and 2 − that for x < 0)."""
    small = 1.0 - _erf_small(min(max(x, -1.0), 1.0))
    big = _erfc_big(x)
    big = big if x >= 0.0 else 2.0 - big
    return small if abs(x) < 1.0 else big


# -- array versions for the references ---------------------------------------------------

def _polevl(xp, x, coefs, leading_one=False):
    acc = x + coefs[0] if leading_one else xp.full_like(x, coefs[0])
    for c in coefs[1:]:
        acc = acc * x + c
    return acc


def _erf_small_ref(xp, x):
    z = x * x
    return x * _polevl(xp, z, _ERF_T) / _polevl(xp, z, _ERF_U, leading_one=True)


def _erfc_big_ref(xp, a):
    x = xp.clip(xp.abs(a), 1.0, 30.0)
    r = xp.where(x < 8.0,
                 _polevl(xp, x, _ERFC_P) / _polevl(xp, x, _ERFC_Q, leading_one=True),
                 _polevl(xp, x, _ERFC_R) / _polevl(xp, x, _ERFC_S, leading_one=True))
    m = xp.floor(x * 128.0 + 0.5) * 0.0078125      # exp(−x²) without the rounding of x²
    f = x - m
    return xp.exp(-(m * m)) * xp.exp(-(2.0 * m * f + f * f)) * r


def erf_ref(x, xp=None):
    """erf on arrays of any device (float64 rational approximations, cast back to x.dtype)."""
    xp = xp or get_xp(x)
    x64 = x.astype(xp.float64)
    small = _erf_small_ref(xp, xp.clip(x64, -1.0, 1.0))
    big = 1.0 - _erfc_big_ref(xp, x64)
    out = xp.where(xp.abs(x64) <= 1.0, small, xp.where(x64 >= 0, big, -big))
    return out.astype(x.dtype)


def erfc_ref(x, xp=None):
    """erfc on arrays of any device (float64 rational approximations, cast back to x.dtype)."""
    xp = xp or get_xp(x)
    x64 = x.astype(xp.float64)
    small = 1.0 - _erf_small_ref(xp, xp.clip(x64, -1.0, 1.0))
    big = _erfc_big_ref(xp, x64)
    out = xp.where(xp.abs(x64) < 1.0, small, xp.where(x64 >= 0, big, 2.0 - big))
    return out.astype(x.dtype)


def get_xp(x):
    from ..backend import get_array_module
    return get_array_module(x)


# -- float32 versions (for float32 kernels where speed matters) --------------------------
# Cephes' single-precision polynomials: no divisions, 16 lanes per AVX-512 register. All
# constants are float32 so that the arithmetic stays float32 in Numba. Accurate to ~2 float32 ulps.
_F = numpy.float32
_LOG2EF = _F(1.44269504088896341)
_EXPF_C1 = _F(0.693359375)
_EXPF_C2 = _F(-2.12194440e-4)
_EXPF_P = tuple(_F(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                                1.6666665459e-1, 5.0000001201e-1))
_LOGF_P = tuple(_F(c) for c in (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
                                1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
                                3.3333331174e-1))


@helper
def _pow2f(k):
    """2**k as float32 for an integer-valued float32 k in [-126, 127]."""
    return numpy.int32((numpy.int32(k) + 127) << 23).view(numpy.float32)


@helper
def fexpf(x):
    """float32 exp: x = k ln2 + r; exp(r) = 1 + r + r² P(r); times 2**k (in two factors)."""
    x = min(max(x, _F(-104.0)), _F(89.0))
    k = numpy.floor(_LOG2EF * x + _F(0.5))
    r = x - k * _EXPF_C1
    r = r - k * _EXPF_C2
    P = _EXPF_P
    p = ((((P[0] * r + P[1]) * r + P[2]) * r + P[3]) * r + P[4]) * r + P[5]
    e = p * (r * r) + r + _F(1.0)
    k1 = numpy.floor(k * _F(0.5))
    return e * _pow2f(k1) * _pow2f(k - k1)


@helper
def flog1p01f(e):
    """float32 log(1 + e) for 0 <= e <= 1: f = e (k = 0) or (1 + e)/2 − 1 (k = 1);
    log1p(f) = f − f²/2 + f³ P(f), plus k ln2."""
    hi = e >= _F(0.41421356)
    f = (_F(1.0) + e) * _F(0.5) - _F(1.0) if hi else e
    k = _F(1.0) if hi else _F(0.0)
    z = f * f
    P = _LOGF_P
    p = (((((((P[0] * f + P[1]) * f + P[2]) * f + P[3]) * f + P[4]) * f + P[5]) * f + P[6]) * f
         + P[7]) * f + P[8]
    y = p * f * z
    y = y + k * _F(-2.12194440e-4)
    y = y - _F(0.5) * z
    return f + y + k * _F(0.693359375)


@helper
def fsigmoidf(t):
    """float32 σ(t) = 1/(1+e) for t >= 0, e/(1+e) for t < 0, with e = exp(−|t|)."""
    e = fexpf(-abs(t))
    r = _F(1.0) / (_F(1.0) + e)
    return r if t >= 0 else e * r


_EM1F_P = tuple(_F(1.0 / math.factorial(k)) for k in range(8, 1, -1))   # 1/8!, ..., 1/2!


@helper
def fexpm1f(x):
    """float32 exp(x) − 1: x + x² (1/2! + x/3! + … + x⁶/8!) for |x| <= 1/2, else exp(x) − 1."""
    big = fexpf(x) - _F(1.0)
    xs = min(max(x, _F(-0.5)), _F(0.5))
    P = _EM1F_P
    p = (((((P[0] * xs + P[1]) * xs + P[2]) * xs + P[3]) * xs + P[4]) * xs + P[5]) * xs + P[6]
    small = xs + xs * xs * p
    return small if (x >= _F(-0.5) and x <= _F(0.5)) else big


@helper
def fsoftplusf(t):
    """float32 log(1 + exp(t)) = max(t, 0) + log1p(exp(−|t|))."""
    return max(t, _F(0.0)) + flog1p01f(fexpf(-abs(t)))


_TANHF_P = tuple(_F(c) for c in (-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2,
                                 1.33314422036e-1, -3.33332819422e-1))


@helper
def ftanhf(x):
    """float32 tanh: x + x³ P(x²) for |x| < 0.625, else sign(x) (1 − 2/(exp(2|x|) + 1))."""
    a = abs(x)
    big = _F(1.0) - _F(2.0) / (fexpf(a + a) + _F(1.0))
    big = big if x >= _F(0.0) else -big
    xs = min(a, _F(0.625))
    s = xs * xs
    P = _TANHF_P
    p = (((P[0] * s + P[1]) * s + P[2]) * s + P[3]) * s + P[4]
    small = x + x * s * p
    return small if a < _F(0.625) else big


_ERFF_T = tuple(_F(c) for c in (7.853861353153693e-5, -8.010193625184903e-4, 5.188327685732524e-3,
                                -2.685381193529856e-2, 1.128358514861418e-1, -3.761262582423300e-1,
                                1.128379165726710e0))
_ERFCF_P = tuple(_F(c) for c in (2.326819970068386e-2, -1.387039388740657e-1, 3.687424674597105e-1,
                                 -5.824733027278666e-1, 6.210004621745983e-1, -4.944515323274145e-1,
                                 3.404879937665872e-1, -2.741127028184656e-1, 5.638259427386472e-1))
_ERFCF_R = tuple(_F(c) for c in (-1.047766399936249e1, 1.297719955372516e1, -7.495518717768503e0,
                                 2.921019019210786e0, -1.015265279202700e0, 4.218463358204948e-1,
                                 -2.820767439740514e-1, 5.641895067754075e-1))


@helper
def ferfcf(x):
    """float32 erfc (Cephes erfcf): 1 − x T(x²) for |x| < 1; else exp(−x²)/|x| · P(1/x²)
    (R beyond 2), and 2 − that for x < 0. exp(−x²) uses the exact-square split."""
    a = min(abs(x), _F(11.0))          # erfc(11) underflows float32
    z = a * a
    T = _ERFF_T
    small = _F(1.0) - x * ((((((T[0] * (x * x) + T[1]) * (x * x) + T[2]) * (x * x) + T[3]) * (x * x)
                                + T[4]) * (x * x) + T[5]) * (x * x) + T[6])
    q = _F(1.0) / max(a, _F(1.0))
    y = q * q
    P = _ERFCF_P
    R = _ERFCF_R
    p1 = (((((((P[0] * y + P[1]) * y + P[2]) * y + P[3]) * y + P[4]) * y + P[5]) * y + P[6]) * y
          + P[7]) * y + P[8]
    p2 = ((((((R[0] * y + R[1]) * y + R[2]) * y + R[3]) * y + R[4]) * y + R[5]) * y + R[6]) * y + R[7]
    m = numpy.floor(a * _F(16.0) + _F(0.5)) * _F(0.0625)
    f = a - m
    e = fexpf(-(m * m)) * fexpf(-((m + m) * f + f * f))
    big = e * q * (p1 if a < _F(2.0) else p2)
    big = big if x >= _F(0.0) else _F(2.0) - big
    return small if abs(x) < _F(1.0) else big
