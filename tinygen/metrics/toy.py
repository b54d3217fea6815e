"""Sample-quality metrics for the 2-D toy data sets (ring8, grid25, moons, swissroll).

Mixtures of Gaussians (ring8, grid25) use the protocol of the mode-collapse literature:

* a sample is **high quality** if it lies within ``k`` standard deviations (Euclidean distance)
  of its nearest mixture centre, k = 3 in Unrolled GAN (Metz et al., 2017), VEEGAN
  (Srivastava et al., 2017) and PacGAN (Lin et al., 2018);
* a mode is **covered** if enough high-quality samples have it as their nearest centre.
  VEEGAN counts a mode as soon as one sample lands there; PacGAN, stricter, calls a grid25
  mode lost when fewer than 20 of 2,500 samples are registered to it. We use PacGAN's rule,
  written as a share of the count a perfect sampler expects per mode so it carries over to any
  sample size and number of modes: ``min_count = ceil(0.2 · n / len(centers))`` (= 20 for
  2,500 samples on grid25, 63 on ring8). Pass ``min_count=1`` for VEEGAN's count.

Note the 2-D geometry: for an isotropic Gaussian the share of samples within kσ of the centre
is 1 − exp(−k²/2), i.e. 98.89 % for k = 3 (the 1-D "99.7 %" rule does not apply in 2-D).
:func:`expected_high_quality` gives this figure for any dimension.

Continuous toys (moons, swissroll) have no modes; :func:`fraction_on_manifold` measures how
many samples fall near a dense reference set drawn from the true distribution, and
:func:`kl_histogram` compares binned densities.
"""

import math

import numpy as np

from ._util import as_points, nearest

#: PacGAN's threshold (20 of 2,500 samples on 25 modes) as a share of the per-mode expectation.
PACGAN_MODE_FRACTION = 20 / (2500 / 25)


def _same_dim(x, other, name):
    if x.shape[1] != other.shape[1]:
        raise ValueError(f"samples of shape {x.shape} and {name} of shape {other.shape} "
                         f"must have the same number of columns")


def default_min_count(n_samples, n_modes):
    """High-quality samples a mode needs to count as covered: ceil(0.2 · n / K), at least 1."""
    return max(1, math.ceil(PACGAN_MODE_FRACTION * n_samples / n_modes - 1e-9))


def expected_high_quality(k=3.0, dim=2):
    """P(‖x − μ‖ ≤ kσ) for x ~ N(μ, σ²I_dim): the high-quality share of a perfect sampler.

    Uses the regularised lower incomplete gamma function P(dim/2, k²/2), by its series.
    """
    a, x = dim / 2.0, k * k / 2.0
    if x <= 0:
        return 0.0
    term = total = 1.0 / a
    n = 1
    while abs(term) > 1e-17 * abs(total) and n < 10000:
        term *= x / (a + n)
        total += term
        n += 1
    return float(math.exp(-x + a * math.log(x) - math.lgamma(a)) * total)


def mode_coverage(samples, centers, sigma, k=3.0, min_count=None):
    """How many mixture modes a sampler covers, and how good its samples are.

    Args:
        samples: (N, D) generated points.
        centers: (K, D) mixture means (ring8: 8 points on the radius-2 circle; grid25: the
            25 points of {−4, −2, 0, 2, 4}²).
        sigma: the mixture components' standard deviation (ring8 0.02, grid25 0.05).
        k: a sample is high quality if ‖x − nearest centre‖ ≤ k·sigma.
        min_count: high-quality samples a mode needs to be counted; default
            :func:`default_min_count` (PacGAN's 20 per 2,500 on grid25, scaled).

    Returns:
        dict with ``modes`` (int, covered modes), ``high_quality`` (float in [0, 1], share of
        all samples that are high quality), ``per_mode`` (list of K ints, high-quality samples
        registered to each centre), ``min_count`` (the threshold used) and ``n_modes`` (K).
    """
    x = as_points(samples, "samples")
    c = as_points(centers, "centers")
    _same_dim(x, c, "centers")
    if len(c) == 0:
        raise ValueError(f"centers must hold at least one mode, got shape {c.shape}")
    sigma = float(sigma)
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    n = len(x)
    if min_count is None:
        min_count = default_min_count(n, len(c))
    min_count = int(min_count)
    if n == 0:
        return dict(modes=0, high_quality=0.0, per_mode=[0] * len(c), min_count=min_count,
                    n_modes=len(c))
    finite = np.all(np.isfinite(x), axis=1)
    dist, idx = nearest(np.where(finite[:, None], x, 0.0), c)
    good = finite & (dist <= k * sigma)
    per_mode = np.bincount(idx[good], minlength=len(c))
    return dict(
        modes=int(np.sum(per_mode >= min_count)),
        high_quality=float(good.sum() / n),
        per_mode=[int(v) for v in per_mode],
        min_count=min_count,
        n_modes=int(len(c)),
    )


def fraction_on_manifold(samples, reference, radius):
    """Share of samples within ``radius`` of a dense reference set from the true distribution.

    For moons and swissroll, draw e.g. 20,000 reference points from the data distribution
    itself; ``radius`` of about twice the data noise (0.1 for moons at noise 0.05, 0.2 for the
    swiss roll scaled by 1/5 at noise 0.5) makes real held-out data score ≈ 1. Non-finite
    samples count as off the manifold.

    Returns a float in [0, 1].
    """
    x = as_points(samples, "samples")
    ref = as_points(reference, "reference")
    _same_dim(x, ref, "reference")
    if len(ref) == 0:
        raise ValueError(f"reference must not be empty, got shape {ref.shape}")
    if not float(radius) > 0:
        raise ValueError(f"radius must be positive, got {radius}")
    if len(x) == 0:
        return 0.0
    finite = np.all(np.isfinite(x), axis=1)
    dist, _ = nearest(np.where(finite[:, None], x, 0.0), ref)
    return float(np.mean(finite & (dist <= radius)))


def kl_histogram(samples, reference, bins=50, range=None, eps=1e-6):
    """KL(reference ‖ samples) between 2-D histograms, in nats.

    Both sets are binned on the same ``bins`` × ``bins`` grid (``range`` = ((xmin, xmax),
    (ymin, ymax)); default: the reference's extent padded by 5 %); probabilities get ``eps``
    added and are renormalised so empty bins stay finite. This direction punishes a sampler
    that misses mass the reference has (mode dropping) more than one that spreads a little
    mass too wide. Samples outside the range are ignored; 0 means identical histograms.
    """
    x = as_points(samples, "samples", dim=2)
    ref = as_points(reference, "reference", dim=2)
    if len(ref) == 0 or len(x) == 0:
        raise ValueError(f"need non-empty sets, got shapes {x.shape} and {ref.shape}")
    if range is None:
        lo, hi = ref.min(axis=0), ref.max(axis=0)
        pad = 0.05 * np.maximum(hi - lo, 1e-12)
        range = ((lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1]))
    x = x[np.all(np.isfinite(x), axis=1)]
    p, _, _ = np.histogram2d(ref[:, 0], ref[:, 1], bins=bins, range=range)
    q, _, _ = np.histogram2d(x[:, 0], x[:, 1], bins=bins, range=range)
    p = p / max(p.sum(), 1.0) + eps
    q = q / max(q.sum(), 1.0) + eps
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum(p * np.log(p / q)))
