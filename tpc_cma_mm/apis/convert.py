"""Read a CLIP checkpoint from another project and convert it, checked against a config.

What ``tools/convert_clip_weights.py`` runs::

    from tpc_cma_mm.apis.convert import convert_clip_checkpoint
    state_dict, meta, report = convert_clip_checkpoint(
        'ViT-B-16.pt', config='configs/_base_/models/clip_vit-base-p16.py')
    report['missing'], report['unexpected'], report['mismatched']

The source is read with weights-only loading (no code in it can run); a folder
is read as a Hugging Face ``CLIPModel``, and its ``config.json`` must describe
the config's model (activation, LayerNorm eps, sizes, heads), which the weights
alone do not record.
"""
import os.path as osp
import zipfile
from typing import Optional, Tuple

import torch
from mmengine.config import Config

from tpc_cma_mm.models.convert import check_conversion, convert_state_dict
from tpc_cma_mm.models.export import describe_towers
from tpc_cma_mm.models.hf_clip import check_hf_config, hf_activations, load_hf_folder
from tpc_cma_mm.registry import MODELS
from tpc_cma_mm.utils import safe_torch_load
from tpc_cma_mm.utils.checkpoint import DIGEST_KEY, content_digest

__all__ = ['JIT_HELP', 'check_against_config', 'convert_clip_checkpoint', 'load_clip_source']

JIT_HELP = (
    'It is a TorchScript archive (e.g. an original OpenAI CLIP download), which '
    'cannot be read with weights-only loading, and nothing here unpickles '
    'arbitrary objects. In an environment you trust, re-save it as a plain state '
    "dict: model, _ = clip.load('ViT-B/16', device='cpu', jit=False); "
    "torch.save(model.state_dict(), 'ViT-B-16.pt'), then convert that file.")


def _is_torchscript(path: str) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith('constants.pkl') or '/code/' in name
                   for name in archive.namelist())


def load_clip_source(path: str):
    """Weights-only load with errors that say what to do; a folder is read as
    a Hugging Face ``CLIPModel`` (returned in the OpenAI layout)."""
    if osp.isdir(path):
        return load_hf_folder(path)[0]
    if not osp.isfile(path):
        raise FileNotFoundError(f'Source checkpoint {path!r} does not exist.')
    if _is_torchscript(path):
        raise RuntimeError(f'Cannot convert {path!r}: {JIT_HELP}')
    try:
        return safe_torch_load(path)
    except Exception as err:
        raise RuntimeError(
            f'Cannot read {path!r} as a weights-only PyTorch checkpoint (a state '
            f'dict saved with torch.save). It may be damaged, in another format, or '
            f'hold non-tensor objects. Cause: {err}') from err


def _config_model(config: str) -> torch.nn.Module:
    cfg = Config.fromfile(config)
    try:
        with torch.device('meta'):  # only names, shapes and module types are compared
            return MODELS.build(cfg.model)
    except Exception:  # a backbone that computes values while building
        return MODELS.build(cfg.model)


def check_against_config(state_dict, config: str) -> dict:
    """Missing, unexpected, mismatched and resized keys against the config's model."""
    return check_conversion(state_dict, _config_model(config))


def _convert_hf_folder(src: str, fmt: str, config: Optional[str]) -> tuple:
    if fmt not in ('auto', 'hf'):
        raise ValueError(f'{src!r} is a folder, read as a Hugging Face CLIPModel; '
                         f'give --format hf or auto, not {fmt!r}.')
    openai_layout, hf_cfg = load_hf_folder(src)
    state_dict, meta = convert_state_dict(openai_layout, 'openai')
    meta.update(source=osp.abspath(src), source_format='hf',
                activation=hf_activations(hf_cfg))
    if config is None:
        return state_dict, meta, None
    model = _config_model(config)
    try:
        towers = describe_towers(model)
    except ValueError as err:
        raise ValueError(f'{config}: a Hugging Face CLIPModel converts only into a CLIP '
                         f'ViT model. {err}') from err
    check_hf_config(hf_cfg, towers, src)
    return state_dict, meta, check_conversion(state_dict, model)


def convert_clip_checkpoint(src: str, fmt: str = 'auto',
                            config: Optional[str] = None) -> Tuple[dict, dict, Optional[dict]]:
    """(state dict in this project's layout, meta, key report against ``config`` or None)."""
    if osp.isdir(src):
        state_dict, meta, report = _convert_hf_folder(src, fmt, config)
    else:
        state_dict, meta = convert_state_dict(load_clip_source(src), fmt)
        meta.update(source=osp.abspath(src))
        report = check_against_config(state_dict, config) if config else None
    # The digest of the checkpoint the tool writes, dict(state_dict=..., meta=...),
    # which every later load verifies (tpc_cma_mm/utils/checkpoint/digest.py).
    meta[DIGEST_KEY] = content_digest(dict(state_dict=state_dict))
    return state_dict, meta, report
