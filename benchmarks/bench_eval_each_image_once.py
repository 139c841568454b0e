"""Validation on a COCO-format caption split: each image embedded once vs once per caption.

A fabricated Karpathy split (``benchmarks/fabricate.py``) with ``--captions``
captions per image is validated by ``MultiValLoop`` with retrieval, the gap keys
and a mean-centred gap, twice per round, in turn: as the plugin does now (each
distinct image through the image tower once, ``models/distinct_images.py``)
and as it did before (the model's ``embed`` without the batch's samples, so
every caption row runs the image tower). The script counts the image-tower rows
of each, checks that both give the same metrics, and prints the median time of
a whole validation (data loading, JPEG decoding and metrics included).

CPU:  python -m benchmarks.bench_eval_each_image_once --arch tiny --images 64
GPU:  python -m benchmarks.bench_eval_each_image_once --arch vit-b16 --images 200 --amp
"""
import argparse
import contextlib
import tempfile

import torch
from mmengine.runner import Runner

from benchmarks.common import (ARCHS, build_ours, interleaved, load_average, machine,
                               set_threads, write_rows)
from benchmarks.fabricate import write_karpathy
from tpc_cma_mm.models import DualEncoder


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--arch', default='tiny', choices=sorted(ARCHS))
    p.add_argument('--images', type=int, default=64)
    p.add_argument('--captions', type=int, default=5, help='captions per image')
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--amp', action='store_true', help='bf16 / fp16 autocast (val_cfg.fp16)')
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--json', default=None, help='also write the result rows to this file')
    return p.parse_args()


def build_runner(model, root: str, work_dir: str, arch: str, batch: int, amp: bool) -> Runner:
    size, ctx = ARCHS[arch]['v'][4], ARCHS[arch]['t'][3]
    pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(size, size)),
                dict(type='TokenizeCaption', context_length=ctx),
                dict(type='PackInputs', algorithm_keys=['text', 'text_tokens', 'img_id'])]
    return Runner(
        model=model, work_dir=work_dir, default_scope='tpc_cma_mm', log_level='WARNING',
        val_dataloader=dict(batch_size=batch, num_workers=0,
                            sampler=dict(type='DefaultSampler', shuffle=False),
                            dataset=dict(type='CocoKarpathyCaptions', data_root=root,
                                         ann_file='annotations/dataset_coco.json',
                                         split='val', pipeline=pipeline)),
        val_evaluator=[dict(type='CrossModalRetrieval'), dict(type='ModalityGapMetric'),
                       dict(type='ModalityGapMetric', posthoc=dict(type='MeanCentering'))],
        val_cfg=dict(type='MultiValLoop', fp16=amp))


@contextlib.contextmanager
def per_caption():
    """The forward before images were shared: ``embed`` never sees the samples."""
    embed = DualEncoder.embed
    DualEncoder.embed = lambda self, images=None, text_tokens=None, data_samples=None: embed(
        self, images, text_tokens)
    try:
        yield
    finally:
        DualEncoder.embed = embed


def main():
    args = parse_args()
    dev = set_threads(args.threads)
    torch.manual_seed(0)
    model = build_ours(args.arch).to(dev)
    with tempfile.TemporaryDirectory() as tmp:
        write_karpathy(tmp, splits=('val', ) * args.images, captions_per_image=args.captions)
        runner = build_runner(model, tmp, f'{tmp}/work', args.arch, args.batch, args.amp)
        rows, metrics = {}, {}
        for name, context in (('each image once', contextlib.nullcontext),
                              ('once per caption', per_caption)):
            before = model.distinct_images.rows_embedded
            with context():
                metrics[name] = runner.val()
            rows[name] = model.distinct_images.rows_embedded - before
        worst = max(abs(metrics['each image once'][k] - v)
                    for k, v in metrics['once per caption'].items())

        def validate(context):
            def call():
                with context():
                    runner.val()
            return call

        sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
        load_before = load_average()
        med = interleaved({'each image once': validate(contextlib.nullcontext),
                           'once per caption': validate(per_caption)},
                          args.rounds, args.warmup, sync)
    pairs = args.images * args.captions
    print(f'# before: {load_before}; after: {load_average()}')
    print(f'# validation, arch={args.arch} images={args.images} captions/image={args.captions} '
          f'batch={args.batch} amp={args.amp}; {machine()}; rounds={args.rounds}')
    print(f'# largest metric difference between the two: {worst:.1e}')
    print(f'{"image tower":<18}{"rows":>7}{"val s":>9}{"pairs/s":>10}{"time ratio":>12}')
    out = []
    for name in ('once per caption', 'each image once'):
        ratio = med[name] / med['once per caption']
        print(f'{name:<18}{rows[name]:>7}{med[name]:>9.3f}{pairs / med[name]:>10.1f}'
              f'{ratio:>12.3f}')
        out.append(dict(contender=name, image_tower_rows=rows[name],
                        validation_s=round(med[name], 4),
                        pairs_per_s=round(pairs / med[name], 1),
                        time_ratio_vs_per_caption=round(ratio, 3)))
    write_rows(args.json, 'validation',
               f'{args.arch} {args.images} images x {args.captions} captions, batch '
               f'{args.batch}, amp {args.amp}', out)


if __name__ == '__main__':
    main()
