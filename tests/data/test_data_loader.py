"""DataLoader: batching, seeded order, exact resumption, argument errors."""

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygen.data import DataLoader


def _epoch(loader):
    return [b.copy() if isinstance(b, np.ndarray) else b for b in loader]


def test_array_batches_cover_each_example_once():
    x = np.arange(10) * 10
    loader = DataLoader(x, batch_size=4, seed=1)
    assert len(loader) == 3
    batches = list(loader)
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches).tolist()) == x.tolist()
    assert np.concatenate(batches).tolist() != x.tolist()  # shuffled


def test_drop_last():
    loader = DataLoader(np.arange(10), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [len(b) for b in loader] == [4, 4]


def test_tuple_batches_stay_aligned():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10) * 3
    for bx, by in DataLoader((x, y), batch_size=3, seed=5):
        assert isinstance(bx, np.ndarray) and bx.shape[1:] == (2,)
        np.testing.assert_array_equal(bx[:, 0] / 2 * 3, by)


def test_custom_dataset_object():
    class Squares:
        def __len__(self):
            return 7

        def __getitem__(self, index):
            return np.asarray(index) ** 2

    out = np.concatenate(list(DataLoader(Squares(), batch_size=3, shuffle=False)))
    np.testing.assert_array_equal(out, np.arange(7) ** 2)


def test_no_shuffle_is_index_order_every_epoch():
    loader = DataLoader(np.arange(7), batch_size=3, shuffle=False)
    for _ in range(2):
        np.testing.assert_array_equal(np.concatenate(list(loader)), np.arange(7))


def test_order_depends_only_on_seed_and_epoch():
    x = np.arange(50)
    a, b = DataLoader(x, batch_size=8, seed=3), DataLoader(x, batch_size=8, seed=3)
    epochs_a = [np.concatenate(list(a)) for _ in range(3)]
    epochs_b = [np.concatenate(list(b)) for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(epochs_a[0], epochs_a[1])  # a new order each epoch
    fresh = DataLoader(x, batch_size=5, seed=3)  # batch size does not change the order
    np.testing.assert_array_equal(fresh.order(2), epochs_a[2])
    assert not np.array_equal(DataLoader(x, seed=4).order(0), epochs_a[0])


def test_resume_mid_epoch_gives_the_same_batches():
    x, y = np.arange(23), np.arange(23) * -1
    reference = DataLoader((x, y), batch_size=4, seed=11)
    ref_batches = [b for _ in range(3) for b in reference]  # 3 uninterrupted epochs, 6 batches each

    run = DataLoader((x, y), batch_size=4, seed=11)
    seen = list(run)  # epoch 0
    for batch in run:  # half of epoch 1, then "crash"
        seen.append(batch)
        if len(seen) == 9:
            break
    state = json.loads(json.dumps(run.state_dict()))  # checkpoints store plain values
    assert state["epoch"] == 1 and state["position"] == 3

    resumed = DataLoader((x, y), batch_size=4, seed=0)  # the seed comes from the state
    resumed.load_state_dict(state)
    rest = list(resumed) + list(resumed)  # rest of epoch 1, then epoch 2
    assert len(seen) + len(rest) == len(ref_batches) == 18
    for got, want in zip(seen + rest, ref_batches):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_state_saved_at_epoch_end_resumes_with_next_epoch():
    x = np.arange(9)
    a = DataLoader(x, batch_size=4, seed=2)
    list(a)
    b = DataLoader(x, batch_size=4)
    b.load_state_dict(a.state_dict())
    assert b.epoch == a.epoch == 1
    np.testing.assert_array_equal(np.concatenate(list(b)), np.concatenate(list(a)))


def test_broken_loop_is_continued_and_set_epoch_restarts():
    loader = DataLoader(np.arange(12), batch_size=3, seed=0)
    first = next(iter(loader))
    rest = list(loader)
    assert len(rest) == 3
    np.testing.assert_array_equal(np.concatenate([first] + rest), loader.order(0))
    loader.set_epoch(0)
    np.testing.assert_array_equal(np.concatenate(list(loader)), loader.order(0))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), batch_size=st.integers(1, 12), drop_last=st.booleans(), seed=st.integers(0, 2**32))
def test_every_epoch_is_a_permutation(n, batch_size, drop_last, seed):
    if drop_last and batch_size > n:
        return
    loader = DataLoader(np.arange(n), batch_size=batch_size, seed=seed, drop_last=drop_last)
    for _ in range(2):
        batches = list(loader)
        assert len(batches) == len(loader)
        assert all(len(b) == batch_size for b in batches[:-1])
        seen = np.concatenate(batches)
        assert len(set(seen.tolist())) == len(seen)
        assert len(seen) == (n // batch_size * batch_size if drop_last else n)


@pytest.mark.parametrize("bad, error, match", [
    (0, ValueError, ">= 1, got 0"), (-2, ValueError, ">= 1"), (2.5, TypeError, "int"), (True, TypeError, "int"),
])
def test_bad_batch_size(bad, error, match):
    with pytest.raises(error, match=match):
        DataLoader(np.arange(5), batch_size=bad)


def test_mismatched_tuple_lengths_name_both():
    with pytest.raises(ValueError, match=r"dataset\[0\] has 5 .* dataset\[1\] has 4"):
        DataLoader((np.arange(5), np.arange(4)))


@pytest.mark.parametrize("dataset, error, match", [
    ([1, 2, 3], TypeError, "np.asarray"),
    ((), ValueError, "empty tuple"),
    (np.zeros((0, 3)), ValueError, "empty"),
    (42, TypeError, "cannot be indexed"),
])
def test_bad_datasets(dataset, error, match):
    with pytest.raises(error, match=match):
        DataLoader(dataset)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="no batches"):
        DataLoader(np.arange(3), batch_size=4, drop_last=True)
    with pytest.raises(TypeError, match="shuffle"):
        DataLoader(np.arange(3), shuffle="yes")
    with pytest.raises(ValueError, match="seed"):
        DataLoader(np.arange(3), seed=-1)


def test_load_state_dict_rejects_mismatched_loader():
    state = DataLoader(np.arange(10), batch_size=4).state_dict()
    with pytest.raises(ValueError, match="batch_size=4 .* batch_size=5"):
        DataLoader(np.arange(10), batch_size=5).load_state_dict(state)
    with pytest.raises(ValueError, match="num_examples"):
        DataLoader(np.arange(11), batch_size=4).load_state_dict(state)
    with pytest.raises(ValueError, match="lacks position"):
        DataLoader(np.arange(10), batch_size=4).load_state_dict({"seed": 0, "epoch": 0})
    with pytest.raises(ValueError, match="exceeds"):
        DataLoader(np.arange(10), batch_size=4).load_state_dict({"seed": 0, "epoch": 0, "position": 4})
