"""Figures of the gap report: the gap decomposition and a 2-D projection."""
from typing import Dict, Optional, Sequence

import torch

from tpc_cma_mm.evaluation.functional.gaps import DISTANCE_KEYS
from ..outputs import figure_bytes
from .style import MARKERS, PALETTE, paper_style, plt

__all__ = ['decomposition_figure', 'pca_2d', 'projection_figure']


def decomposition_figure(variants: Dict[str, dict]) -> bytes:
    """raw² = centroid² + distribution² per variant, and every distance gap key."""
    names = list(variants)
    keys = list(DISTANCE_KEYS)
    with paper_style():
        fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8),
                                          gridspec_kw=dict(width_ratios=[1, 2.4]))
        centroid = [variants[n]['gap/centroid']**2 for n in names]
        distribution = [variants[n]['gap/distribution']**2 for n in names]
        left.bar(names, centroid, color=PALETTE[0], label='centroid²')
        left.bar(names, distribution, bottom=centroid, color=PALETTE[1], label='distribution²')
        left.set_ylabel('squared distance (unit sphere)')
        left.set_title('raw² = centroid² + distribution²')
        left.tick_params(axis='x', rotation=20)
        left.legend()
        width = 0.8 / len(names)
        for i, name in enumerate(names):
            right.bar([k + i * width for k in range(len(keys))],
                      [variants[name][f'gap/{key}'] for key in keys], width, label=name,
                      color=PALETTE[i % len(PALETTE)])
        right.set_xticks([k + 0.4 - width / 2 for k in range(len(keys))], keys, rotation=30)
        right.set_ylabel('gap (distance on the unit sphere;\n*_rel, *_unit: relative)')
        right.set_title('every distance gap key (docs/spec.md)')
        right.legend()
        fig.tight_layout()
        return figure_bytes(fig)


def pca_2d(img: torch.Tensor, text: torch.Tensor):
    """Both modalities projected on the top-2 principal axes of their union."""
    pooled = torch.cat([img, text]).double()
    pooled = pooled - pooled.mean(0)
    _, axes = torch.linalg.eigh(pooled.t() @ pooled)
    projected = pooled @ axes[:, [-1, -2]]
    return projected[:len(img)], projected[len(img):]


def projection_figure(embeds: dict, transforms: dict, classes: Optional[Sequence[str]],
                      max_points: int) -> bytes:
    """PCA of both modalities per transform, coloured by modality and by class."""
    keep = torch.randperm(len(embeds['img']), generator=torch.Generator().manual_seed(0))
    keep = keep[:max_points]
    labels = embeds['labels'][keep]
    with paper_style():
        fig, axes = plt.subplots(len(transforms), 2, figsize=(12, 5 * len(transforms)),
                                 squeeze=False)
        for row, (name, transform) in enumerate(transforms.items()):
            img, text = embeds['img'], embeds['text']
            if transform is not None:
                img, text = transform(img, text)
            img_2d, text_2d = pca_2d(img[keep], text[keep])
            by_modality, by_class = axes[row]
            by_modality.scatter(*img_2d.t(), s=6, color=PALETTE[0], label='image')
            by_modality.scatter(*text_2d.t(), s=10, marker='x', color=PALETTE[3], label='text')
            by_modality.set_title(f'{name}: by modality')
            by_modality.legend(markerscale=2)
            for i, label in enumerate(sorted(set(labels.tolist()))):
                rows = labels == label
                colour, marker = PALETTE[i % len(PALETTE)], MARKERS[i // len(PALETTE) % 8]
                name_of = classes[label] if classes and 0 <= label < len(classes) else \
                    f'label {label}'
                by_class.scatter(*img_2d[rows].t(), s=6, color=colour, marker=marker,
                                 label=name_of)
                by_class.scatter(*text_2d[rows].t(), s=10, color=colour, marker='x')
            by_class.set_title(f'{name}: by class (dots image, x text)')
            by_class.legend(fontsize=8, ncol=2, markerscale=2)
            for ax in (by_modality, by_class):
                ax.set_xlabel('principal component 1')
                ax.set_ylabel('principal component 2')
        fig.tight_layout()
        return figure_bytes(fig)
