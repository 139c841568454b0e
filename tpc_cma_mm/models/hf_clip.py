"""Hugging Face ``transformers`` ``CLIPModel``: key mapping, export and import.

HF splits OpenAI's packed ``in_proj`` into ``q/k/v_proj`` and stores the two
projections as ``nn.Linear`` weights (transposed); every other tensor is a
rename. One table serves both directions. Folders are read weights-only
(safetensors, or ``pytorch_model.bin`` through the plugin's safe loader) and
written as safetensors, so ``CLIPModel.from_pretrained(folder)`` works offline.
"""
import json
import os
import os.path as osp
import re
from typing import Dict, Tuple

import torch

from tpc_cma_mm.utils import safe_torch_load
from .weight_layouts import (HF_BLOCK_RENAMES, HF_BUFFERS, HF_QKV, HF_TOP_KEYS, HF_TOWERS,
                             UnknownLayoutError)

__all__ = ['check_hf_config', 'hf_activations', 'hf_config', 'hf_to_openai', 'load_hf_folder',
           'openai_to_hf', 'save_hf_folder', 'save_hf_tokenizer']

def _unknown(keys, layout):
    return UnknownLayoutError(
        f'{len(keys)} keys have no place in the {layout} layout, e.g. {sorted(keys)[:6]}. '
        'Only ViT CLIP models (CLIPModel with CLIPVisionTransformer) are supported.')


