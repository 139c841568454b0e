# A tiny CLIP for 32x32 generated images: 4-layer ViT (patch 8) and 4-layer
# text transformer, 64-d embeddings. Fixed low temperature (0.01), which gives
# a CLIP-sized modality gap on the generated captions (docs/results.md).
model = dict(
    type='DualEncoder',
    # Built in this plugin's scope by any caller, e.g. mmpretrain.get_model and its tools,
    # which build in the 'mmpretrain' scope (docs/pitfalls.md, "mmpretrain's get_model").
    _scope_='tpc_cma_mm',
    vision_backbone=dict(
        type='VisionTransformer',
        arch=dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=256),
        img_size=32,
        patch_size=8,
        pre_norm=True,
        final_norm=True,
        out_type='cls_token'),
    projection=dict(type='CLIPProjection', in_channels=64, out_channels=64),
    text_backbone=dict(type='TextTransformer', width=64, layers=4, heads=4),
    proj_dim=64,
    context_length=32,
    logit_scale_init=4.605170185988092,  # ln(100): temperature 0.01
    learnable_logit_scale=False,
    # data sets yield BGR, as image files load (docs/reliability.md, "Channel order")
    data_preprocessor=dict(type='DualEncoderDataPreprocessor', to_rgb=True),
)
