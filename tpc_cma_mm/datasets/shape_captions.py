"""A generated captioned-image data set that gives CLIP a real modality gap.

Each 32x32 image shows one shape with a colour, a size and a position. Each
caption mentions a random subset of those attributes: the image/caption
information imbalance that drives the modality gap (Schrodi et al., ICLR 2025).
The class label (for zero-shot and clustering) is the shape.

Images are BGR, the channel order in which mmcv's ``LoadImageFromFile`` reads
files, so that the model's data preprocessor (``to_rgb=True``, as in every
config) gives the model RGB whatever the source: this data set, an image
file, or the inferencer.
"""
import math
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset
from PIL import Image, ImageDraw

from tpc_cma_mm.registry import DATASETS
from .pipeline import build_pipeline

__all__ = ['ShapeCaptions', 'SHAPES', 'COLOURS', 'SIZES', 'POSITIONS']

SHAPES = ('circle', 'square', 'triangle', 'diamond', 'cross', 'star',
          'hexagon', 'ring')
COLOURS = {
    'red': (220, 40, 40), 'green': (40, 180, 60), 'blue': (50, 80, 230),
    'yellow': (235, 215, 50), 'purple': (150, 60, 200),
    'orange': (245, 140, 30), 'white': (235, 235, 235), 'cyan': (40, 210, 220)
}
SIZES = {'small': 0.18, 'medium': 0.27, 'large': 0.36}
POSITIONS = {
    'top left': (0.3, 0.3), 'top right': (0.7, 0.3), 'bottom left': (0.3, 0.7),
    'bottom right': (0.7, 0.7), 'centre': (0.5, 0.5)
}
CAPTION_OPENINGS = ('a photo of', 'a picture of', 'an image of')
SPLIT_OFFSETS = {'train': 0, 'val': 1, 'test': 2}
DEFAULT_KEEP = dict(shape=0.75, colour=0.5, size=0.5, position=0.5)


def _polygon(cx: float, cy: float, radius: float, corners: int,
             rotation: float = 0.0, inner: Optional[float] = None):
    points = []
    steps = corners * (2 if inner else 1)
    for k in range(steps):
        angle = rotation + 2 * math.pi * k / steps
        r = inner if inner and k % 2 else radius
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    return points


def render_shape(shape: str, colour: Sequence[int], radius: float, centre,
                 size: int, rng: np.random.Generator) -> np.ndarray:
    """An RGB ``(size, size, 3)`` uint8 image of one shape on a noisy background."""
    background = rng.integers(0, 40, size=(size, size, 3), dtype=np.uint8)
    img = Image.fromarray(background)
    draw = ImageDraw.Draw(img)
    cx, cy = centre[0] * size, centre[1] * size
    r = radius * size
    box = (cx - r, cy - r, cx + r, cy + r)
    colour = tuple(colour)
    if shape == 'circle':
        draw.ellipse(box, fill=colour)
    elif shape == 'ring':
        draw.ellipse(box, outline=colour, width=max(1, int(r / 2.5)))
    elif shape == 'square':
        draw.rectangle(box, fill=colour)
    elif shape == 'triangle':
        draw.polygon(_polygon(cx, cy, r, 3, -math.pi / 2), fill=colour)
    elif shape == 'diamond':
        draw.polygon(_polygon(cx, cy, r, 4), fill=colour)
    elif shape == 'hexagon':
        draw.polygon(_polygon(cx, cy, r, 6), fill=colour)
    elif shape == 'star':
        draw.polygon(_polygon(cx, cy, r, 5, -math.pi / 2, inner=r * 0.45), fill=colour)
    elif shape == 'cross':
        t = r / 3
        draw.rectangle((cx - r, cy - t, cx + r, cy + t), fill=colour)
        draw.rectangle((cx - t, cy - r, cx + t, cy + r), fill=colour)
    else:
        raise ValueError(f'Unknown shape {shape!r}; choose from {SHAPES}')
    return np.asarray(img)


def compose_caption(attrs: Dict[str, str], keep: Dict[str, bool],
                    opening: str) -> str:
    words = []
    if keep['size']:
        words.append(attrs['size'])
    if keep['colour']:
        words.append(attrs['colour'])
    words.append(attrs['shape'] if keep['shape'] else 'shape')
    caption = f'{opening} a {" ".join(words)}'
    if keep['position']:
        caption += f' in the {attrs["position"]}'
    return caption


