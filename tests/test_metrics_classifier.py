"""The digit classifier behind label_accuracy, class_coverage and classifier_frechet.

It is trained once for the module (about 15 s) into a temporary cache directory.
"""
import os

import numpy as np
import pytest

import tinygen as tg
from tinygen.data import load_digits
from tinygen.metrics import classifier as C


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    old = os.environ.get(C.CACHE_ENV)
    os.environ[C.CACHE_ENV] = str(cache)
    C._memory.clear()
    tg.manual_seed(123)
    before = tg.random.get_rng_state()
    ds = load_digits()
    clf = C.digit_classifier(ds)
    after = tg.random.get_rng_state()
    yield ds, clf, cache, before, after
    C._memory.clear()
    if old is None:
        os.environ.pop(C.CACHE_ENV, None)
    else:
        os.environ[C.CACHE_ENV] = old


def test_classifier_is_accurate_and_leaves_global_rng_alone(trained):
    ds, clf, _, before, after = trained
    assert clf.test_accuracy >= 0.97
    assert np.mean(clf.predict(ds.x_test) == ds.y_test) == pytest.approx(clf.test_accuracy)
    assert before == after                     # training drew from its own generator


def test_classifier_is_cached_on_disk_and_reloaded(trained):
    ds, clf, cache, _, _ = trained
    files = [f for f in os.listdir(cache) if f.startswith("classifier-digits-")]
    assert len(files) == 1
    C._memory.clear()
    again = C.digit_classifier(ds)             # from the file, no training
    assert again is not clf
    np.testing.assert_array_equal(again.logits(ds.x_test[:50]), clf.logits(ds.x_test[:50]))
    assert again.test_accuracy == clf.test_accuracy
    assert C.digit_classifier(ds) is again     # and kept in memory
    # another training split is another classifier (another file name)
    assert C._key(load_digits(seed=1)) != C._key(ds)


def test_label_accuracy_class_coverage_and_frechet(trained):
    ds, clf, _, _, _ = trained
    x, y = ds.x_test, ds.y_test
    assert C.label_accuracy(x, y, ds) == pytest.approx(clf.test_accuracy)
    assert C.label_accuracy(x, (y + 1) % 10, ds) < 0.05
    assert C.label_accuracy(x.reshape(len(x), 64), y, ds) == pytest.approx(clf.test_accuracy)  # flat is fine
    assert C.class_coverage(x, ds) == 10
    zeros = x[y == 0]
    assert C.class_coverage(zeros, ds) == 1
    hist = C.class_histogram(x, ds)
    assert hist.shape == (10,) and hist.sum() == pytest.approx(1.0)
    floor = C.classifier_frechet(x, ds)
    noise = np.random.default_rng(0).random((500, 8, 8)).astype(np.float32)
    assert 0 <= floor < 0.2 * C.classifier_frechet(noise, ds)
    assert C.classifier_frechet(zeros, ds) > 3 * floor        # one class only: far from the data
    assert clf.features(x[:7]).shape == (7, clf.hidden[-1])
    with pytest.raises(ValueError):
        C.label_accuracy(x[:5], y[:4], ds)


def test_toy_data_is_rejected():
    with pytest.raises(ValueError, match="labelled image"):
        C.digit_classifier("ring8")
