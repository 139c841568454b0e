"""Reproduce the paper's claims end to end, offline: ``python tools/reproduce.py --quick``.

Pretrains the tiny CLIP on generated captions (cached), fine-tunes every
baseline of docs/spec.md with the same budget, evaluates each model with every
evaluator, and writes a report (markdown table, JSON, plots). With
``--config configs/cma_clip_b16.py --no-pretrain`` the same protocol runs at
real scale from converted CLIP weights and COCO (README, "Real-scale runs").
Finished runs and evaluations are cached in the work dir, keyed by the
settings and both configs' content, so an interrupted reproduction resumes
where it stopped. ``--report-only --out DIR`` runs nothing: it rewrites the report in
DIR from the runs its results.json records. The logic is ``tpc_cma_lab.reproduce``.
"""
import argparse
import os
import sys

import torch

from tpc_cma_lab.report import rewrite_report
from tpc_cma_lab.reproduce import MODES, TARGET_TOWERS, TINY_METHOD, TINY_PRETRAIN, reproduce


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='fewer seeds, alphas and iterations: < 10 min on 2 CPU cores')
    parser.add_argument('--config', default=TINY_METHOD,
                        help='a TPC-CMA config; every variant is derived from it')
    parser.add_argument('--pretrain-config', default=TINY_PRETRAIN)
    parser.add_argument('--no-pretrain', action='store_true',
                        help="use the config's load_from as the original model")
    parser.add_argument('--work-dir', help='default: work_dirs/reproduce, '
                        'work_dirs/reproduce_quick with --quick')
    parser.add_argument('--out', help='report directory (default: WORK_DIR/report)')
    parser.add_argument('--overwrite', action='store_true',
                        help="replace a report in --out made by another command")
    parser.add_argument('--report-only', action='store_true',
                        help="run nothing: rewrite --out's report from the runs its "
                        'results.json records, with this code\'s tables and verdicts')
    parser.add_argument('--seeds', type=int, nargs='+')
    parser.add_argument('--alphas', type=float, nargs='+', help='TPC-CMA alpha_target values')
    parser.add_argument('--const-alphas', type=float, nargs='+', help='constant-alpha CMA values')
    parser.add_argument('--convex-alphas', type=float, nargs='*',
                        help="TPC-CMA alpha_target values also run with combine='convex'")
    parser.add_argument('--gap-targets', type=float, nargs='*',
                        help='centroid reductions the gap-target rows ask for (none: no rows)')
    parser.add_argument('--target-towers', nargs='*', choices=sorted(TARGET_TOWERS),
                        help='towers besides the config\'s the gap-target rows also run on')
    parser.add_argument('--c3-noise-std', type=float,
                        help="noise std of the C3 captioning baseline's decoder training")
    for key in ('pretrain_iters', 'finetune_iters', 'decoder_iters', 'caption_train',
                'caption_test'):
        parser.add_argument('--' + key.replace('_', '-'), type=int)
    parser.add_argument('--jobs', type=int,
                        help='runs in parallel, one process each, the CPU cores shared '
                        'among them (default: 1 with a GPU, else the number of cores)')
    parser.add_argument('--threads', type=int,
                        help='torch threads of every process (main and each job), recorded '
                        'with the results: the numbers are bit-identical only at one thread '
                        'count (default: the number of cores over --jobs)')
    args = parser.parse_args(argv)
    if args.report_only and not args.out:
        parser.error('--report-only needs --out, the folder of the report to rewrite')
    if args.jobs is None:
        args.jobs = 1 if torch.cuda.is_available() else (os.cpu_count() or 1)
    if args.jobs < 1:
        parser.error(f'--jobs must be >= 1, got {args.jobs}')
    if args.threads is not None and args.threads < 1:
        parser.error(f'--threads must be >= 1, got {args.threads}')
    args.work_dir = args.work_dir or ('work_dirs/reproduce_quick' if args.quick
                                      else 'work_dirs/reproduce')
    settings = dict(MODES['quick' if args.quick else 'full'])
    settings.update({k: v for k, v in vars(args).items() if k in settings and v is not None})
    return args, settings


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args, settings = parse_args(argv)
    command = ' '.join(['python tools/reproduce.py'] + argv)
    if args.report_only:
        rewrite_report(args.out, command, args.overwrite)
        print(f'Report rewritten in {args.out}')
        return
    reproduce(args.config, args.work_dir, settings, args.jobs,
              None if args.no_pretrain else args.pretrain_config, args.out, args.overwrite,
              command=command, threads=args.threads)


if __name__ == '__main__':
    main()
