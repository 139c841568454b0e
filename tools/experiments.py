"""Run the study of docs/method.md ("Experiments"): ``python tools/experiments.py GROUP ...``.

Each group (tpc_cma_lab.study.EXPERIMENTS) trains and scores its runs one
after another, recording each in ``--results`` as it finishes; a rerun skips
what is recorded. ``--caption`` captions every job of the run as well (the
reproduction's protocol; recorded entries get their captions without retraining);
``--pool-report DIR`` writes the model pool's R² report of ``--results``. Reports
are written atomically; files of other content in DIR are refused unless ``--overwrite``.
"""
import argparse
import sys

from mmengine.config import Config
from mmengine.registry import init_default_scope

from tpc_cma_lab.study import (EXPERIMENTS, Study, budget_table, write_pool_report,
                               write_study_report)
from tpc_cma_mm.apis.outputs import read_json


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('groups', nargs='*', help=f'any of {sorted(EXPERIMENTS)}')
    parser.add_argument('--pretrain-config', required=True)
    parser.add_argument('--finetune-config', required=True,
                        help='a TPC-CMA config; every fine-tuning variant derives from it')
    parser.add_argument('--resnet-config', help='a config whose model has the ResNet tower')
    parser.add_argument('--work-dir', default='work_dirs/study')
    parser.add_argument('--results', default='results/experiments/study.json')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads of every run and score, recorded in each entry')
    parser.add_argument('--report', help='write study.md and the plots of --results here')
    parser.add_argument('--pool-report', help='write pool.md (R² per task and gap key) here')
    parser.add_argument('--budget-table', action='store_true',
                        help='print the budget table of --results (TPC-CMA 0.05 beside '
                        'contrastive fine-tuning per iteration count)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace report files of other content in --report / --pool-report')
    parser.add_argument('--caption', action='store_true',
                        help='caption every job (decoder on text embeddings, CIDEr)')
    parser.add_argument('--decoder-iters', type=int, default=300)
    parser.add_argument('--caption-train', type=int, default=3000)
    parser.add_argument('--caption-test', type=int, default=300)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.groups) - set(EXPERIMENTS))
    if unknown:
        parser.error(f'unknown groups {unknown}; choose from {sorted(EXPERIMENTS)}')
    return args


def main(argv=None):
    args = parse_args(argv)
    pretrain, finetune = (Config.fromfile(p) for p in (args.pretrain_config, args.finetune_config))
    init_default_scope(finetune.get('default_scope', 'tpc_cma_mm'))
    resnet = Config.fromfile(args.resnet_config).model if args.resnet_config else None
    captioning = dict(decoder_iters=args.decoder_iters, num_train=args.caption_train,
                      num_test=args.caption_test) if args.caption else None
    study = Study(pretrain, finetune, args.work_dir, args.results, resnet, captioning,
                  args.threads)
    study.run([job for group in args.groups for job in EXPERIMENTS[group]])
    if args.budget_table:
        print('\n'.join(budget_table(read_json(args.results, 'results file'))))
    command = 'python tools/experiments.py ' + ' '.join(sys.argv[1:] if argv is None else argv)
    for out_dir, write in ((args.report, write_study_report),
                           (args.pool_report, write_pool_report)):
        if out_dir:
            try:
                path = write(read_json(args.results, 'results file'), out_dir, command,
                             args.overwrite)
            except OSError as err:  # other content there, a symbolic link, a full disk
                raise SystemExit(f'error: {err}') from err
            print(f'Report written to {path}')


if __name__ == '__main__':
    main()
