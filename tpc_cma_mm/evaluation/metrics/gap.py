"""Registered modality-gap metric: streams O(d^2) statistics, gathers them across ranks."""
from typing import Dict, Optional, Sequence

import torch
from mmengine.dist import broadcast_object_list, collect_results, get_dist_info, is_main_process

from tpc_cma_mm.registry import METRICS
from ..functional.finite import require_finite
from ..functional.gaps import gap_metrics, gaps_from_moments
from ..functional.moments import PairedMoments
from .embedding_metric import EmbeddingMetric

__all__ = ['ModalityGapMetric']


@METRICS.register_module()
class ModalityGapMetric(EmbeddingMetric):
    """Every modality-gap key of docs/spec.md, plus the mean paired cosine.

    Keys: ``gap/centroid``, ``gap/raw``, ``gap/distribution``, ``gap/bures``,
    ``gap/cov_fro``, ``gap/mmd``, ``gap/mean_paired_cosine`` and the
    spread-invariant ``gap/distribution_rel``, ``gap/centred_corr``,
    ``gap/centred_cosine``, ``gap/bures_unit`` (definitions in
    ``functional/gaps.py``). Without ``posthoc`` the metric keeps only
    streaming sufficient statistics (float64 sums, O(d^2) memory plus the MMD
    subsample), so it scales to millions of pairs; each rank accumulates its
    share, and the per-rank statistics are gathered and merged at the end.
    float32 embeddings are multiplied in float32 (every key within 1e-6 of
    an all-float64 computation), so ranks agree with one process to that
    precision; float64 embeddings are multiplied in float64.

    Example config::

        val_evaluator = [
            dict(type='ModalityGapMetric'),
            dict(type='ModalityGapMetric', posthoc=dict(type='MeanCentering')),
        ]

    Args:
        max_mmd_samples (int): Pairs in the MMD's seeded subsample (0: no MMD).
        seed (int): Seed of that subsample.
        median_points (int): Rows per modality for the MMD's median bandwidth.
        chunk_rows (int): Rows buffered before they are folded into the moments.
        posthoc (dict, optional): A post-hoc fix scored instead of the raw
            embeddings. It needs the split's means before it can transform a
            row, so the metric then keeps all embeddings (O(N d) memory).
        **kwargs: ``collect_device``, ``prefix``, ``collect_dir``.
    """
    default_prefix = 'gap'

    def __init__(self, max_mmd_samples: int = 5000, seed: int = 0, median_points: int = 1000,
                 chunk_rows: int = 4096, posthoc: Optional[dict] = None, **kwargs):
        super().__init__(posthoc=posthoc, **kwargs)
        self.max_mmd_samples, self.seed = max_mmd_samples, seed
        self.median_points, self.chunk_rows = median_points, chunk_rows
        self._reset_stream()

    def _reset_stream(self) -> None:
        self._moments = PairedMoments(self.max_mmd_samples, self.seed, self.chunk_rows)
        self._held = None  # this rank's latest row, which may be sampler padding
        self._rows_seen = 0

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        if self.posthoc is not None:
            return super().process(data_batch, data_samples)
        if not data_samples:
            return None
        for sample in data_samples:
            self._check(sample, type(self).__name__)
        # One stack and one device copy per batch, not per sample.
        img = torch.stack([s['img_embeds'] for s in data_samples]).detach().cpu()
        text = torch.stack([s['text_embeds'] for s in data_samples]).detach().cpu()
        # Global position under mmengine's DefaultSampler: rank r's p-th row is
        # row p * world + r of the split, the order collect_results restores.
        rank, world = get_dist_info()
        positions = (self._rows_seen + torch.arange(len(img))) * world + rank
        # streamed: refused at the first bad batch, rows named by their place in the split
        require_finite(f"{self._where()} on a batch of the split's samples", positions,
                       img=img, text=text)
        self._rows_seen += len(img)
        if self._held is not None:
            self._moments.update(*self._held)
        # The sampler pads the split to a multiple of the world size with at
        # most one extra row per rank, always that rank's last: hold the last
        # row back until evaluate() knows the split's size.
        self._held = (img[-1:], text[-1:], positions[-1:])
        self._moments.update(img[:-1], text[:-1], positions[:-1])

    def evaluate(self, size: int) -> dict:
        if self.posthoc is not None:
            return super().evaluate(size)
        if self._held is not None and int(self._held[2]) < size:
            self._moments.update(*self._held)
        self._moments.flush()
        _, world = get_dist_info()
        if self.collect_device == 'cpu':
            parts = collect_results([self._moments], world, 'cpu', tmpdir=self.collect_dir)
        else:
            parts = collect_results([self._moments], world, self.collect_device)
        self._reset_stream()
        self.results.clear()
        metrics = [None]
        if is_main_process():
            merged = PairedMoments(self.max_mmd_samples, self.seed, self.chunk_rows)
            for part in parts:
                merged.merge(part)
            if merged.count == 0:
                raise ValueError('ModalityGapMetric: the evaluation split is empty.')
            gaps = gaps_from_moments(merged, self.median_points)
            metrics = [{f'{self.prefix}/{k}': v for k, v in gaps.items()}]
        broadcast_object_list(metrics)
        return metrics[0]

    def compute_embedding_metrics(self, img, text, img_ids, labels) -> Dict[str, float]:
        # The post-hoc path: all rows were collected in split order.
        return gap_metrics(img, text, self.max_mmd_samples, self.seed, self.median_points)
