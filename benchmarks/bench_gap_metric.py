"""Time and peak memory of the modality-gap metric against one float64 X.T @ X.

    python -m benchmarks.bench_gap_metric [--n 1000000] [--d 512] [--check-float64]

The floor is the cheapest thing a covariance-based gap measure must do: one
float64 Gram matrix ``X.T @ X`` of the same N x d data. The moments need two
(one per modality); they multiply float32 embeddings in float32, so they may
go below 2 floors. Target: both metric paths at most 2.0 floors, every key
within 1e-6 of the all-float64 computation (``--check-float64`` prints the
largest difference; tests/evaluation/test_gaps.py asserts it at small N).

Two metric paths are timed: ``moments`` (the function API fed in
evaluation-sized batches) and ``metric`` (``ModalityGapMetric.process`` on
per-sample dicts, as mmengine calls it, then ``evaluate``; the time of the
metric's own calls, not of building the dicts the model would hand it). The
floor runs before and after them and the faster of the two is the reference.
Peak memory is the largest rise of the resident set (sampled every 2 ms)
above its level when the step starts, so the inputs are not counted.

A loaded machine distorts the ratios (docs/pitfalls.md, "Timing on a 2-core machine"): the
script prints ``os.getloadavg()`` and the machine's float64 rate for the floor's own product
measured in short bursts (``X.T @ X`` of 16,384 rows, best of 5), and withholds
the ratios when the machine was loaded (``--report-anyway`` prints them,
flagged): when the floor ran far below that rate (load that came and went), or
when the 1-minute load average before or after exceeded the CPU count (load
that slows the bursts as much as the floor, which the first test cannot see).
"""
import argparse
import ctypes
import gc
import os
import threading
import time

import torch
import torch.nn.functional as F

from benchmarks.common import load_average
from tpc_cma_mm.evaluation import ModalityGapMetric
from tpc_cma_mm.evaluation.functional import PairedMoments, gaps_from_moments

PAGE = os.sysconf('SC_PAGE_SIZE')
# The floor must run at no less than this share of the burst matmul rate for
# its time to be a reference (a quiet machine measured 0.8-1.0).
QUIET_SHARE = 0.6


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
    start = time.perf_counter()
    moments = PairedMoments(max_samples=5000, chunk_rows=chunk_rows)
    for row in range(0, len(img), batch):
        moments.update(img[row:row + batch], text[row:row + batch])
    gaps = gaps_from_moments(moments)
    return time.perf_counter() - start, gaps


def float64_reference(img, text, batch, chunk_rows):
    """Every key with float64 products throughout, fed in float64 slices.

    ``gap_metrics`` on whole float64 copies is the direct reference at small N
    (tests/evaluation/test_gaps.py); at 1,000,000 x 512 its copies and centred
    intermediates exceed this machine's 24 GiB next to the inputs.
    """
    moments = PairedMoments(max_samples=5000, chunk_rows=chunk_rows)
    for row in range(0, len(img), batch):
        moments.update(img[row:row + batch].double(), text[row:row + batch].double())
    return gaps_from_moments(moments)


def run_metric(img, text, batch, chunk_rows):
    metric = ModalityGapMetric(chunk_rows=chunk_rows)
    seconds = 0.0
    for row in range(0, len(img), batch):
        samples = [dict(img_embeds=i, text_embeds=t) for i, t in
                   zip(img[row:row + batch].unbind(), text[row:row + batch].unbind())]
        start = time.perf_counter()
        metric.process(None, samples)
        seconds += time.perf_counter() - start
    start = time.perf_counter()
    scores = metric.evaluate(len(img))
    seconds += time.perf_counter() - start
    return seconds, {key.split('/', 1)[1]: value for key, value in scores.items()}


def burst_gram_rate(img, rows: int = 16384, repeats: int = 5) -> float:
    """float64 FLOP/s of the floor's product on a slice, the best of a few short runs."""
    x64 = img[:rows].double()
    best = float('inf')
    for _ in range(repeats):
        start = time.perf_counter()
        x64.t() @ x64
        best = min(best, time.perf_counter() - start)
    return 2 * len(x64) * x64.shape[1]**2 / best


