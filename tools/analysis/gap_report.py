"""Modality-gap report of one checkpoint, with the post-hoc baselines beside it.

    python tools/analysis/gap_report.py CONFIG CHECKPOINT --out DIR [--split test]

Embeds the split once, then scores the model, the model + mean-centering and
the model + Liang et al.'s shift along the gap vector on every embedding
metric (gap keys, joint clustering, retrieval, zero-shot). Writes
``DIR/gap_report.json`` (every number, and the % reduction of each gap key
against the original model), ``DIR/gap_decomposition.png`` and
``DIR/projection.png`` (2-D PCA coloured by modality and by class).
"""
import argparse
import json
import os
import os.path as osp
import sys

import matplotlib

matplotlib.use('Agg')  # headless: the report is written to files only
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from mmengine.runner.checkpoint import load_state_dict  # noqa: E402

import tpc_cma_mm  # noqa: F401,E402  (registers the plugin)
from tpc_cma_mm.evaluation.functional import (GAP_KEYS, build_posthoc,  # noqa: E402
                                              embedding_suite, gap_reduction)
from tpc_cma_mm.registry import MODELS  # noqa: E402
from tpc_cma_mm.utils import safe_torch_load  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Modality-gap report of a checkpoint')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', required=True, help='directory for the JSON and the plots')
    parser.add_argument('--split', default='test', choices=['test', 'val'])
    parser.add_argument('--shift-lambda', type=float, default=0.5,
                        help='lambda of the shift along the gap vector (0.5: meet halfway)')
    parser.add_argument('--clustering-seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--max-plot-points', type=int, default=2000,
                        help='points per modality in the projection plot')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def load_model(cfg: Config, checkpoint: str) -> torch.nn.Module:
    model = MODELS.build(cfg.model)
    state = safe_torch_load(checkpoint)  # weights only: a checkpoint is untrusted
    state = state.get('state_dict', state)
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    load_state_dict(model, state, strict=True)
    return model.eval()


@torch.no_grad()
def embed_split(model, dataloader) -> dict:
    parts = dict(img=[], text=[], labels=[], img_ids=[])
    for batch in dataloader:
        data = model.data_preprocessor(batch, False)
        if 'text_tokens' not in data:
            raise KeyError('The split has no text_tokens: its pipeline needs TokenizeCaption.')
        out = model(data['inputs'], text_tokens=data['text_tokens'], mode='tensor')
        parts['img'].append(out['img_embeds'].cpu())
        parts['text'].append(out['text_embeds'].cpu())
        for sample in data['data_samples']:
            label = sample.get('gt_label')
            parts['labels'].append(int(label[0]) if label is not None else -1)
            parts['img_ids'].append(int(sample.get('img_id', len(parts['img_ids']))))
    return dict(img=torch.cat(parts['img']), text=torch.cat(parts['text']),
                labels=torch.tensor(parts['labels']), img_ids=torch.tensor(parts['img_ids']))


def pca_2d(img: torch.Tensor, text: torch.Tensor):
    """Both modalities projected on the top-2 principal axes of their union."""
    pooled = torch.cat([img, text]).double()
    pooled = pooled - pooled.mean(0)
    _, axes = torch.linalg.eigh(pooled.t() @ pooled)
    projected = pooled @ axes[:, [-1, -2]]
    return projected[:len(img)], projected[len(img):]


def plot_decomposition(variants: dict, path: str) -> None:
    names = list(variants)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    centroid_sq = [variants[n]['gap/centroid']**2 for n in names]
    distribution_sq = [variants[n]['gap/distribution']**2 for n in names]
    left.bar(names, centroid_sq, label='centroid$^2$')
    left.bar(names, distribution_sq, bottom=centroid_sq, label='distribution$^2$')
    left.set_title('raw$^2$ = centroid$^2$ + distribution$^2$')
    left.legend()
    keys = [k for k in GAP_KEYS if k != 'mean_paired_cosine']
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        right.bar([k + i * width for k in range(len(keys))],
                  [variants[name][f'gap/{key}'] for key in keys], width, label=name)
    right.set_xticks([k + 0.4 - width / 2 for k in range(len(keys))], keys)
    right.set_title('every gap key')
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_projection(embeds: dict, transforms: dict, path: str, max_points: int) -> None:
    keep = torch.randperm(len(embeds['img']), generator=torch.Generator().manual_seed(0))
    keep = keep[:max_points]
    fig, axes = plt.subplots(len(transforms), 2, figsize=(10, 4.5 * len(transforms)),
                             squeeze=False)
    for row, (name, transform) in enumerate(transforms.items()):
        img, text = embeds['img'], embeds['text']
        if transform is not None:
            img, text = transform(img, text)
        img_2d, text_2d = pca_2d(img[keep], text[keep])
        by_modality, by_class = axes[row]
        by_modality.scatter(*img_2d.t(), s=4, label='image')
        by_modality.scatter(*text_2d.t(), s=4, marker='x', label='text')
        by_modality.legend()
        labels = embeds['labels'][keep]
        by_class.scatter(*img_2d.t(), s=4, c=labels, cmap='tab10')
        by_class.scatter(*text_2d.t(), s=4, c=labels, cmap='tab10', marker='x')
        by_modality.set_title(f'{name}: PCA by modality')
        by_class.set_title(f'{name}: PCA by class (o image, x text)')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'tpc_cma_mm'))
    model = load_model(cfg, args.checkpoint)
    dataloader = Runner.build_dataloader(cfg[f'{args.split}_dataloader'])
    embeds = embed_split(model, dataloader)
    classes = dataloader.dataset.metainfo.get('classes')
    prototypes = model.class_prototypes().cpu() if model.zero_shot else None
    transforms = {'original': None, 'mean_centering': build_posthoc('MeanCentering'),
                  f'gap_shift_{args.shift_lambda:g}': build_posthoc(
                      dict(type='GapShift', lam=args.shift_lambda))}
    variants = {name: embedding_suite(embeds['img'], embeds['text'], embeds['labels'],
                                      embeds['img_ids'], prototypes, transform,
                                      len(classes) if classes else None,
                                      args.clustering_seeds)
                for name, transform in transforms.items()}
    gaps = lambda metrics: {k[4:]: v for k, v in metrics.items() if k.startswith('gap/')}  # noqa
    report = dict(
        config=args.config, checkpoint=args.checkpoint, split=args.split,
        num_pairs=len(embeds['img']), num_images=int(embeds['img_ids'].unique().numel()),
        variants=variants,
        gap_reduction_pct={name: gap_reduction(gaps(variants['original']), gaps(metrics))
                           for name, metrics in variants.items() if name != 'original'})
    os.makedirs(args.out, exist_ok=True)
    with open(osp.join(args.out, 'gap_report.json'), 'w') as f:
        json.dump(report, f, indent=2)
    plot_decomposition(variants, osp.join(args.out, 'gap_decomposition.png'))
    plot_projection(embeds, {k: transforms[k] for k in ('original', 'mean_centering')},
                    osp.join(args.out, 'projection.png'), args.max_plot_points)
    keys = sorted(variants['original'])
    print(f'{"metric":32s}' + ''.join(f'{name:>18s}' for name in variants))
    for key in keys:
        values = [variants[name].get(key, float('nan')) for name in variants]
        print(f'{key:32s}' + ''.join(f'{value:18.4f}' for value in values))
    print(f'Wrote {osp.join(args.out, "gap_report.json")} and 2 PNG plots.')
    return report


if __name__ == '__main__':
    main(sys.argv[1:])
