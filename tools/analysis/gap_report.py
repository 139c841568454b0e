"""Modality-gap report of one checkpoint, with the post-hoc baselines beside it.

    python tools/analysis/gap_report.py CONFIG CHECKPOINT --out DIR [--split test]

Writes ``DIR/gap_report.json`` (every number, and the % reduction of each gap
key against the original model), ``DIR/gap_decomposition.png`` and
``DIR/projection.png`` (2-D PCA by modality and by class) and ``DIR/projector/``,
TensorBoard projector data of both clouds with images and captions
(``tensorboard --logdir DIR/projector``, PROJECTOR tab). An existing, different
output is refused unless ``--overwrite``. The logic is ``tpc_cma_mm.apis.gap_report``.
"""
import argparse
import sys

from mmengine.config import DictAction
from mmengine.runner import Runner

from tpc_cma_mm.apis import gap_report, init_model, load_config, write_gap_report


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Modality-gap report of a checkpoint')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', required=True, help='directory for the JSON and the plots')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing output files of other content')
    parser.add_argument('--split', default='test', choices=['test', 'val'])
    parser.add_argument('--shift-lambda', type=float, default=0.5,
                        help='lambda of the shift along the gap vector (0.5: meet halfway)')
    parser.add_argument('--clustering-seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--max-plot-points', type=int, default=2000,
                        help='points per modality in the projection plot')
    parser.add_argument('--projector-pairs', type=int, default=1000,
                        help='pairs in the TensorBoard projector data (0: none)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    model = init_model(cfg, args.checkpoint)
    report, figures = gap_report(model, Runner.build_dataloader(cfg[f'{args.split}_dataloader']),
                                 args.shift_lambda, args.clustering_seeds, args.max_plot_points,
                                 args.projector_pairs)
    report = dict(config=args.config, checkpoint=args.checkpoint, split=args.split, **report)
    write_gap_report(report, figures, args.out, args.overwrite)
    variants = report['variants']
    print(f'{"metric":32s}' + ''.join(f'{name:>18s}' for name in variants))
    for key in sorted(variants['original']):
        values = [variants[name].get(key, float('nan')) for name in variants]
        print(f'{key:32s}' + ''.join(f'{value:18.4f}' for value in values))
    print(f'Wrote {args.out}/gap_report.json and {len(figures)} files (plots, projector/).')
    return report


if __name__ == '__main__':
    main(sys.argv[1:])
