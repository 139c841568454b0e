"""A small ViT CLIP in OpenAI's sizes and its DualEncoder config (shared by the
conversion and export tests; import as ``from clip_small import ...``)."""
import copy

import torch

# A 2-layer CLIP: 128-d image tower, 64-d text tower, heads of 64 (OpenAI's build_model
# infers width // 64 heads).
SMALL = dict(embed_dim=32, image_resolution=32, vision_layers=2, vision_width=128,
             vision_patch_size=16, context_length=77, vocab_size=49408,
             transformer_width=64, transformer_heads=1, transformer_layers=2)
SMALL_CFG = dict(
    type='DualEncoder',
    vision_backbone=dict(
        type='VisionTransformer',
        arch=dict(embed_dims=128, num_layers=2, num_heads=2, feedforward_channels=512),
        img_size=32, patch_size=16, pre_norm=True, final_norm=True, out_type='cls_token',
        norm_cfg=dict(type='LN', eps=1e-5),
        layer_cfgs=dict(act_cfg=dict(type='QuickGELU'))),
    projection=dict(type='CLIPProjection', in_channels=128, out_channels=32),
    text_backbone=dict(type='TextTransformer', width=64, layers=2, heads=1),
    proj_dim=32, context_length=77)


def small_cfg(act: str = 'quick_gelu') -> dict:
    cfg = copy.deepcopy(SMALL_CFG)
    if act == 'gelu':
        cfg['vision_backbone']['layer_cfgs'] = dict(act_cfg=dict(type='GELU'))
        cfg['text_backbone']['act'] = 'gelu'
    return cfg


def perturb_norms(model: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.add_(0.3 * torch.randn_like(module.weight))
                module.bias.add_(0.3 * torch.randn_like(module.bias))
    return model.eval()
