"""``DataLoader``: reproducible, resumable mini-batches over NumPy arrays.

The order of epoch ``e`` depends only on ``(seed, e)`` (a stable permutation, see ``_random``),
so a run can be replayed exactly, and ``state_dict()`` (seed, epoch, position within the epoch)
is all a checkpoint needs: a loader restored from it yields exactly the batches the original
would have yielded next.

Iteration is a cursor over an endless sequence of epochs: a ``for`` loop that runs to the end
consumes one epoch; a loop left early (``break``, an exception, a checkpoint-and-exit) is
continued by the next ``for`` loop from the next unseen batch of the same epoch. Use one iterator
at a time per loader; ``set_epoch`` jumps to the start of any epoch.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._random import STREAM_LOADER, check_seed, stable_permutation


def _check_bool(value, what: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be True or False, got {value!r}")
    return bool(value)


def _length(obj, what: str) -> int:
    try:
        return len(obj)
    except TypeError:
        raise TypeError(f"{what} has no length ({type(obj).__name__}); give arrays or objects with __len__") from None


class DataLoader:
    """Iterate over ``dataset`` in mini-batches.

    Args:
      dataset: an array (batches are arrays), a tuple of equal-length arrays such as ``(x, y)``
        (batches are tuples), or any object with ``__len__`` and ``__getitem__`` accepting an
        integer index array (batches are whatever it returns).
      batch_size: examples per batch (int >= 1).
      shuffle: visit examples in a fresh seeded order each epoch; otherwise in index order.
      seed: non-negative int; epoch ``e``'s order depends only on ``(seed, e)``.
      drop_last: drop the final batch of an epoch when it is smaller than ``batch_size``.

    ``len(loader)`` is the number of batches per epoch. ``loader.epoch`` is the epoch the next
    batch comes from.
    """

    def __init__(self, dataset, batch_size: int = 64, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
            raise TypeError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.shuffle = _check_bool(shuffle, "shuffle")
        self.drop_last = _check_bool(drop_last, "drop_last")
        self.seed = check_seed(seed)
        self.dataset, self._is_tuple, self._n = self._check_dataset(dataset)
        if self._n == 0:
            raise ValueError("dataset is empty (0 examples); a DataLoader needs at least one")
        if self.drop_last and self._n < self.batch_size:
            raise ValueError(
                f"drop_last=True with batch_size={self.batch_size} larger than the dataset "
                f"({self._n} examples) would give no batches at all; lower batch_size or set drop_last=False"
            )
        self._epoch = 0
        self._position = 0  # batches of the current epoch already handed out

    @staticmethod
    def _check_dataset(dataset):
        if isinstance(dataset, tuple):
            if not dataset:
                raise ValueError("dataset is an empty tuple; give (x,) or (x, y, ...) arrays")
            arrays = tuple(np.asarray(a) if isinstance(a, list) else a for a in dataset)
            lengths = [_length(a, f"dataset[{i}]") for i, a in enumerate(arrays)]
            for i, n in enumerate(lengths[1:], start=1):
                if n != lengths[0]:
                    raise ValueError(
                        f"dataset arrays have different lengths: dataset[0] has {lengths[0]} "
                        f"examples but dataset[{i}] has {n}; all arrays in the tuple must be equally long"
                    )
            return arrays, True, lengths[0]
        if isinstance(dataset, list):
            raise TypeError(
                "dataset is a Python list; pass np.asarray(list) for one array, or a tuple (x, y) "
                "for parallel arrays"
            )
        if not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"dataset ({type(dataset).__name__}) cannot be indexed; give an array, a tuple of "
                f"arrays, or an object with __len__ and __getitem__(index_array)"
            )
        return dataset, False, _length(dataset, "dataset")

    def __len__(self) -> int:
        if self.drop_last:
            return self._n // self.batch_size
        return -(-self._n // self.batch_size)

    @property
    def epoch(self) -> int:
        """The epoch the next batch comes from."""
        return self._epoch + 1 if self._position >= len(self) else self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Jump to the start of ``epoch`` (the next batch is its first)."""
        self._epoch = check_seed(epoch, "epoch")
        self._position = 0

    def order(self, epoch: int) -> np.ndarray:
        """The example order of ``epoch`` (an int64 permutation, or arange without shuffle)."""
        if not self.shuffle:
            return np.arange(self._n, dtype=np.int64)
        return stable_permutation(self._n, self.seed, STREAM_LOADER, check_seed(epoch, "epoch"))

    def _take(self, index: np.ndarray):
        if self._is_tuple:
            return tuple(a[index] for a in self.dataset)
        return self.dataset[index]

    def __iter__(self):
        if self._position >= len(self):  # the previous epoch was finished: start the next
            self._epoch += 1
            self._position = 0
        epoch = self._epoch
        order = self.order(epoch)
        while self._epoch == epoch and self._position < len(self):
            i = self._position
            # Count the batch as consumed before handing it out, so a state_dict() taken
            # while the caller works on it resumes with the *next* batch.
            self._position = i + 1
            yield self._take(order[i * self.batch_size:(i + 1) * self.batch_size])

    def state_dict(self) -> dict:
        """Plain-int state for checkpoints: seed, epoch, position, and the settings it relies on."""
        return {
            "seed": self.seed,
            "epoch": self._epoch,
            "position": self._position,
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "drop_last": self.drop_last,
            "num_examples": self._n,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state`` (from ``state_dict``): the next batch is the one that was due.

        The loader must have the same batch size, shuffle, drop_last and dataset length as the
        one that saved the state, else the batches would differ; a mismatch raises ValueError.
        """
        missing = [k for k in ("seed", "epoch", "position") if k not in state]
        if missing:
            raise ValueError(f"loader state lacks {', '.join(missing)}; pass a dict from DataLoader.state_dict()")
        current = self.state_dict()
        for key in ("batch_size", "shuffle", "drop_last", "num_examples"):
            if key in state and state[key] != current[key]:
                raise ValueError(
                    f"loader state was saved with {key}={state[key]!r} but this loader has "
                    f"{key}={current[key]!r}; the batches would not match, so build the loader the same way"
                )
        seed = check_seed(state["seed"], "state['seed']")
        epoch = check_seed(state["epoch"], "state['epoch']")
        position = check_seed(state["position"], "state['position']")
        if position > len(self):
            raise ValueError(f"state['position']={position} exceeds the {len(self)} batches per epoch")
        self.seed, self._epoch, self._position = seed, epoch, position

    def __repr__(self) -> str:
        return (
            f"DataLoader(num_examples={self._n}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"seed={self.seed}, drop_last={self.drop_last}, epoch={self._epoch}, position={self._position})"
        )
