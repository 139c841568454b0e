"""A full evaluation here vs LAION's CLIP_benchmark (``clip-benchmark``), side by side.

One network in two implementations (open_clip's weights copied into ours, as
every comparison in benchmarks/ does) and the same in-memory data: a caption set
of ``--images`` images with ``--captions`` captions each and a zero-shot set of
``--zs-images`` images in ``--classes`` classes. Timed in turn every round:

* ``ours, full``: ``apis.embed_split`` of the caption set (each image through the
  tower once), Recall@K both ways, every gap key, and zero-shot (embedding the
  zero-shot images alone, as validation does, prototypes, top-1 / top-5 / mean
  per-class recall);
* ``clip_benchmark``: its ``zeroshot_retrieval.evaluate`` and
  ``zeroshot_classification.evaluate`` on the open_clip model: retrieval and
  zero-shot only (it has no gap keys).

Both start from the same decoded images (ours as BGR uint8 through the data
preprocessor, which it times; clip_benchmark as the floats that preprocessor
gives: RGB, normalised) and the same token ids. The script prints the numbers
both give, and stops if any differs (no ties here), before timing.

CPU:  python -m benchmarks.bench_eval_vs_clip_benchmark --arch tiny --images 100
"""
import argparse

import torch
from mmengine.dataset import pseudo_collate
from clip_benchmark.metrics import zeroshot_classification, zeroshot_retrieval
from mmpretrain.structures import DataSample
from torch.utils.data import DataLoader, TensorDataset

from benchmarks.common import (ARCHS, build_open_clip, build_ours, copy_open_clip_weights,
                               interleaved, load_average, machine, make_batch, set_threads,
                               write_rows)
from tpc_cma_mm.apis import embed_split
from tpc_cma_mm.evaluation.functional import gap_metrics, retrieval_recall, zero_shot_accuracy
from tpc_cma_mm.models import CLIPTokenizer

WORDS = 'red green blue small large bright dark striped dotted plain round sharp'.split()
TEMPLATES = ['a photo of a {}.', 'a drawing of a {}.', 'a picture of the {}.']


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--arch', default='tiny', choices=sorted(ARCHS))
    p.add_argument('--images', type=int, default=100)
    p.add_argument('--captions', type=int, default=5)
    p.add_argument('--zs-images', type=int, default=200)
    p.add_argument('--classes', type=int, default=10)
    p.add_argument('--batch', type=int, default=100)
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--json', default=None)
    return p.parse_args()


def main():
    args = parse_args()
    set_threads(args.threads)
    torch.manual_seed(0)
    theirs = build_open_clip(args.arch).eval()
    ours = build_ours(args.arch).eval()
    copy_open_clip_weights(ours, theirs)
    tokenizer = CLIPTokenizer(context_length=ARCHS[args.arch]['t'][3])
    pre = ours.data_preprocessor

    def decoded(n, seed):
        images, _ = make_batch(args.arch, n, seed=seed)
        raw = (images * 60 + 120).clamp(0, 255).to(torch.uint8)  # BGR, as files load
        return raw, pre(dict(inputs=raw), False)['inputs']  # RGB, normalised

    raw, floats = decoded(args.images, 1)
    captions = [[f'a {WORDS[i % 12]} {WORDS[(i // 12 + j) % 12]} thing {i}, view {j}'
                 for j in range(args.captions)] for i in range(args.images)]
    zs_raw, zs_floats = decoded(args.zs_images, 2)
    labels = torch.arange(args.zs_images) % args.classes
    classes = [f'shape {c}' for c in range(args.classes)]

    items = [dict(inputs=raw[i], data_samples=DataSample(
        text_tokens=tokenizer([caption])[0], img_id=i)) for i in range(args.images)
        for caption in captions[i]]
    zs_items = [dict(inputs=zs_raw[i], data_samples=DataSample(img_id=i))
                for i in range(args.zs_images)]

    def zero_shot_images():
        # a zero-shot set has no captions: images only, as the validation loop embeds it
        out = []
        for start in range(0, args.zs_images, args.batch):
            packed = pre(pseudo_collate(zs_items[start:start + args.batch]), False)
            out.append(ours(packed['inputs'], packed['data_samples'], mode='tensor')['img_embeds'])
        return torch.cat(out)

    def ours_full():
        embeds = embed_split(ours, items, args.batch, progress=False)
        out = retrieval_recall(embeds['img'], embeds['text'], embeds['img_ids'], (1, 5))
        out.update(gap_metrics(embeds['img'], embeds['text']))
        zs = zero_shot_images()
        ours.set_zero_shot(classes, TEMPLATES)
        out.update(zero_shot_accuracy(zs, ours.class_prototypes(), labels, (1, 5)))
        return out

    retrieval_loader = [(floats[i:i + args.batch // args.captions],
                         captions[i:i + args.batch // args.captions])
                        for i in range(0, args.images, args.batch // args.captions)]
    zs_set = TensorDataset(zs_floats, labels)
    zs_set.classes = classes
    their_templates = [t.replace('{}', '{c}') for t in TEMPLATES]

    def clip_benchmark():
        out = zeroshot_retrieval.evaluate(theirs, retrieval_loader, tokenizer, 'cpu',
                                          amp=False, recall_k_list=[1, 5])
        out.update(zeroshot_classification.evaluate(
            theirs, DataLoader(zs_set, batch_size=args.batch), tokenizer, classes,
            their_templates, 'cpu', amp=False))
        return out

    with torch.no_grad():
        mine, got = ours_full(), clip_benchmark()
    pairs = [(mine[m], 100 * got[g], m) for m, g in (
        ('top1', 'acc1'), ('top5', 'acc5'), ('mean_per_class_recall', 'mean_per_class_recall'),
        ('t2i_R1', 'image_retrieval_recall@1'), ('i2t_R1', 'text_retrieval_recall@1'))]
    print('# agreement: ' + ', '.join(f'{m} {a:.2f} vs {b:.2f}' for a, b, m in pairs))
    differing = [m for a, b, m in pairs if abs(a - b) > 1e-6]
    if differing:  # no ties here (distinct captions and prompts): equal or not comparable
        raise RuntimeError(f'The two evaluations disagree on {differing}: they do not see '
                           'the same images or texts, so their times are not comparable.')
    load_before = load_average()
    med = interleaved({'ours, full': torch.no_grad()(ours_full),
                       'clip_benchmark': torch.no_grad()(clip_benchmark)},
                      args.rounds, args.warmup)
    print(f'# before: {load_before}; after: {load_average()}')
    print(f'# arch={args.arch}: {args.images} images x {args.captions} captions, '
          f'{args.zs_images} zero-shot images in {args.classes} classes, batch {args.batch}; '
          f'{machine()}; rounds={args.rounds}')
    print(f'{"contender":<16}{"s":>9}{"ratio vs clip_benchmark":>26}')
    rows = []
    for name in ('clip_benchmark', 'ours, full'):
        ratio = med[name] / med['clip_benchmark']
        print(f'{name:<16}{med[name]:>9.3f}{ratio:>26.3f}')
        rows.append(dict(contender=name, seconds=round(med[name], 3),
                         time_ratio_vs_clip_benchmark=round(ratio, 3)))
    write_rows(args.json, 'evaluation vs clip_benchmark', f'{args.arch}', rows)


if __name__ == '__main__':
    main()
