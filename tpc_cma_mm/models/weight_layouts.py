"""CLIP weight layouts: the key tables and the error shared by convert, export and HF.

One place knows how the layouts name a ViT CLIP's tensors, so that
``models/convert.py`` (other layouts in), ``models/export.py`` (OpenAI /
open_clip out) and ``models/hf_clip.py`` (Hugging Face both ways) import the
same tables and none of them imports another to reach them.

Layouts: OpenAI CLIP and open_clip share keys (``clip.load(...,
jit=False)[0].state_dict()``); mmpretrain's CLIP renames the image tower to its
``VisionTransformer``; Hugging Face ``CLIPModel`` splits the packed attention
projection into ``q/k/v_proj`` and stores the two output projections transposed.
"""
import re

__all__ = [
    'BLOCK_PARAMS', 'BLOCK_RENAMES', 'FORMATS', 'HF_BLOCK_RENAMES', 'HF_BUFFERS', 'HF_QKV',
    'HF_TOP_KEYS', 'HF_TOWERS', 'KNOWN_OTHERS', 'NON_WEIGHTS', 'TEXT_BLOCK', 'TEXT_KEYS',
    'UnknownLayoutError', 'VISUAL_BLOCK', 'VISUAL_RENAMES'
]


class UnknownLayoutError(ValueError):
    """The state dict is in none of the layouts this plugin reads or writes."""


FORMATS = ('openai', 'open_clip', 'hf', 'mmpretrain')

# OpenAI / open_clip layout (the reference the other tables map to).
# Kept in OpenAI's JIT state dict or older open_clip checkpoints; not weights.
NON_WEIGHTS = ('input_resolution', 'context_length', 'vocab_size')
TEXT_KEYS = {'token_embedding.weight', 'positional_embedding', 'ln_final.weight',
             'ln_final.bias', 'text_projection', 'logit_scale'}
BLOCK_PARAMS = ('ln_1.weight', 'ln_1.bias', 'ln_2.weight', 'ln_2.bias',
                'attn.in_proj_weight', 'attn.in_proj_bias', 'attn.out_proj.weight',
                'attn.out_proj.bias', 'mlp.c_fc.weight', 'mlp.c_fc.bias',
                'mlp.c_proj.weight', 'mlp.c_proj.bias')
VISUAL_BLOCK = re.compile(r'visual\.transformer\.resblocks\.(\d+)\.(.+)')
TEXT_BLOCK = re.compile(r'transformer\.resblocks\.\d+\.(.+)')
# Key prefixes of layouts no converter here handles, and what they are.
KNOWN_OTHERS = {'visual.layer1.': 'OpenAI ResNet CLIP (ModifiedResNet image tower)',
                'visual.attnpool.': 'OpenAI ResNet CLIP (ModifiedResNet image tower)',
                'visual.trunk.': 'open_clip with a timm image tower',
                'text.': 'open_clip CustomTextCLIP (HF or custom text tower)'}

# OpenAI -> mmpretrain: residual block -> TransformerEncoderLayer, image-tower tensors.
BLOCK_RENAMES = (('ln_1.', 'ln1.'), ('ln_2.', 'ln2.'),
                 ('attn.in_proj_weight', 'attn.qkv.weight'),
                 ('attn.in_proj_bias', 'attn.qkv.bias'),
                 ('attn.out_proj.', 'attn.proj.'), ('mlp.c_fc.', 'ffn.layers.0.0.'),
                 ('mlp.c_proj.', 'ffn.layers.1.'))
VISUAL_RENAMES = {'visual.conv1.weight': 'visual.patch_embed.projection.weight',
                  'visual.class_embedding': 'visual.cls_token',
                  'visual.positional_embedding': 'visual.pos_embed',
                  'visual.ln_pre.weight': 'visual.pre_norm.weight',
                  'visual.ln_pre.bias': 'visual.pre_norm.bias',
                  'visual.ln_post.weight': 'visual.ln1.weight',
                  'visual.ln_post.bias': 'visual.ln1.bias',
                  'visual.proj': 'visual_proj.proj'}

# OpenAI -> Hugging Face CLIPModel; ``.T`` marks the projections HF stores transposed.
HF_TOP_KEYS = {'token_embedding.weight': 'text_model.embeddings.token_embedding.weight',
               'positional_embedding': 'text_model.embeddings.position_embedding.weight',
               'ln_final.weight': 'text_model.final_layer_norm.weight',
               'ln_final.bias': 'text_model.final_layer_norm.bias',
               'text_projection': 'text_projection.weight.T',
               'visual.class_embedding': 'vision_model.embeddings.class_embedding',
               'visual.conv1.weight': 'vision_model.embeddings.patch_embedding.weight',
               'visual.positional_embedding':
               'vision_model.embeddings.position_embedding.weight',
               'visual.ln_pre.weight': 'vision_model.pre_layrnorm.weight',
               'visual.ln_pre.bias': 'vision_model.pre_layrnorm.bias',
               'visual.ln_post.weight': 'vision_model.post_layernorm.weight',
               'visual.ln_post.bias': 'vision_model.post_layernorm.bias',
               'visual.proj': 'visual_projection.weight.T',
               'logit_scale': 'logit_scale'}
HF_TOWERS = (('visual.transformer.resblocks.', 'vision_model.encoder.layers.'),
             ('transformer.resblocks.', 'text_model.encoder.layers.'))
HF_BLOCK_RENAMES = {'ln_1': 'layer_norm1', 'ln_2': 'layer_norm2', 'mlp.c_fc': 'mlp.fc1',
                    'mlp.c_proj': 'mlp.fc2', 'attn.out_proj': 'self_attn.out_proj'}
HF_QKV = ('q_proj', 'k_proj', 'v_proj')
# HF buffers that are not weights (older transformers saved them).
HF_BUFFERS = re.compile(r'.*position_ids$')
