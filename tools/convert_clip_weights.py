"""Convert OpenAI CLIP / open_clip / Hugging Face CLIPModel ViT weights into tpc_cma_mm's layout.

    python tools/convert_clip_weights.py SRC DST [--format auto|openai|open_clip|hf]
        [--config configs/_base_/models/clip_vit-base-p16.py]

SRC is a file, or a Hugging Face ``CLIPModel`` folder (``save_pretrained``'s
config.json + model.safetensors / pytorch_model.bin), read offline.
The reverse direction is ``tools/export_clip_weights.py``.

SRC is read with weights-only loading (no code in it can run; the logic is
``tpc_cma_mm.apis.convert``). OpenAI's
original downloads are TorchScript archives, which weights-only loading cannot
read; re-save them once as a plain state dict:

    import clip, torch
    model, _ = clip.load('ViT-B/16', device='cpu', jit=False)
    torch.save(model.state_dict(), 'ViT-B-16.pt')

DST holds ``{'state_dict': ..., 'meta': {...}}`` (plain types), which
``load_from`` / ``mmengine.runner.load_checkpoint`` read. With ``--config`` the
result is loaded into that config's model and every missing, unexpected or
shape-mismatched key is reported (exit status 1 if any; DST is still written,
for partial loading). DST is written atomically; an existing DST with other
content is refused unless --overwrite, and a symbolic link at DST is refused.
"""
import argparse
import io
import sys

import torch

import tpc_cma_mm
from tpc_cma_mm.apis.convert import convert_clip_checkpoint
from tpc_cma_mm.utils.atomic_io import write_outputs

__all__ = ['main', 'parse_args']


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='OpenAI / open_clip state dict (.pt / .pth / .bin) '
                        'or a Hugging Face CLIPModel folder')
    parser.add_argument('dst', help='where to write the converted checkpoint')
    parser.add_argument('--format', default='auto',
                        choices=['auto', 'openai', 'open_clip', 'hf', 'mmpretrain'])
    parser.add_argument('--config', help='check the result against the model of '
                        'this config (e.g. configs/_base_/models/clip_vit-base-p16.py)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing DST that holds other content')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        state_dict, meta, report = convert_clip_checkpoint(args.src, args.format, args.config)
    except (OSError, RuntimeError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    meta.update(tpc_cma_mm_version=tpc_cma_mm.__version__)
    for note in meta['notes']:
        print(f'note: {note}')
    status = 0
    if report is not None:
        for kind in ('missing', 'unexpected', 'mismatched', 'resized'):
            if report[kind]:
                print(f'{kind} keys ({len(report[kind])}) vs {args.config}:')
                print('\n'.join(f'  {k}' for k in report[kind][:20]))
                if len(report[kind]) > 20:
                    print(f'  ... and {len(report[kind]) - 20} more')
        bad = sum(len(report[k]) for k in ('missing', 'unexpected', 'mismatched'))
        status = 1 if bad else 0
        print(f'check vs {args.config}: ' + ('FAILED' if bad else 'all keys match'))
    buffer = io.BytesIO()
    torch.save(dict(state_dict=state_dict, meta=meta), buffer)
    try:
        write_outputs({args.dst: buffer.getvalue()}, args.overwrite)
    except OSError as err:  # another file there, a symbolic link, a full disk
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(f'Converted {len(state_dict)} tensors ({meta["source_format"]} layout) '
          f'-> {args.dst}')
    return status


if __name__ == '__main__':
    sys.exit(main())