def run_floor(img):
    x64 = img.double()
    start = time.perf_counter()
    x64.t() @ x64
    return time.perf_counter() - start, None


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--n', type=int, default=1_000_000)
    parser.add_argument('--d', type=int, default=512)
    parser.add_argument('--batch', type=int, default=1024, help='rows per evaluation batch')
    parser.add_argument('--chunk-rows', type=int, default=4096)
    parser.add_argument('--threads', type=int, default=None, help='torch threads')
    parser.add_argument('--skip-metric', action='store_true', help='time the moments path only')
    parser.add_argument('--check-float64', action='store_true',
                        help='also compute every key in float64 and print the largest difference')
    parser.add_argument('--report-anyway', action='store_true',
                        help='print the ratios even when the machine was loaded (flagged)')
    return parser.parse_args()


def timed_steps(args, img, text):
    """(name, seconds, peak MiB, gaps) of each step; the floor before and after."""
    steps = [('floor', run_floor, (img, ))]
    steps.append(('gap metric (moments API)', run_moments,
                  (img, text, args.batch, args.chunk_rows)))
    if not args.skip_metric:
        steps.append(('gap metric (ModalityGapMetric)', run_metric,
                      (img, text, args.batch, args.chunk_rows)))
    steps.append(('floor', run_floor, (img, )))
    # Warm-up on a few chunks: the first calls page in library code and pick
    # kernels, which the resident set would otherwise count as the step's memory.
    warm = 2 * args.chunk_rows + 7
    for _, fn, fn_args in steps:
        fn(*(a[:warm] if torch.is_tensor(a) else a for a in fn_args))
    rows = []
    for name, fn, fn_args in steps:
        with PeakRSS() as peak:
            seconds, gaps = fn(*fn_args)
        rows.append((name, seconds, peak.extra_mib, gaps))
    return rows


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    img, text = make_pairs(args.n, args.d)
    print(f'N={args.n} d={args.d} batch={args.batch} chunk_rows={args.chunk_rows} '
          f'threads={torch.get_num_threads()} inputs={2 * img.numel() * 4 / 2**30:.2f} GiB '
          f'float32 (not counted)')
    print(f'before: {load_average()}')
    load = os.getloadavg()[0]
    burst_rate = burst_gram_rate(img)
    rows = timed_steps(args, img, text)
    burst_rate = max(burst_rate, burst_gram_rate(img))
    print(f'after:  {load_average()}')
    load = max(load, os.getloadavg()[0])
    floor_seconds = min(seconds for name, seconds, _, _ in rows if name == 'floor')
    floor_mib = max(mib for name, _, mib, _ in rows if name == 'floor')
    floor_rate = 2 * args.n * args.d**2 / floor_seconds
    share = floor_rate / burst_rate
    quiet = share >= QUIET_SHARE and load <= os.cpu_count()
    print(f'float64 X.T @ X rate: {burst_rate / 1e9:.1f} GFLOP/s in short bursts; the floor '
          f'ran at {floor_rate / 1e9:.1f} GFLOP/s = {share:.2f} of it')
    if share < QUIET_SHARE:
        print(f'!!! LOADED MACHINE: the floor ran at {share:.2f} < {QUIET_SHARE} of the burst '
              'rate; its time is no reference. Rerun on a quiet machine.')
    if load > os.cpu_count():
        print(f'!!! LOADED MACHINE: 1-minute load average {load:.2f} > {os.cpu_count()} CPUs; '
              'no time here is a reference. Rerun on a quiet machine.')
    show_ratios = quiet or args.report_anyway
    flag = '' if quiet else '  (LOADED: not a figure)'
    print(f'{"step":34s}{"seconds":>10s}{"peak MiB":>11s}{"time ratio":>12s}{"mem ratio":>11s}')
    for name, seconds, mib, _ in rows:
        ratio = f'{seconds / floor_seconds:12.2f}' if show_ratios else f'{"withheld":>12s}'
        print(f'{name:34s}{seconds:10.2f}{mib:11.1f}{ratio}{mib / floor_mib:11.3f}'
              f'{flag if show_ratios else ""}')
    print('(target: time ratio <= 2.0 for both metric paths; the floor peak includes its '
          'float64 copy of X, whose conversion is not in the floor time)')
    gaps = rows[1][3]
    print('gaps:', {k: round(v, 4) for k, v in gaps.items()})
    if args.check_float64:
        reference = float64_reference(img, text, args.batch, args.chunk_rows)
        for name, _, _, other in rows:
            if other is not None:
                worst = max(abs(other[k] - reference[k]) for k in reference)
                print(f'{name}: largest |key - float64 key| = {worst:.2e} (target <= 1e-6)')


if __name__ == '__main__':
    main()
