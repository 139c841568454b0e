"""Check the data of a run before it starts.

``python tools/check_data.py CONFIG``: every data set the config names (files
present, entries and distinct images counted, images decodable); the published
Karpathy counts are compared only with ``--expect-karpathy``.

``python tools/check_data.py DATA_ROOT``: the real-scale layout of
docs/real_scale.md (annotation schemas, split counts against the published
ones, images decodable). Both exit 1 on any problem.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction  # light (no torch): --help stays fast


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Check the data of a run before it starts.')
    parser.add_argument('target', help='a config file, or a data folder holding coco/, '
                        'cifar10/, cifar100/, imagenet/ (docs/real_scale.md)')
    parser.add_argument('--only', nargs='+', choices=['coco', 'cifar10', 'cifar100', 'imagenet'],
                        help='data folder mode: the data sets to check (default: all)')
    parser.add_argument('--decode', type=int, default=500,
                        help='images opened per split (0: all of them)')
    parser.add_argument('--expect-karpathy', action='store_true',
                        help="config mode: compare CocoKarpathyCaptions splits with the "
                        'published Karpathy image counts')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config mode: override config entries (as tools/train.py)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)  # before the heavy imports: --help stays fast
    is_config = osp.isfile(args.target) and args.target.endswith('.py')
    if not is_config and (args.expect_karpathy or args.cfg_options):
        raise SystemExit('error: --expect-karpathy and --cfg-options need a config file, '
                         f'got the folder {args.target!r}')
    if is_config:
        from tpc_cma_mm.apis.check_config_data import check_config_data
        from tpc_cma_mm.apis.model import load_config
        cfg = load_config(args.target, args.cfg_options)
        report = check_config_data(cfg, args.decode or None, args.expect_karpathy)
    else:
        from tpc_cma_mm.apis.check_data import CHECKS, check_data
        report = check_data(args.target, args.only or list(CHECKS), args.decode or None)
    failed = False
    for name, outcome in report.items():
        print(f'== {name}: {"OK" if not outcome["problems"] else "PROBLEMS"}')
        for key, value in outcome['results'].items():
            print(f'   {key}: {value}')
        for problem in outcome['problems']:
            print(f'   PROBLEM {problem}')
        failed |= bool(outcome['problems'])
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
