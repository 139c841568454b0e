# configs/clip/clip_vit-tiny-p8_1xb256-1k_shapes-pretrain.py as an mmengine new-style
# (pure Python, read_base) config: the bases are imported as modules, so only those
# with importable names are; the model base (a hyphenated file name) is written out.
#   python tools/train.py configs/new_style/clip_vit-tiny-p8_1xb256-1k_shapes-pretrain.py
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.shape_captions import *  # noqa: F401,F403
    from .._base_.default_runtime import *  # noqa: F401,F403
    from .._base_.schedules.shapes_pretrain_1k import *  # noqa: F401,F403

model = dict(
    type='DualEncoder',
    _scope_='tpc_cma_mm',  # built in this plugin's scope by any caller
    vision_backbone=dict(
        type='VisionTransformer',
        arch=dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=256),
        img_size=32, patch_size=8, pre_norm=True, final_norm=True, out_type='cls_token'),
    projection=dict(type='CLIPProjection', in_channels=64, out_channels=64),
    text_backbone=dict(type='TextTransformer', width=64, layers=4, heads=4),
    proj_dim=64,
    context_length=32,
    logit_scale_init=4.605170185988092,  # ln(100): temperature 0.01
    learnable_logit_scale=False,
    # data sets yield BGR, as image files load (docs/reliability.md, "Channel order")
    data_preprocessor=dict(type='DualEncoderDataPreprocessor', to_rgb=True),
    zero_shot=zero_shot,  # noqa: F405  (from the data set base)
)
