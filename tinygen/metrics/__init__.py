"""Sample-quality metrics on plain arrays (NumPy, CuPy or tinygen Tensors).

* :mod:`tinygen.metrics.toy` — 2-D toys: ``mode_coverage`` (modes, high_quality),
  ``fraction_on_manifold``, ``kl_histogram``.
* :mod:`tinygen.metrics.frechet` — ``frechet_distance``, ``PCAFeatures``, ``frechet_pca``
  (the ``frechet`` figure for digits).
* ``tinygen.metrics.classifier`` (label accuracy, class coverage) is added separately.
"""

from .frechet import (PCAFeatures, feature_stats, frechet_distance,
                      frechet_distance_from_stats, frechet_pca)
from .toy import (default_min_count, expected_high_quality, fraction_on_manifold,
                  kl_histogram, mode_coverage)

__all__ = [
    "mode_coverage", "fraction_on_manifold", "kl_histogram", "default_min_count",
    "expected_high_quality",
    "frechet_distance", "frechet_distance_from_stats", "feature_stats", "PCAFeatures",
    "frechet_pca",
]
