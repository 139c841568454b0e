# OpenAI CLIP ViT-L/14 (224 px) in mmpretrain's CLIP layout: 24-layer 1024-d image
# tower, 12-layer 768-d text tower, 768-d joint space (~428 M parameters).
# Weights: tools/convert_clip_weights.py (OpenAI / open_clip 'ViT-L-14-quickgelu').
model = dict(
    type='DualEncoder',
    vision_backbone=dict(
        type='VisionTransformer',
        arch='large',
        img_size=224,
        patch_size=14,
        drop_rate=0.,
        norm_cfg=dict(type='LN', eps=1e-5),
        layer_cfgs=dict(act_cfg=dict(type='QuickGELU')),
        pre_norm=True,
        final_norm=True,
        out_type='cls_token'),
    projection=dict(type='CLIPProjection', in_channels=1024, out_channels=768),
    text_backbone=dict(type='TextTransformer', width=768, layers=12, heads=12),
    proj_dim=768,
    context_length=77,
    data_preprocessor=dict(type='DualEncoderDataPreprocessor', to_rgb=True),
)
