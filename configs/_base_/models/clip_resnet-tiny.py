# A tiny CLIP with an mmpretrain ResNet image tower (basic blocks, 16 base channels,
# 3x3 CIFAR stem for 32 px, feature map pooled by the neck) and the tiny text tower of
# clip_vit-tiny-p8.py. Any mmpretrain backbone plugs in the same way:
# backbone -> neck -> projection.
model = dict(
    type='DualEncoder',
    # Built in this plugin's scope by any caller, e.g. mmpretrain.get_model and its tools,
    # which build in the 'mmpretrain' scope (docs/pitfalls.md, "mmpretrain's get_model").
    _scope_='tpc_cma_mm',
    vision_backbone=dict(type='ResNet_CIFAR', depth=18, base_channels=16,
                         stem_channels=16, out_indices=(3, )),
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
