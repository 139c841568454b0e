"""Compare CMA loss variants at one matched centroid reduction (the distribution-term ablation).

Each variant of ``tpc_cma_lab.ablation.LOSS_VARIANTS`` replaces the config's
``model.cma_loss`` and fine-tunes from its ``load_from`` in gap-target mode
(the same reduction asked of each); every model is scored on the test split
and captioned by a decoder that learns from the config's own training
captions (docs/method.md, "The distribution term")::

    python tools/ablation.py configs/tpc_cma/tpc-cma-target-c0.5_vit-tiny-p8_1xb256-300i_shapes.py \\
        --variants L_align "w_cov 100" "+ uniformity" --seeds 0 1 2 --reduction 0.5 \\
        --work-dir work_dirs/ablation --out results/experiments/cma_ablation.md

The logic is ``tpc_cma_lab.ablation``.
"""
import argparse
import sys

from mmengine.config import DictAction

from tpc_cma_mm.apis import json_bytes, load_config, write_outputs
from tpc_cma_lab.ablation import LOSS_VARIANTS, ablation_table, table_markdown


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a TPC-CMA config with load_from set and '
                        'reproduce.held_out_classes')
    parser.add_argument('--variants', nargs='+', default=list(LOSS_VARIANTS),
                        choices=list(LOSS_VARIANTS), metavar='NAME',
                        help=f'default: all of {list(LOSS_VARIANTS)}')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--reduction', type=float, default=0.5,
                        help='the centroid reduction asked of every variant, in (0, 1)')
    parser.add_argument('--no-captioning', action='store_true',
                        help='leave out the captioning scores (faster)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='KEY=VALUE overrides of the config (e.g. load_from=...)')
    parser.add_argument('--work-dir', default='work_dirs/ablation')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads of every run, recorded in its run.json')
    parser.add_argument('--out', help='markdown table (and .json beside it)')
    parser.add_argument('--overwrite', action='store_true')
    return parser.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    rows = ablation_table(cfg, args.variants, args.seeds, args.reduction, args.work_dir,
                          args.threads, captioning=not args.no_captioning)
    table = table_markdown(rows)
    print(table)
    if args.out:
        command = ' '.join(['python tools/ablation.py'] + argv)
        write_outputs({args.out: f'{command}\n\n{table}\n'.encode('utf-8'),
                       args.out.rsplit('.', 1)[0] + '.json': json_bytes(
                           dict(command=command, rows=rows))}, args.overwrite)


if __name__ == '__main__':
    main()
