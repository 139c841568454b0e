"""Export a tpc_cma_mm checkpoint to OpenAI CLIP, open_clip or Hugging Face CLIPModel.

    python tools/export_clip_weights.py CONFIG CHECKPOINT OUT --format openai|open_clip|hf
        [--overwrite]

The checkpoint is read weights-only and checked against CONFIG's model (the
loader of ``tpc_cma_mm.apis.init_model``). Then:

- ``openai``: OUT is a state dict for ``clip.model.build_model`` (refused unless
  OpenAI's fixed choices hold: QuickGELU, eps 1e-5, heads of 64, MLP 4 x width);
- ``open_clip``: the same keys; it loads strictly into
  ``open_clip.create_model(name, pretrained=None)`` of the same sizes, with
  ``quick_gelu`` as printed (refused if the towers differ in activation or eps);
- ``hf``: OUT is a folder for ``transformers.CLIPModel.from_pretrained(OUT)``.

OUT is written atomically (a folder in a temporary sibling, then renamed), so a
kill or a full disk leaves no partial output; other content at OUT is refused
unless ``--overwrite``.

The reverse is ``tools/convert_clip_weights.py`` (it reads all three).
"""
import argparse
import sys

__all__ = ['main', 'parse_args']


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='a tpc_cma_mm checkpoint (e.g. iter_300.pth)')
    parser.add_argument('out', help='output file (openai, open_clip) or folder (hf)')
    parser.add_argument('--format', required=True, choices=['openai', 'open_clip', 'hf'])
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing output of other content (a file, or a '
                        'non-empty hf folder, which is replaced whole)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from tpc_cma_mm.apis import init_model
    from tpc_cma_mm.models.export import export_model
    try:
        model = init_model(args.config, args.checkpoint)
        info = export_model(model, args.format, args.out, overwrite=args.overwrite)
    except (OSError, ValueError, RuntimeError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    vision, text = info['towers']['vision'], info['towers']['text']
    print(f'Exported {info["tensors"]} tensors ({args.format}) -> {args.out}; '
          f'logit_scale {info["logit_scale"]:.4f}; image tower ViT {vision["width"]}-d '
          f'x{vision["layers"]} ({vision["act"]}), text {text["width"]}-d x{text["layers"]} '
          f'({text["act"]}), context {text["context_length"]}.')
    if 'open_clip_quick_gelu' in info:
        print(f'open_clip: create the model with quick_gelu={info["open_clip_quick_gelu"]} '
              "(e.g. 'ViT-B-16-quickgelu' for True).")
    return 0


if __name__ == '__main__':
    sys.exit(main())
