"""Save a sheet of a config's data items (images with their captions and classes).

    python tools/visualization/browse_dataset.py CONFIG -o DIR [--phase train] [-n 12]

The command-line shape of mmpretrain's tools/visualization/browse_dataset.py
(which builds data sets in its own scope and stops at the plugin's); it shows
the packed images as the model's data preprocessor will see them. An existing,
different file is refused unless ``--overwrite``. The logic is
``tpc_cma_mm.apis.browse_dataset``.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

from tpc_cma_mm.apis import browse_dataset, load_config, write_outputs


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Browse a data set of a config')
    parser.add_argument('config')
    parser.add_argument('-o', '--output-dir', required=True, help='folder for the PNG sheet')
    parser.add_argument('-p', '--phase', default='train', choices=['train', 'val', 'test'])
    parser.add_argument('-n', '--show-number', type=int, default=12, help='items to show')
    parser.add_argument('--overwrite', action='store_true', help='replace another file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    png = browse_dataset(load_config(args.config, args.cfg_options), args.phase,
                         args.show_number)
    path = osp.join(args.output_dir, f'{args.phase}_items.png')
    write_outputs({path: png}, args.overwrite)
    print(f'Wrote {path}.')
    return path


if __name__ == '__main__':
    main(sys.argv[1:])
