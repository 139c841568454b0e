"""A short TPC-CMA training with validation on fabricated COCO-format data, end to end.

The Runner trains a DualEncoder (the CMA loss under the TPC curriculum) for
``--iters`` iterations on a fabricated Karpathy train split
(``benchmarks/fabricate.py``: JPEG files, ``dataset_coco.json``), then
validates with ``MultiValLoop`` on its val split (retrieval and gap keys, each
image embedded once). It reports the training throughput after the first
iterations, the validation time, and checks that every logged loss is finite.

CPU:  python -m benchmarks.bench_train_validate --arch tiny --iters 4 --batch 8
GPU:  python -m benchmarks.bench_train_validate --arch vit-b16 --iters 50 --batch 128 --amp
"""
import argparse
import math
import tempfile
import time

import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from benchmarks.common import ARCHS, build_ours, load_average, machine, set_threads, write_rows
from benchmarks.fabricate import write_karpathy


class StepTimes(Hook):
    """Wall time of every training iteration and of the validation; the logged losses."""

    def __init__(self, sync):
        self.sync, self.iters, self.losses, self.val_s, self.metrics = sync, [], [], None, {}

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.sync()
        self._start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.sync()
        self.iters.append(time.perf_counter() - self._start)
        self.losses.append({k: float(torch.as_tensor(v).detach()) for k, v in outputs.items()
                            if k.startswith('loss')})

    def before_val(self, runner):
        self.sync()
        self._val_start = time.perf_counter()

    def after_val_epoch(self, runner, metrics=None):
        self.metrics = dict(metrics or {})

    def after_val(self, runner):
        self.sync()
        self.val_s = time.perf_counter() - self._val_start


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--arch', default='tiny', choices=sorted(ARCHS))
    p.add_argument('--iters', type=int, default=50)
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--val-images', type=int, default=100)
    p.add_argument('--captions', type=int, default=5, help='captions per image')
    p.add_argument('--workers', type=int, default=0, help='dataloader workers')
    p.add_argument('--amp', action='store_true', help='bf16 autocast (AutocastOptimWrapper)')
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--json', default=None, help='also write the result rows to this file')
    return p.parse_args()


def loader(root, split, batch, workers, arch, shuffle):
    size, ctx = ARCHS[arch]['v'][4], ARCHS[arch]['t'][3]
    pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(size, size)),
                dict(type='TokenizeCaption', context_length=ctx),
                dict(type='PackInputs', algorithm_keys=['text', 'text_tokens', 'img_id'])]
    return dict(batch_size=batch, num_workers=workers, persistent_workers=workers > 0,
                sampler=dict(type='InfiniteSampler' if shuffle else 'DefaultSampler',
                             shuffle=shuffle),
                dataset=dict(type='CocoKarpathyCaptions', data_root=root, split=split,
                             ann_file='annotations/dataset_coco.json', pipeline=pipeline))


def main():
    args = parse_args()
    dev = set_threads(args.threads)
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
    torch.manual_seed(0)
    model = build_ours(args.arch, cma_loss=dict(type='CMALoss'))
    train_images = max(args.batch // args.captions + 1, 8)
    timer = StepTimes(sync)
    optim = dict(type='AdamW', lr=1e-5, weight_decay=0.1)
    amp = dict(type='AutocastOptimWrapper', dtype='bfloat16') if args.amp else {}
    with tempfile.TemporaryDirectory() as tmp:
        write_karpathy(tmp, splits=('train', ) * train_images + ('val', ) * args.val_images,
                       captions_per_image=args.captions)
        runner = Runner(
            model=model, work_dir=f'{tmp}/work', default_scope='tpc_cma_mm',
            log_level='WARNING', randomness=dict(seed=0),
            train_dataloader=loader(tmp, 'train', args.batch, args.workers, args.arch, True),
            val_dataloader=loader(tmp, 'val', args.batch, args.workers, args.arch, False),
            val_evaluator=[dict(type='CrossModalRetrieval'), dict(type='ModalityGapMetric')],
            optim_wrapper=dict(optimizer=optim, **amp),
            train_cfg=dict(type='IterBasedTrainLoop', max_iters=args.iters,
                           val_interval=args.iters),
            val_cfg=dict(type='MultiValLoop'),
            default_hooks=dict(checkpoint=None, logger=dict(type='LoggerHook', interval=10)),
            custom_hooks=[dict(type='TPCCurriculumHook', alpha_target=0.5,
                               phases=(0.2, 0.4, 0.4), probe_interval=10), timer])
        load_before = load_average()
        runner.train()
    finite = all(math.isfinite(v) for losses in timer.losses for v in losses.values())
    steady = sorted(timer.iters[min(3, len(timer.iters) - 1):])
    step_s = steady[len(steady) // 2]
    pairs = args.val_images * args.captions
    print(f'# before: {load_before}; after: {load_average()}')
    print(f'# TPC-CMA training + validation, arch={args.arch} iters={args.iters} '
          f'batch={args.batch} amp={args.amp} val={args.val_images} images x {args.captions} '
          f'captions; {machine()}')
    print(f'# every logged loss finite: {finite}; last losses {timer.losses[-1]}; '
          f'val keys {len(timer.metrics)}')
    print(f'median step (after the first 3): {step_s * 1e3:.1f} ms, '
          f'{args.batch / step_s:.1f} samples/s; first step {timer.iters[0]:.2f} s; '
          f'training {sum(timer.iters):.1f} s; validation {timer.val_s:.2f} s '
          f'({pairs / timer.val_s:.1f} pairs/s)')
    if not finite or not timer.metrics:
        raise SystemExit('bench_train_validate: a loss was not finite or validation gave no '
                         'metric')
    write_rows(args.json, 'train + validate',
               f'{args.arch} {args.iters} iters batch {args.batch} amp {args.amp}; val '
               f'{args.val_images} images x {args.captions} captions; losses finite',
               [dict(contender='TPC-CMA training', ms_per_step=round(step_s * 1e3, 2),
                     samples_per_s=round(args.batch / step_s, 1)),
                dict(contender='validation (MultiValLoop)',
                     samples_per_s=round(pairs / timer.val_s, 1),
                     validation_s=round(timer.val_s, 2))])


if __name__ == '__main__':
    main()