def openai_to_hf(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """OpenAI CLIP keys -> ``transformers`` ``CLIPModel`` keys."""
    out, unknown = {}, []
    for key, value in state_dict.items():
        if key in HF_TOP_KEYS:
            new = HF_TOP_KEYS[key]
            if new.endswith('.T'):
                new, value = new[:-2], value.t()
            out[new] = value.contiguous()
            continue
        tower = next(((o, h) for o, h in HF_TOWERS if key.startswith(o)), None)
        index, _, rest = key[len(tower[0]):].partition('.') if tower else ('', '', '')
        module, _, param = rest.rpartition('.')
        if module == 'attn' and param in ('in_proj_weight', 'in_proj_bias'):
            for name, part in zip(HF_QKV, value.chunk(3)):
                out[f'{tower[1]}{index}.self_attn.{name}.{param[8:]}'] = part.contiguous()
        elif module in HF_BLOCK_RENAMES:
            out[f'{tower[1]}{index}.{HF_BLOCK_RENAMES[module]}.{param}'] = value
        else:
            unknown.append(key)
    if unknown:
        raise _unknown(unknown, 'Hugging Face CLIPModel')
    return out


def hf_to_openai(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """``transformers`` ``CLIPModel`` keys -> OpenAI CLIP keys."""
    top = {v[:-2] if v.endswith('.T') else v: (k, v.endswith('.T'))
           for k, v in HF_TOP_KEYS.items()}
    block = {v: k for k, v in HF_BLOCK_RENAMES.items()}
    out, qkv, unknown = {}, {}, []
    for key, value in state_dict.items():
        if HF_BUFFERS.fullmatch(key):
            continue
        if key in top:
            new, transposed = top[key]
            out[new] = value.t().contiguous() if transposed else value
            continue
        tower = next(((o, h) for o, h in HF_TOWERS if key.startswith(h)), None)
        index, _, rest = key[len(tower[1]):].partition('.') if tower else ('', '', '')
        module, _, param = rest.rpartition('.')
        if module.startswith('self_attn.') and module[10:] in HF_QKV:
            qkv[(tower[0], index, param, module[10:])] = value
        elif module in block:
            out[f'{tower[0]}{index}.{block[module]}.{param}'] = value
        else:
            unknown.append(key)
    for (prefix, index, param, name) in list(qkv):
        if name == 'q_proj':
            parts = [qkv.pop((prefix, index, param, n), None) for n in HF_QKV]
            if any(p is None for p in parts):
                unknown.append(f'{prefix}{index}.attn (q/k/v incomplete)')
                continue
            out[f'{prefix}{index}.attn.in_proj_{param}'] = torch.cat(parts)
    unknown += [f'{p}{i}.self_attn.{n}.{param}' for p, i, param, n in qkv]
    if unknown:
        raise _unknown(unknown, 'OpenAI CLIP')
    return out


def hf_config(towers: dict, logit_scale: float) -> dict:
    """``CLIPConfig`` keyword arguments for the towers of ``export.describe_towers``."""
    vision, text = towers['vision'], towers['text']
    common = dict(projection_dim=towers['embed_dim'])
    return dict(
        projection_dim=towers['embed_dim'], logit_scale_init_value=logit_scale,
        vision_config=dict(
            hidden_size=vision['width'], intermediate_size=vision['mlp_width'],
            num_hidden_layers=vision['layers'], num_attention_heads=vision['heads'],
            image_size=vision['image_size'], patch_size=vision['patch_size'],
            hidden_act=vision['act'], layer_norm_eps=vision['eps'], **common),
        text_config=dict(
            vocab_size=text['vocab_size'], hidden_size=text['width'],
            intermediate_size=text['mlp_width'], num_hidden_layers=text['layers'],
            num_attention_heads=text['heads'],
            max_position_embeddings=text['context_length'], hidden_act=text['act'],
            layer_norm_eps=text['eps'], **common))


# config.json field -> the plugin config key that sets it. The weights do not record
# the activation, the LayerNorm eps or the number of heads: only config.json does.
_CONFIG_KEYS = dict(
    vision_config=dict(
        hidden_size='vision_backbone.arch.embed_dims',
        intermediate_size='vision_backbone.arch.feedforward_channels',
        num_hidden_layers='vision_backbone.arch.num_layers',
        num_attention_heads='vision_backbone.arch.num_heads',
        patch_size='vision_backbone.patch_size',
        hidden_act="vision_backbone.layer_cfgs.act_cfg.type ('QuickGELU' / 'GELU')",
        layer_norm_eps='vision_backbone.norm_cfg.eps'),
    text_config=dict(
        vocab_size='vocab_size', hidden_size='text_backbone.width',
        intermediate_size='4 x text_backbone.width, fixed by TextTransformer',
        num_hidden_layers='text_backbone.layers',
        num_attention_heads='text_backbone.heads',
        max_position_embeddings='context_length', hidden_act='text_backbone.act',
        layer_norm_eps='1e-5, fixed by TextTransformer'))


def _clip_config(config: dict):
    from transformers import CLIPConfig  # fills in the defaults save_pretrained leaves out
    return CLIPConfig.from_dict(config)


def hf_activations(config: dict) -> dict:
    """The activation of each tower a folder's ``config.json`` declares."""
    clip = _clip_config(config)
    return dict(image=clip.vision_config.hidden_act, text=clip.text_config.hidden_act)


def check_hf_config(config: dict, towers: dict, where: str) -> None:
    """Raise ValueError naming every field in which a folder's ``config.json``
    differs from ``towers`` (``export.describe_towers`` of the target model),
    with the config key that would have to change."""
    clip, want = _clip_config(config), hf_config(towers, 0.0)
    problems = [f'projection_dim {clip.projection_dim} vs proj_dim {towers["embed_dim"]}'] \
        if clip.projection_dim != towers['embed_dim'] else []
    for tower, keys in _CONFIG_KEYS.items():
        got = getattr(clip, tower)
        for field, config_key in keys.items():
            if getattr(got, field) != want[tower][field]:
                problems.append(f'{tower}.{field} {getattr(got, field)!r} vs '
                                f'{want[tower][field]!r} ({config_key})')
    if problems:
        raise ValueError(
            f"{where}: its config.json describes another model than the config's: "
            f"{'; '.join(problems)} (folder vs config). These weights would run with "
            'the wrong architecture; convert with a config that matches (e.g. '
            "configs/_base_/models/clip_vit-base-p16_gelu.py for hidden_act 'gelu').")


def save_hf_folder(state_dict: Dict[str, torch.Tensor], config: dict, folder: str) -> None:
    """Write an OpenAI-layout state dict as a ``CLIPModel`` folder (safetensors)."""
    from transformers import CLIPConfig, CLIPModel
    if osp.exists(folder) and os.listdir(folder):
        raise FileExistsError(f'{folder!r} exists and is not empty; give a new folder.')
    model = CLIPModel(CLIPConfig(**config))
    model.load_state_dict(openai_to_hf(state_dict), strict=True)
    model.save_pretrained(folder, safe_serialization=True)


def save_hf_tokenizer(tokenizer, folder: str) -> None:
    """Write ``tokenizer`` (the plugin's ``CLIPTokenizer``) as a ``transformers``
    ``CLIPTokenizer`` into ``folder``: its vocabulary and merges, the special tokens and
    the context length. ``split_special_tokens``: a literal ``<|endoftext|>`` in a text
    stays text, as in the plugin (where the ids still differ: hf_processor.py)."""
    import tempfile

    from transformers import CLIPTokenizer as HFCLIPTokenizer
    bpe = tokenizer._bpe
    merges = sorted(bpe.bpe_ranks, key=bpe.bpe_ranks.get)
    with tempfile.TemporaryDirectory() as tmp:
        vocab, merge_file = osp.join(tmp, 'vocab.json'), osp.join(tmp, 'merges.txt')
        with open(vocab, 'w', encoding='utf-8') as f:
            json.dump(bpe.encoder, f, ensure_ascii=False)
        with open(merge_file, 'w', encoding='utf-8') as f:
            f.write('#version: 0.2\n' + '\n'.join(' '.join(pair) for pair in merges) + '\n')
        hf = HFCLIPTokenizer(vocab, merge_file, unk_token='<|endoftext|>',
                             bos_token='<|startoftext|>', eos_token='<|endoftext|>',
                             pad_token='<|endoftext|>',
                             model_max_length=tokenizer.context_length,
                             split_special_tokens=True)
        hf.save_pretrained(folder)


def load_hf_folder(folder: str) -> Tuple[Dict[str, torch.Tensor], dict]:
    """The OpenAI-layout tensors and the ``config.json`` of a ``CLIPModel`` folder."""
    from safetensors.torch import load_file

    config_path = osp.join(folder, 'config.json')
    if not osp.isfile(config_path):
        raise FileNotFoundError(f'{folder!r} has no config.json: not a Hugging Face '
                                'model folder (CLIPModel.save_pretrained writes one).')
    with open(config_path) as f:
        config = json.load(f)
    files = sorted(n for n in os.listdir(folder)
                   if re.fullmatch(r'model(-\d+-of-\d+)?\.safetensors', n))
    loader = load_file
    if not files:
        files = sorted(n for n in os.listdir(folder)
                       if re.fullmatch(r'pytorch_model(-\d+-of-\d+)?\.bin', n))
        loader = safe_torch_load
    if not files:
        raise FileNotFoundError(f'{folder!r} has no model.safetensors or pytorch_model.bin.')
    state = {}
    for name in files:
        state.update(loader(osp.join(folder, name)))
    return hf_to_openai(state), config
