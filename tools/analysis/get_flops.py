"""FLOPs and parameters of a config's model, image and text tower apart.

    python tools/analysis/get_flops.py CONFIG [--shape H W] [--cfg-options ...]

The command-line shape of mmpretrain's tools/analysis_tools/get_flops.py, which
(on plugin configs too, since they build in the plugin's scope) counts only
``extract_feat``: the image tower. This one also counts the text tower on a
full-length caption. The logic is ``tpc_cma_mm.apis.model_complexity``.
"""
import argparse
import sys

from mmengine.config import DictAction

from tpc_cma_mm.apis import init_model, load_config, model_complexity


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='FLOPs and parameters of a DualEncoder')
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs='+',
                        help='input image size (H W, or one side); a ViT\'s img_size by default')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    shape = None
    if args.shape:
        if len(args.shape) not in (1, 2):
            raise SystemExit(f'--shape takes 1 or 2 integers, got {args.shape}')
        shape = (3, args.shape[0], args.shape[-1])
    info = model_complexity(init_model(load_config(args.config, args.cfg_options)), shape)
    line = '=' * 30
    print(f'{line}\nImage input shape: {info["image_shape"]}\n'
          f'Image tower flops: {info["image"]["flops_str"]}\n'
          f'Text input: 1 x {info["context_length"]} tokens\n'
          f'Text tower flops: {info["text"]["flops_str"]}\n'
          f'Params (both towers): {info["params"] / 1e6:.3f} M\n{line}')
    return info


if __name__ == '__main__':
    main(sys.argv[1:])
