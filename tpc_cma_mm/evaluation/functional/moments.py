"""Streaming sufficient statistics of paired embeddings, in O(d^2) memory.

Every moment-based gap key (SPEC.md) is a function of a few running sums, so
an evaluation of any size keeps only two ``d x d`` matrices, a handful of
vectors and a bounded subsample for the MMD. Chunks, and the parts held by
different ranks, merge exactly (up to rounding) in any grouping.
"""
from typing import Optional, Tuple

import torch

from .subsample import BottomKSample

__all__ = ['PairedMoments']


class PairedMoments:
    """Running moments of pairs ``(x_i, y_i)``, mergeable across chunks and ranks.

    Holds, in float64: the count; both means; both centred scatter matrices
    ``sum (x - mu)(x - mu)^T``; the centred scatter trace of the paired
    differences ``x_i - y_i`` and the sum of their squared norms; the sum of
    paired cosines; and a seeded uniform subsample of ``max_samples`` pairs
    (:class:`BottomKSample`, for the MMD). Chunks merge with the pairwise
    update of Chan, Golub & LeVeque (1979): each chunk is centred at its own
    mean first, which avoids the cancellation of ``E[xx^T] - mu mu^T``.

    Rows are buffered until ``chunk_rows`` are pending, so small evaluation
    batches still run as large matrix products. Memory: 2 d^2 + O(d) floats,
    plus up to ``2 max_samples`` subsample rows and ``chunk_rows`` buffered rows.

    Args:
        max_samples (int): Size of the retained subsample (0 keeps none).
        seed (int): Seed of the subsample.
        chunk_rows (int): Rows buffered before they are folded in.
    """

    def __init__(self, max_samples: int = 5000, seed: int = 0, chunk_rows: int = 4096):
        self.max_samples, self.seed, self.chunk_rows = int(max_samples), int(seed), int(chunk_rows)
        self.count = 0
        self.mean_img = self.mean_text = None
        self.scatter_img = self.scatter_text = None
        self.diff_scatter_trace = 0.0  # sum_i ||(x_i - y_i) - (mu_x - mu_y)||^2
        self.diff_sq_sum = 0.0  # sum_i ||x_i - y_i||^2
        self.cosine_sum = 0.0
        self.sample = BottomKSample(self.max_samples, self.seed)
        self._pending = []
        self._pending_rows = 0
        self._next_index = 0

    # ------------------------------------------------------------ updating
    def update(self, img: torch.Tensor, text: torch.Tensor,
               indices: Optional[torch.Tensor] = None) -> 'PairedMoments':
        """Add ``(B, d)`` pairs; ``indices`` are their global sample indices
        (default: consecutive, continuing from the previous call)."""
        if img.shape != text.shape or img.dim() != 2:
            raise ValueError('PairedMoments.update needs two (B, d) tensors of one shape, '
                             f'got {tuple(img.shape)} and {tuple(text.shape)}')
        if indices is None:
            indices = torch.arange(self._next_index, self._next_index + len(img))
        if len(img):
            self._next_index = max(self._next_index, int(indices.max()) + 1)
            self._pending.append((img.detach().cpu(), text.detach().cpu(), indices.cpu().long()))
            self._pending_rows += len(img)
            if self._pending_rows >= self.chunk_rows:
                self.flush()
        return self

    def flush(self) -> 'PairedMoments':
        """Fold the buffered rows into the moments."""
        if not self._pending:
            return self
        x_ones, y_ones = (self._float64_with_ones([part[i] for part in self._pending])
                          for i in (0, 1))
        indices = torch.cat([part[2] for part in self._pending])
        self._pending, self._pending_rows = [], 0
        count, dim = x_ones.shape[0], x_ones.shape[1] - 1
        # [X 1]^T [X 1] holds X^T X and the column sums: one product, no extra pass.
        gram_x, gram_y = x_ones.t() @ x_ones, y_ones.t() @ y_ones
        mean_x, mean_y = gram_x[:dim, dim] / count, gram_y[:dim, dim] / count
        chunk = PairedMoments(0, self.seed, self.chunk_rows)
        chunk.count = count
        chunk.mean_img, chunk.mean_text = mean_x, mean_y
        # Within a chunk, X^T X - n mu mu^T loses only a few of float64's digits
        # (L2-normalised rows); across chunks the Chan update keeps it stable.
        chunk.scatter_img = torch.addr(gram_x[:dim, :dim], mean_x, mean_x, alpha=-count)
        chunk.scatter_text = torch.addr(gram_y[:dim, :dim], mean_y, mean_y, alpha=-count)
        # Per-row products over the contiguous [x 1] rows (each includes 1 * 1).
        dot = torch.einsum('ij,ij->i', x_ones, y_ones) - 1
        norm_sq_x = torch.einsum('ij,ij->i', x_ones, x_ones) - 1
        norm_sq_y = torch.einsum('ij,ij->i', y_ones, y_ones) - 1
        chunk.diff_sq_sum = float((norm_sq_x + norm_sq_y - 2 * dot).sum())
        chunk.cosine_sum = float((dot / (norm_sq_x * norm_sq_y).sqrt()).sum())
        # sum ||z - mean z||^2 = sum ||z||^2 - n ||mean z||^2 with z = x - y.
        chunk.diff_scatter_trace = chunk.diff_sq_sum - count * float(
            (mean_x - mean_y).pow(2).sum())
        self.sample.add(x_ones[:, :dim], y_ones[:, :dim], indices)
        return self._merge_moments(chunk)

    @staticmethod
    def _float64_with_ones(parts) -> torch.Tensor:
        """``[X 1]`` in float64: concatenation and conversion in one pass."""
        out = torch.empty(sum(len(p) for p in parts), parts[0].shape[1] + 1, dtype=torch.float64)
        out[:, -1] = 1.0
        start = 0
        for part in parts:
            out[start:start + len(part), :-1].copy_(part)
            start += len(part)
        return out

    def merge(self, other: 'PairedMoments') -> 'PairedMoments':
        """Fold another accumulator (another chunk or rank) into this one."""
        if (other.max_samples, other.seed) != (self.max_samples, self.seed):
            raise ValueError('Cannot merge PairedMoments with different max_samples / seed.')
        self.flush()
        other.flush()
        self._next_index = max(self._next_index, other._next_index)
        self.sample.merge(other.sample)
        return self._merge_moments(other)

    def _merge_moments(self, other: 'PairedMoments') -> 'PairedMoments':
        if other.count == 0:
            return self
        if self.count == 0:
            for name in ('count', 'diff_scatter_trace', 'diff_sq_sum', 'cosine_sum'):
                setattr(self, name, getattr(other, name))
            for name in ('mean_img', 'mean_text', 'scatter_img', 'scatter_text'):
                setattr(self, name, getattr(other, name).clone())  # updated in place later
            return self
        n_a, n_b = self.count, other.count
        total = n_a + n_b
        delta_x = other.mean_img - self.mean_img
        delta_y = other.mean_text - self.mean_text
        weight = n_a * n_b / total
        self.scatter_img.add_(other.scatter_img).addr_(delta_x, delta_x, alpha=weight)
        self.scatter_text.add_(other.scatter_text).addr_(delta_y, delta_y, alpha=weight)
        self.diff_scatter_trace += other.diff_scatter_trace + weight * float(
            (delta_x - delta_y).pow(2).sum())
        self.mean_img = self.mean_img + delta_x * (n_b / total)
        self.mean_text = self.mean_text + delta_y * (n_b / total)
        self.count = total
        self.diff_sq_sum += other.diff_sq_sum
        self.cosine_sum += other.cosine_sum
        return self

    # ------------------------------------------------------------- reading
    def _require_data(self) -> None:
        self.flush()
        if self.count == 0:
            raise ValueError('PairedMoments holds no pairs: the evaluation split is empty.')

    def covariances(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Population covariances (divided by N) of both modalities."""
        self._require_data()
        return self.scatter_img / self.count, self.scatter_text / self.count

    def subsample(self) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(img, text, index)`` of the retained pairs, in priority order (float64)."""
        self._require_data()
        if self.max_samples == 0:
            raise ValueError('PairedMoments(max_samples=0) keeps no subsample.')
        return self.sample.rows()

    def __getstate__(self):
        # Ranks pickle their accumulators to gather them: fold the buffer in first.
        self.flush()
        return self.__dict__.copy()
