"""2-process CPU DDP (gloo, torchrun via tools/dist_train.sh) vs 1 process.

Trains the tiny DualEncoder with the CMA loss (constant alpha) on generated
shapes, once in one process with the global batch and once in N processes
with 1/N of it each, and prints both loss curves, their largest difference and
the per-sample step time (mmengine's IterTimerHook ``time`` / global batch,
median over the iterations after the first few). The runs alternate
(1, N, 1, N, ...) so both see the same machine load. Every process has
``--threads`` torch threads (default 1): on a shared, oversubscribed CPU more
threads per process make OpenMP spin and swamp the comparison.

python -m benchmarks.bench_ddp_cpu --iters 30 --repeats 2
"""
import argparse
import glob
import json
import os
import os.path as osp
import socket
import statistics
import subprocess
import sys
from typing import Dict, List

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
MODEL = dict(
    type='DualEncoder',
    vision_backbone=dict(
        type='VisionTransformer',
        arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
        img_size=16, patch_size=8, pre_norm=True, final_norm=True, out_type='cls_token'),
    projection=dict(type='CLIPProjection', in_channels=32, out_channels=32),
    text_backbone=dict(type='TextTransformer', width=32, layers=2, heads=2),
    proj_dim=32, context_length=16, cma_loss=dict(type='CMALoss'), alpha=0.5,
    data_preprocessor=dict(type='DualEncoderDataPreprocessor', to_rgb=True))


def write_config(path: str, global_batch: int, world: int, iters: int,
                 optimizer: str = "dict(type='AdamW', lr=1e-3, weight_decay=0.05)",
                 extra: str = '') -> str:
    """A Runner config whose global batch is the same for any world size;
    ``extra`` is appended (e.g. a FlexibleRunner strategy)."""
    pipeline = [dict(type='TokenizeCaption', context_length=16),
                dict(type='PackInputs', algorithm_keys=['text', 'text_tokens', 'img_id'])]
    dataset = dict(type='ShapeCaptions', split='train', num_samples=256, seed=0,
                   image_size=16, pipeline=pipeline)
    with open(path, 'w') as f:
        f.write(f'''
_base_ = [{osp.join(REPO, 'configs/_base_/default_runtime.py')!r}]
model = {MODEL!r}
train_dataloader = dict(batch_size={global_batch // world}, num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True), dataset={dataset!r})
optim_wrapper = dict(optimizer={optimizer})
train_cfg = dict(type='IterBasedTrainLoop', max_iters={iters})
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval={iters}),
                     logger=dict(type='LoggerHook', interval=1))
log_processor = dict(by_epoch=False, window_size=1)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
''' + extra)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_training(config: str, work_dir: str, world: int, threads: int = 1,
                 timeout: int = 600, extra_args: tuple = ()) -> None:
    """tools/train.py for one process, tools/dist_train.sh for several;
    ``extra_args`` go to tools/train.py (e.g. ``('--resume', )``)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHON=sys.executable,
               PORT=str(_free_port()), PYTHONWARNINGS='ignore')
    if world == 1:
        cmd = [sys.executable, 'tools/train.py', config, '--work-dir', work_dir, *extra_args]
    else:
        cmd = ['bash', 'tools/dist_train.sh', config, str(world), '--work-dir', work_dir,
               *extra_args]
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode:
        raise RuntimeError(f'{" ".join(cmd)} failed:\n{result.stderr[-4000:]}')


def read_scalars(work_dir: str) -> List[Dict[str, float]]:
    """The per-iteration records rank 0 logged (loss, time, ...)."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    with open(files[-1]) as f:
        return [json.loads(line) for line in f if '"loss"' in line]


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--world', type=int, default=2)
    p.add_argument('--batch', type=int, default=64, help='global batch')
    p.add_argument('--iters', type=int, default=30)
    p.add_argument('--repeats', type=int, default=2)
    p.add_argument('--threads', type=int, default=1, help='torch threads per process')
    p.add_argument('--work-dir', default=osp.join(REPO, 'work_dirs', 'bench_ddp_cpu'))
    args = p.parse_args()
    times = {1: [], args.world: []}
    curves = {}
    for r in range(args.repeats):
        for world in (1, args.world):
            wd = osp.join(args.work_dir, f'w{world}_r{r}')
            os.makedirs(wd, exist_ok=True)
            cfg = write_config(osp.join(wd, 'cfg.py'), args.batch, world, args.iters)
            run_training(cfg, wd, world, args.threads)
            records = read_scalars(wd)
            curves[world] = [rec['loss'] for rec in records]
            times[world] += [rec['time'] / args.batch for rec in records[3:]]
    per_sample = {w: statistics.median(t) * 1e3 for w, t in times.items()}
    diff = max(abs(a - b) for a, b in zip(curves[1], curves[args.world]))
    print(f'# CPU DDP (gloo): global batch {args.batch}, {args.iters} iters, '
          f'{args.repeats} alternating repeats, {args.threads} thread(s) per process, '
          f'{os.cpu_count()} CPUs; load average (1 / 5 / 15 min) after: {os.getloadavg()}')
    print(f'{"iter":>5}{"loss 1 proc":>14}{f"loss {args.world} procs":>16}')
    for i in sorted({0, 1, 2, len(curves[1]) // 2, len(curves[1]) - 1}):
        print(f'{i + 1:>5}{curves[1][i]:>14.6f}{curves[args.world][i]:>16.6f}')
    print(f'# max |loss difference| over {len(curves[1])} iterations: {diff:.2e}')
    print(f'# per-sample step time: 1 proc {per_sample[1]:.3f} ms, {args.world} procs '
          f'{per_sample[args.world]:.3f} ms, ratio (1 proc / {args.world} procs) '
          f'{per_sample[1] / per_sample[args.world]:.3f}')


if __name__ == '__main__':
    main()
