# A tiny CLIP with an mmpretrain ConvNeXt image tower (4 stages, 16-128 channels,
# feature map pooled by the neck) and the tiny text tower of clip_vit-tiny-p8.py.
model = dict(
    type='DualEncoder',
    # Built in this plugin's scope by any caller, e.g. mmpretrain.get_model and its tools,
    # which build in the 'mmpretrain' scope (docs/pitfalls.md, "mmpretrain's get_model").
    _scope_='tpc_cma_mm',
    vision_backbone=dict(type='ConvNeXt',
                         arch=dict(depths=[2, 2, 2, 2], channels=[16, 32, 64, 128]),
                         gap_before_final_norm=False, out_indices=(3, )),
    vision_neck=dict(type='GlobalAveragePooling'),
    projection=dict(type='CLIPProjection', in_channels=128, out_channels=64),
    text_backbone=dict(type='TextTransformer', width=64, layers=4, heads=4),
    proj_dim=64,
    context_length=32,
    logit_scale_init=4.605170185988092,  # ln(100): temperature 0.01
    learnable_logit_scale=False,
    # data sets yield BGR, as image files load (docs/reliability.md, "Channel order")
    data_preprocessor=dict(type='DualEncoderDataPreprocessor', to_rgb=True),
)
