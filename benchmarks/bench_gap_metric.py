"""Time and peak memory of the modality-gap metric against one float64 X.T @ X.

    python benchmarks/bench_gap_metric.py [--n 1000000] [--d 512]

The floor is the cheapest thing any covariance-based gap measure must do: one
float64 Gram matrix ``X.T @ X`` of the same N x d data (the metric needs two,
one per modality, plus the MMD on a 5,000-pair subsample). Both run in this
process on the same data; peak memory is the largest rise of the resident set
(sampled every 2 ms) above its level when the step starts, so the input
embeddings themselves are not counted for either. Two metric paths are timed:
``moments`` (the function API fed in evaluation-sized batches) and ``metric``
(``ModalityGapMetric.process`` on per-sample dicts, as mmengine calls it, then
``evaluate``). Target: both ratios <= 3.
"""
import argparse
import ctypes
import gc
import os
import threading
import time

import torch
import torch.nn.functional as F

from tpc_cma_mm.evaluation import ModalityGapMetric
from tpc_cma_mm.evaluation.functional import PairedMoments, gaps_from_moments

PAGE = os.sysconf('SC_PAGE_SIZE')


def rss_bytes() -> int:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * PAGE


class PeakRSS:
    """Largest resident-set rise above the level at entry, sampled in a thread."""

    def __enter__(self):
        gc.collect()
        try:  # hand freed heap back to the OS so the baseline is honest
            ctypes.CDLL('libc.so.6').malloc_trim(0)
        except OSError:
            pass
        self.base = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self.start = time.perf_counter()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(0.002)

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())
        self.extra_mib = (self.peak - self.base) / 2**20


def make_pairs(n: int, d: int, seed: int = 0):
    """Normalised float32 pairs with a gap, generated in slices to bound memory."""
    gen = torch.Generator().manual_seed(seed)
    offset = torch.zeros(d)
    offset[0] = 1.5
    img, text = torch.empty(n, d), torch.empty(n, d)
    for start in range(0, n, 65536):
        stop = min(n, start + 65536)
        x = F.normalize(torch.randn(stop - start, d, generator=gen) + offset, dim=1)
        noise = torch.randn(stop - start, d, generator=gen)
        img[start:stop] = x
        text[start:stop] = F.normalize(x + noise - offset, dim=1)
    return img, text


def run_moments(img, text, batch, chunk_rows):
    moments = PairedMoments(max_samples=5000, chunk_rows=chunk_rows)
    for start in range(0, len(img), batch):
        moments.update(img[start:start + batch], text[start:start + batch])
    return gaps_from_moments(moments)


def run_metric(img, text, batch, chunk_rows):
    metric = ModalityGapMetric(chunk_rows=chunk_rows)
    for start in range(0, len(img), batch):
        metric.process(None, [dict(img_embeds=i, text_embeds=t) for i, t in
                              zip(img[start:start + batch], text[start:start + batch])])
    return metric.evaluate(len(img))


def run_floor(img):
    x64 = img.double()
    start = time.perf_counter()
    gram = x64.t() @ x64
    return time.perf_counter() - start, gram


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--n', type=int, default=1_000_000)
    parser.add_argument('--d', type=int, default=512)
    parser.add_argument('--batch', type=int, default=1024, help='rows per evaluation batch')
    parser.add_argument('--chunk-rows', type=int, default=4096)
    parser.add_argument('--threads', type=int, default=None, help='torch threads')
    parser.add_argument('--skip-metric', action='store_true', help='time the moments path only')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    img, text = make_pairs(args.n, args.d)
    print(f'N={args.n} d={args.d} batch={args.batch} chunk_rows={args.chunk_rows} '
          f'threads={torch.get_num_threads()} cpus={os.cpu_count()} '
          f'inputs={2 * img.numel() * 4 / 2**30:.2f} GiB float32 (not counted)')

    with PeakRSS() as floor:
        matmul_seconds, _ = run_floor(img)
    rows = [('floor: float64 X.T @ X', matmul_seconds, floor.extra_mib, None)]
    with PeakRSS() as moments:
        gaps = run_moments(img, text, args.batch, args.chunk_rows)
    rows.append(('gap metric (moments API)', moments.seconds, moments.extra_mib, gaps))
    if not args.skip_metric:
        with PeakRSS() as metric:
            metric_gaps = run_metric(img, text, args.batch, args.chunk_rows)
        rows.append(('gap metric (ModalityGapMetric)', metric.seconds, metric.extra_mib,
                     metric_gaps))

    print(f'{"step":34s}{"seconds":>10s}{"peak MiB":>11s}{"time ratio":>12s}{"mem ratio":>11s}')
    for name, seconds, mib, _ in rows:
        print(f'{name:34s}{seconds:10.2f}{mib:11.1f}{seconds / matmul_seconds:12.2f}'
              f'{mib / floor.extra_mib:11.3f}')
    print(f'(floor peak includes the float64 copy of X; X.double() took '
          f'{floor.seconds - matmul_seconds:.2f} s, not in the floor time)')
    print('gaps:', {k: round(v, 4) for k, v in gaps.items()})


if __name__ == '__main__':
    main()
