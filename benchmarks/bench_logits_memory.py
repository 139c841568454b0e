"""Logits memory per rank of the contrastive loss: global vs local (no timings).

    python -m benchmarks.bench_logits_memory [--world-size 8] [--measure-up-to 4096]

With the global loss every rank builds the ``N x N`` logits of the gathered
batch of N = W B rows; with ``ContrastiveLoss(local_loss=True)`` it builds two
``B x N`` matrices (its own rows against every row). *Computed*: the float32
bytes of those logit matrices, for global batches up to 32k. *Measured*: the
peak of the CPU allocations that torch's profiler records over one forward and
backward of the loss on rank 0's inputs (embeddings of width 512 already
gathered; rank and world size are those of rank 0 of W, so the local loss
slices exactly as it would there), for the sizes up to ``--measure-up-to``.
The measured peak also holds the log-softmax outputs and the gradients of the
logits, so it is a small multiple of the computed logits.
"""
import argparse
from contextlib import contextmanager
from unittest import mock

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from benchmarks.common import machine
from tpc_cma_mm.models.losses import ContrastiveLoss
from tpc_cma_mm.models.losses import contrastive

MB = 2**20
GLOBAL_BATCHES = (1024, 2048, 4096, 8192, 16384, 32768)


def computed_bytes(global_batch: int, world: int, local: bool) -> int:
    rows = global_batch // world if local else global_batch
    matrices = 2 if local else 1  # the global loss reuses one matrix, transposed
    return matrices * rows * global_batch * 4


@contextmanager
def as_rank_zero_of(world: int):
    with mock.patch.object(contrastive, 'world_size', lambda: world), \
            mock.patch.object(contrastive, 'rank', lambda: 0):
        yield


def measured_peak(global_batch: int, world: int, local: bool, dim: int = 512) -> int:
    gen = torch.Generator().manual_seed(0)
    img = F.normalize(torch.randn(global_batch, dim, generator=gen), dim=-1)
    txt = F.normalize(torch.randn(global_batch, dim, generator=gen), dim=-1)
    img.requires_grad_(True)
    txt.requires_grad_(True)
    loss_fn = ContrastiveLoss(local_loss=local)
    with as_rank_zero_of(world), profile(activities=[ProfilerActivity.CPU],
                                         profile_memory=True) as prof:
        loss_fn(img, txt, torch.tensor(100.0)).backward()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == '[memory]')
    current = peak = 0
    for _, nbytes in events:
        current += nbytes
        peak = max(peak, current)
    return peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--world-size', type=int, default=8)
    parser.add_argument('--measure-up-to', type=int, default=4096,
                        help='largest global batch measured on this CPU')
    args = parser.parse_args()
    torch.set_num_threads(1)
    world = args.world_size
    print(f'machine: {machine()}')
    print(f'world size W = {world}; float32 logits per rank, MiB')
    print(f'{"global N":>9} {"B/rank":>7} | {"computed global":>15} {"local":>9} | '
          f'{"measured global":>15} {"local":>9}')
    for n in GLOBAL_BATCHES:
        row = (f'{n:>9} {n // world:>7} | {computed_bytes(n, world, False) / MB:>15.1f} '
               f'{computed_bytes(n, world, True) / MB:>9.1f} | ')
        if n <= args.measure_up_to:
            row += (f'{measured_peak(n, world, False) / MB:>15.1f} '
                    f'{measured_peak(n, world, True) / MB:>9.1f}')
        else:
            row += f'{"-":>15} {"-":>9}'
        print(row)


if __name__ == '__main__':
    main()
