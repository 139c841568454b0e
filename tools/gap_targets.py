"""Ask for a gap reduction, measure what the held-out test split gets, beside a fixed alpha_target.

The evidence table of docs/method.md ("Gap targets"). Each NAME=CONFIG is a
TPC-CMA config whose ``load_from`` is the starting model; for every seed and
target the config is fine-tuned in target mode and with the fixed alpha_target
given for that target (``--fixed-alpha 0.5=0.42``; none: not run)::

    python tools/gap_targets.py \\
        vit_b256=configs/tpc_cma/tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py \\
        --targets 0.25 0.5 0.75 --seeds 0 1 2 --fixed-alpha 0.25=0.27 0.5=0.42 0.75=0.70 \\
        --work-dir work_dirs/gap_targets --out work_dirs/gap_targets/table.md

The logic is ``tpc_cma_lab.gap_targets``.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

from tpc_cma_mm.apis import json_bytes, load_config, write_outputs
from tpc_cma_lab.gap_targets import table_markdown, target_table


def _pair(text: str, kind):
    name, sep, value = text.partition('=')
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f'expected NAME=VALUE, got {text!r}')
    return name, kind(value)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+', type=lambda t: _pair(t, str),
                        help='NAME=CONFIG, a TPC-CMA config with load_from set')
    parser.add_argument('--targets', type=float, nargs='+', default=[0.25, 0.5, 0.75],
                        help='fractions of the gap to close, in (0, 1)')
    parser.add_argument('--key', default='centroid', help='centroid, distribution or raw')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--fixed-alpha', nargs='*', default=[],
                        type=lambda t: _pair(t, float),
                        help='TARGET=ALPHA: the fixed alpha_target run beside a target')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='KEY=VALUE overrides applied to every config (e.g. '
                        'train_dataloader.batch_size=32)')
    parser.add_argument('--work-dir', default='work_dirs/gap_targets')
    parser.add_argument('--out', help='markdown table (and .json beside it)')
    parser.add_argument('--overwrite', action='store_true')
    return parser.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    configs = {name: load_config(path, args.cfg_options) for name, path in args.configs}
    fixed = {float(t): a for t, a in args.fixed_alpha}
    rows = target_table(configs, args.targets, args.seeds, fixed, args.work_dir, args.key)
    table = table_markdown(rows)
    print(table)
    if args.out:
        command = ' '.join(['python tools/gap_targets.py'] + argv)
        write_outputs({args.out: (f'{command}\n\n{table}\n').encode('utf-8'),
                       osp.splitext(args.out)[0] + '.json': json_bytes(
                           dict(command=command, rows=rows))}, args.overwrite)


if __name__ == '__main__':
    main()