@DATASETS.register_module()
class ShapeCaptions(BaseDataset):
    """Procedurally generated captioned shapes, deterministic from a seed.

    Example config::

        train_dataloader = dict(dataset=dict(
            type='ShapeCaptions', split='train', num_samples=10000, seed=0,
            keep_prob=dict(shape=0.75, colour=0.5, size=0.5, position=0.5),
            pipeline=[dict(type='TokenizeCaption', context_length=32),
                      dict(type='PackInputs', algorithm_keys=['text', 'text_tokens'])]))

    Each item: ``img`` (H, W, 3 uint8, BGR as files load), ``text`` (caption), ``gt_label``
    (shape index), ``img_id`` and the attribute names. The train, val and test
    splits are drawn from disjoint random streams of the same seed.

    Args:
        split (str): 'train', 'val' or 'test'.
        num_samples (int): Items in the split.
        seed (int): Seed of the whole data set.
        keep_prob (dict): Probability that the caption names each attribute
            (shape, colour, size, position). Lower values mean less text
            information per image and a larger gap.
        image_size (int): Side of the square images.
        shapes (Sequence[str], optional): Draw only these shapes (a narrower
            distribution, e.g. to fine-tune on some shapes and test zero-shot
            on the others). Labels stay indices into all :data:`SHAPES`, so
            the class list does not change. None (default): every shape.
    """

    METAINFO = dict(classes=SHAPES)

    def __init__(self, split: str = 'train', num_samples: int = 10000,
                 seed: int = 0, keep_prob: Optional[dict] = None,
                 image_size: int = 32, shapes: Optional[Sequence[str]] = None,
                 pipeline: Sequence = (), **kwargs):
        if split not in SPLIT_OFFSETS:
            raise ValueError(f'ShapeCaptions split must be one of '
                             f'{list(SPLIT_OFFSETS)}, got {split!r}')
        if num_samples < 1:
            raise ValueError(f'ShapeCaptions(split={split!r}) is empty: '
                             f'num_samples must be >= 1, got {num_samples}')
        self.keep_prob = dict(DEFAULT_KEEP, **(keep_prob or {}))
        unknown = set(self.keep_prob) - set(DEFAULT_KEEP)
        bad = [k for k, p in self.keep_prob.items() if not 0.0 <= p <= 1.0]
        if unknown or bad:
            raise ValueError(f'ShapeCaptions keep_prob: unknown keys {sorted(unknown)} '
                             f'or probabilities outside [0, 1] for {bad}; '
                             f'valid keys are {list(DEFAULT_KEEP)}')
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 8:
            raise ValueError(f'ShapeCaptions image_size must be an integer >= 8 (pixels '
                             f'per side), got {image_size!r}')
        if shapes is not None and (not shapes or set(shapes) - set(SHAPES)):
            raise ValueError(f'ShapeCaptions shapes must be a non-empty subset of {SHAPES}, '
                             f'got {shapes!r}')
        self.shapes = tuple(SHAPES if shapes is None else shapes)
        self.split, self.num_samples, self.seed = split, num_samples, seed
        self.image_size = image_size
        super().__init__(ann_file='', data_root='', pipeline=build_pipeline(pipeline),
                         serialize_data=False, **kwargs)

    def load_data_list(self) -> List[dict]:
        rng = np.random.default_rng([self.seed, SPLIT_OFFSETS[self.split]])
        colours, sizes, positions = list(COLOURS), list(SIZES), list(POSITIONS)
        data_list = []
        for index in range(self.num_samples):
            # With every shape this is SHAPES[draw]: the default stream is unchanged.
            label = SHAPES.index(self.shapes[rng.integers(len(self.shapes))])
            attrs = dict(shape=SHAPES[label],
                         colour=colours[rng.integers(len(colours))],
                         size=sizes[rng.integers(len(sizes))],
                         position=positions[rng.integers(len(positions))])
            keep = {k: bool(rng.random() < p) for k, p in self.keep_prob.items()}
            opening = CAPTION_OPENINGS[rng.integers(len(CAPTION_OPENINGS))]
            jitter = rng.uniform(-0.05, 0.05, size=2)
            centre = np.asarray(POSITIONS[attrs['position']]) + jitter
            rgb = render_shape(attrs['shape'], COLOURS[attrs['colour']],
                               SIZES[attrs['size']], centre, self.image_size, rng)
            img = np.ascontiguousarray(rgb[..., ::-1])  # BGR (module docstring)
            data_list.append(dict(
                img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2],
                text=compose_caption(attrs, keep, opening), gt_label=label,
                img_id=index, **{f'attr_{k}': v for k, v in attrs.items()}))
        return data_list
