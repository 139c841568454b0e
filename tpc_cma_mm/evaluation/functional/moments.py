"""Streaming sufficient statistics of paired embeddings, in O(d^2) memory.

Every moment-based gap key (docs/spec.md) is a function of a few running sums, so
an evaluation of any size keeps only two ``d x d`` matrices, a handful of
vectors and a bounded subsample for the MMD. Chunks, and the parts held by
different ranks, merge exactly (up to rounding) in any grouping.
"""
from typing import Optional, Tuple

import torch

from .finite import require_finite
from .subsample import BottomKSample

__all__ = ['PairedMoments']


def _centre(rows: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(rows - c, float64 mean, r)``: ``c`` the mean in the rows' dtype, ``r`` the
    float64 mean of the centred rows (rounding-sized), so that mean = c + r."""
    centre = rows.sum(0) / len(rows)
    centred = rows - centre
    residual = centred.sum(0).double() / len(rows)
    return centred, centre.double() + residual, residual


def _row_dots_sum(a: torch.Tensor, b: torch.Tensor) -> float:
    """sum_i <a_i, b_i>: per-row dots in the inputs' dtype, their sum in float64."""
    return float(torch.linalg.vecdot(a, b).sum(dtype=torch.float64))


class PairedMoments:
    """Running moments of pairs ``(x_i, y_i)``, mergeable across chunks and ranks.

    Holds, in float64: the count; both means; both centred scatter matrices
    ``sum (x - mu)(x - mu)^T``; the centred scatter trace of the paired
    differences ``x_i - y_i`` and the sum of their squared norms; the sum of
    paired cosines; and a seeded uniform subsample of ``max_samples`` pairs
    (:class:`BottomKSample`, for the MMD and the centred cosine). Each chunk
    is centred at its own mean before its Gram products (no cancellation of
    ``E[xx^T] - mu mu^T``), and chunks merge with the pairwise update of
    Chan, Golub & LeVeque (1979).

    Rows are buffered until ``chunk_rows`` are pending, so small evaluation
    batches still run as large matrix products. Work: two ``d x d`` Gram
    products per chunk, in float32 for float32 inputs (see
    ``_chunk_moments``). Memory: 2 d^2 + O(d) floats, plus up to
    ``2 max_samples`` subsample rows and ``chunk_rows`` buffered rows.

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
        require_finite('modality gap (PairedMoments)', indices, img=img, text=text)
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
        img, text, indices = (parts[0] if len(parts) == 1 else torch.cat(parts)
                              for parts in zip(*self._pending))
        self._pending, self._pending_rows = [], 0
        self.sample.add(img, text, indices)
        return self._merge_moments(self._chunk_moments(img, text))

    def _chunk_moments(self, img: torch.Tensor, text: torch.Tensor) -> 'PairedMoments':
        """Moments of one chunk: products in the inputs' precision, sums in float64.

        float64 inputs are multiplied in float64; float32 (and half) inputs in
        float32, at about twice the speed. Each chunk is centred at its own
        mean before the Gram products, so nothing cancels and float32 keeps
        its relative precision (every key within 1e-6 of an all-float64
        computation, tested). The centre ``c`` is the mean in the product
        dtype; the mean ``r`` of the centred rows (rounding-sized) is added
        back exactly: mean = c + r, scatter = Xc^T Xc - n r r^T.
        """
        dtype = torch.float64 if torch.float64 in (img.dtype, text.dtype) else torch.float32
        img, text = img.to(dtype), text.to(dtype)
        count = len(img)
        chunk = PairedMoments(0, self.seed, self.chunk_rows)
        chunk.count = count
        img_centred, chunk.mean_img, residual_img = _centre(img)
        text_centred, chunk.mean_text, residual_text = _centre(text)
        chunk.scatter_img = torch.addr((img_centred.t() @ img_centred).double(),
                                       residual_img, residual_img, alpha=-count)
        chunk.scatter_text = torch.addr((text_centred.t() @ text_centred).double(),
                                        residual_text, residual_text, alpha=-count)
        # z = x - y: sum ||z_i - mean z||^2 from the centred rows' difference.
        diff_centred = img_centred - text_centred
        chunk.diff_scatter_trace = _row_dots_sum(diff_centred, diff_centred) - count * float(
            (residual_img - residual_text).pow(2).sum())
        # sum ||x_i - y_i||^2 = sum ||z_i - mean z||^2 + n ||mean z||^2.
        chunk.diff_sq_sum = chunk.diff_scatter_trace + count * float(
            (chunk.mean_img - chunk.mean_text).pow(2).sum())
        norms = (torch.linalg.vecdot(img, img) * torch.linalg.vecdot(text, text)).sqrt()
        chunk.cosine_sum = float((torch.linalg.vecdot(img, text) / norms).sum(dtype=torch.float64))
        return chunk

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
