# OpenAI CLIP ViT-L/14 (224 px) in mmpretrain's CLIP layout: 24-layer 1024-d image
# tower, 12-layer 768-d text tower, 768-d joint space (~428 M parameters).
# Weights: tools/convert_clip_weights.py (OpenAI / open_clip 'ViT-L-14-quickgelu').
# Everything else (CLIP's LayerNorm eps, QuickGELU, pooling) as in ViT-B/16.
_base_ = ['./clip_vit-base-p16.py']
model = dict(
    vision_backbone=dict(arch='large', patch_size=14),
    projection=dict(in_channels=1024, out_channels=768),
    text_backbone=dict(width=768, layers=12, heads=12),
    proj_dim=768,
)
