# OpenAI CLIP ViT-B/16 in mmpretrain's CLIP layout (what
# tools/convert_clip_weights.py and mmpretrain's own converter produce).
model = dict(
    type='DualEncoder',
    # Built in this plugin's scope by any caller, e.g. mmpretrain.get_model and its tools,
    # which build in the 'mmpretrain' scope (docs/pitfalls.md, "mmpretrain's get_model").
    _scope_='tpc_cma_mm',
    vision_backbone=dict(
        type='VisionTransformer',
        arch='base',
        img_size=224,
        patch_size=16,
        drop_rate=0.,
        norm_cfg=dict(type='LN', eps=1e-5),  # CLIP's eps (mmpretrain's ViT: 1e-6)
        layer_cfgs=dict(act_cfg=dict(type='QuickGELU')),
        pre_norm=True,
        final_norm=True,
        out_type='cls_token'),
    projection=dict(type='CLIPProjection', in_channels=768, out_channels=512),
    text_backbone=dict(type='TextTransformer', width=512, layers=12, heads=8),
    proj_dim=512,
    context_length=77,
    data_preprocessor=dict(type='DualEncoderDataPreprocessor', to_rgb=True),
)
