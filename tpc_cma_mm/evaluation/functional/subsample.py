"""A seeded uniform subsample of a stream of pairs, mergeable across ranks."""
from typing import Tuple

import numpy as np
import torch

__all__ = ['BottomKSample', 'subsample_priorities']

_MASK64 = (1 << 64) - 1


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a bijective, well-mixed hash of uint64."""
    z = values.astype(np.uint64, copy=True)
    with np.errstate(over='ignore'):
        z += np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def subsample_priorities(indices: torch.Tensor, seed: int) -> torch.Tensor:
    """A seeded pseudo-random priority for each global sample index.

    Keeping the ``k`` rows of smallest priority is a uniform random subsample
    of size ``k`` that depends only on (seed, index): not on the order rows
    arrive in, nor on how they are split over ranks, so a distributed
    evaluation picks exactly the rows one process would.
    """
    key = _splitmix64(np.array([seed & _MASK64], dtype=np.uint64))[0]
    with np.errstate(over='ignore'):
        mixed = _splitmix64(indices.cpu().numpy().astype(np.uint64) + key)
    # Drop the top bit so the priority fits a signed int64 tensor.
    return torch.from_numpy((mixed >> np.uint64(1)).astype(np.int64))


class BottomKSample:
    """The ``k`` pairs of smallest (priority, index) seen so far, in float64.

    Rows are admitted only while they can still make the final cut (their
    priority is at most the k-th smallest kept at the last compaction), and
    the buffer is compacted back to ``k`` rows whenever it passes ``2k``: over
    N rows only about ``k ln(N / k)`` are ever copied, so the subsample costs
    next to nothing beside the moments.
    """

    def __init__(self, k: int, seed: int):
        self.k, self.seed = int(k), int(seed)
        self._parts = []  # (img, text, index, priority) blocks, not yet compacted
        self._rows = 0
        self._threshold = None  # no row of larger priority can be among the final k

    def add(self, img: torch.Tensor, text: torch.Tensor, indices: torch.Tensor) -> None:
        if self.k == 0 or len(indices) == 0:
            return
        priority = subsample_priorities(indices, self.seed)
        if self._threshold is not None:
            take = priority <= self._threshold
            if not bool(take.any()):
                return
            img, text, indices, priority = img[take], text[take], indices[take], priority[take]
        self._parts.append((img.double(), text.double(), indices.long(), priority))
        self._rows += len(indices)
        if self._rows > 2 * self.k:
            self._compact()

    def merge(self, other: 'BottomKSample') -> None:
        if (other.k, other.seed) != (self.k, self.seed):
            raise ValueError('Cannot merge subsamples with different k / seed.')
        self._parts += other._parts
        self._rows += other._rows
        # Each threshold bounds the union's k-th smallest priority from above.
        bounds = [t for t in (self._threshold, other._threshold) if t is not None]
        self._threshold = min(bounds) if bounds else None
        if self._rows > 2 * self.k:
            self._compact()

    def _compact(self) -> None:
        img, text, index, priority = (torch.cat(block) for block in zip(*self._parts))
        by_index = torch.argsort(index, stable=True)
        order = by_index[torch.argsort(priority[by_index], stable=True)][:self.k]
        self._parts = [(img[order], text[order], index[order], priority[order])]
        self._rows = len(order)
        if self._rows == self.k:
            self._threshold = int(priority[order[-1]])

    def rows(self) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(img, text, index)`` of the kept pairs, in priority order."""
        if not self._parts:
            raise ValueError('The subsample is empty.')
        self._compact()
        return self._parts[0][:3]
