"""Convert OpenAI CLIP / open_clip / Hugging Face CLIPModel ViT weights into tpc_cma_mm's layout.

    python tools/convert_clip_weights.py SRC DST [--format auto|openai|open_clip|hf]
        [--config configs/_base_/models/clip_vit-base-p16.py]

SRC is a file, or a Hugging Face ``CLIPModel`` folder (``save_pretrained``'s
config.json + model.safetensors / pytorch_model.bin), read offline.
The reverse direction is ``tools/export_clip_weights.py``.

SRC is read with weights-only loading (no code in it can run). OpenAI's
original downloads are TorchScript archives, which weights-only loading cannot
read; re-save them once as a plain state dict:

    import clip, torch
    model, _ = clip.load('ViT-B/16', device='cpu', jit=False)
    torch.save(model.state_dict(), 'ViT-B-16.pt')

DST holds ``{'state_dict': ..., 'meta': {...}}`` (plain types), which
``load_from`` / ``mmengine.runner.load_checkpoint`` read. With ``--config`` the
result is loaded into that config's model and every missing, unexpected or
shape-mismatched key is reported (exit status 1 if any; DST is still written,
for partial loading).
"""
import argparse
import os
import os.path as osp
import sys
import zipfile

import torch

__all__ = ['load_source', 'main', 'parse_args']

JIT_HELP = (
    'It is a TorchScript archive (e.g. an original OpenAI CLIP download), which '
    'cannot be read with weights-only loading, and this tool never unpickles '
    'arbitrary objects. In an environment you trust, re-save it as a plain state '
    "dict: model, _ = clip.load('ViT-B/16', device='cpu', jit=False); "
    "torch.save(model.state_dict(), 'ViT-B-16.pt'), then convert that file.")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='OpenAI / open_clip state dict (.pt / .pth / .bin) '
                        'or a Hugging Face CLIPModel folder')
    parser.add_argument('dst', help='where to write the converted checkpoint')
    parser.add_argument('--format', default='auto',
                        choices=['auto', 'openai', 'open_clip', 'hf', 'mmpretrain'])
    parser.add_argument('--config', help='check the result against the model of '
                        'this config (e.g. configs/_base_/models/clip_vit-base-p16.py)')
    return parser.parse_args(argv)


def _is_torchscript(path: str) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith('constants.pkl') or '/code/' in name
                   for name in archive.namelist())


def load_source(path: str):
    """Weights-only load with errors that say what to do; a folder is read as
    a Hugging Face ``CLIPModel`` (returned in the OpenAI layout)."""
    from tpc_cma_mm.models.hf_clip import load_hf_folder
    from tpc_cma_mm.utils import safe_torch_load
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


def check_against_config(state_dict, config: str) -> dict:
    from mmengine.config import Config

    from tpc_cma_mm.models.convert import check_conversion
    from tpc_cma_mm.registry import MODELS
    cfg = Config.fromfile(config)
    try:
        with torch.device('meta'):  # only names and shapes are compared
            model = MODELS.build(cfg.model)
    except Exception:  # a backbone that computes values while building
        model = MODELS.build(cfg.model)
    return check_conversion(state_dict, model)


def main(argv=None) -> int:
    args = parse_args(argv)
    import tpc_cma_mm  # noqa: F401  (registers the plugin)
    from tpc_cma_mm.models.convert import convert_state_dict
    try:
        source = load_source(args.src)
        state_dict, meta = convert_state_dict(source, args.format)
    except (OSError, RuntimeError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    meta.update(source=osp.abspath(args.src), tpc_cma_mm_version=tpc_cma_mm.__version__)
    for note in meta['notes']:
        print(f'note: {note}')
    status = 0
    if args.config:
        report = check_against_config(state_dict, args.config)
        for kind in ('missing', 'unexpected', 'mismatched', 'resized'):
            if report[kind]:
                print(f'{kind} keys ({len(report[kind])}) vs {args.config}:')
                print('\n'.join(f'  {k}' for k in report[kind][:20]))
                if len(report[kind]) > 20:
                    print(f'  ... and {len(report[kind]) - 20} more')
        bad = sum(len(report[k]) for k in ('missing', 'unexpected', 'mismatched'))
        status = 1 if bad else 0
        print(f'check vs {args.config}: ' + ('FAILED' if bad else 'all keys match'))
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(dict(state_dict=state_dict, meta=meta), args.dst)
    print(f'Converted {len(state_dict)} tensors ({meta["source_format"]} layout) '
          f'-> {args.dst}')
    return status


if __name__ == '__main__':
    sys.exit(main())
