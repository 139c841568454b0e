"""Compare CMA loss variants at one matched centroid reduction (the distribution-term ablation).

Each variant of ``tpc_cma_lab.ablation.LOSS_VARIANTS`` replaces the config's
``model.cma_loss`` and fine-tunes from its ``load_from`` in gap-target mode
(the same reduction asked of each); every model is scored on the test split
and captioned by a decoder that learns from the config's own training
captions (docs/method.md, "The distribution term")::

    python tools/ablation.py configs/tpc_cma/tpc-cma-target-c0.5_vit-tiny-p8_1xb256-300i_shapes.py \\
        --variants L_align "w_cov 100" "+ uniformity" --seeds 0 1 2 --reduction 0.5 \\
        --work-dir work_dirs/ablation --out results/experiments/cma_ablation.md

One seed per call, then one table of them all (``--merge`` reads the calls'
JSON files; nothing is trained)::

    python tools/ablation.py --merge seed0.json seed1.json --out table.md

The logic is ``tpc_cma_lab.ablation``.
"""
import argparse
import sys

from mmengine.config import DictAction

from tpc_cma_mm.apis import json_bytes, load_config, read_json, write_outputs
from tpc_cma_lab.ablation import LOSS_VARIANTS, ablation_table, merge_rows, table_markdown


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', help='a TPC-CMA config with load_from set and '
                        'reproduce.held_out_classes (not with --merge)')
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
    parser.add_argument('--merge', nargs='+', metavar='JSON',
                        help='only merge the results files of earlier calls into one table')
    parser.add_argument('--out', help='markdown table (and .json beside it)')
    parser.add_argument('--overwrite', action='store_true')
    args = parser.parse_args(argv)
    if (args.config is None) == (args.merge is None):
        parser.error('give a CONFIG to run, or --merge JSON files to merge (not both)')
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.merge:
        rows = merge_rows([read_json(path, 'ablation results')['rows'] for path in args.merge])
    else:
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
