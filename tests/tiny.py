"""Shared tiny building blocks (import as `from tiny import ...`); all random-initialised and small."""
import copy

import tpc_cma_mm  # noqa: F401  (registers the plugin)

TINY_CONTEXT = 16
TINY_IMAGE = 16

TINY_MODEL = dict(
    type='DualEncoder',
    vision_backbone=dict(
        type='VisionTransformer',
        arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
        img_size=TINY_IMAGE, patch_size=8, pre_norm=True, final_norm=True,
        out_type='cls_token'),
    projection=dict(type='CLIPProjection', in_channels=32, out_channels=32),
    text_backbone=dict(type='TextTransformer', width=32, layers=2, heads=2),
    proj_dim=32,
    context_length=TINY_CONTEXT,
    data_preprocessor=dict(type='DualEncoderDataPreprocessor', to_rgb=True),
)

TINY_PIPELINE = [
    dict(type='TokenizeCaption', context_length=TINY_CONTEXT),
    dict(type='PackInputs', algorithm_keys=['text', 'text_tokens', 'img_id']),
]


def tiny_model_cfg(**overrides) -> dict:
    """Config of a 2-layer, 32-d DualEncoder on 16x16 images."""
    cfg = copy.deepcopy(TINY_MODEL)
    cfg.update(overrides)
    return cfg


def tiny_dataset_cfg(split: str = 'train', num_samples: int = 64, **overrides) -> dict:
    cfg = dict(type='ShapeCaptions', split=split, num_samples=num_samples, seed=0,
               image_size=TINY_IMAGE, pipeline=copy.deepcopy(TINY_PIPELINE))
    cfg.update(overrides)
    return cfg

