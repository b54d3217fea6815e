"""tinygen's benchmark suite: ``python -m benchmarks`` (or ``tinygen bench``)."""
