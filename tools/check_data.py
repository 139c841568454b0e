"""Check the data of a real-scale run before it starts: ``python tools/check_data.py data``.

Validates what docs/real_scale.md lists (files present, annotation schemas, split
counts against the published ones, images decodable) and exits 1 on any problem.
"""
import argparse
import sys

from tpc_cma_mm.apis.check_data import CHECKS, check_data


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('data_root', help='folder holding coco/, cifar10/, cifar100/, imagenet/')
    parser.add_argument('--only', nargs='+', choices=list(CHECKS), default=list(CHECKS))
    parser.add_argument('--decode', type=int, default=500,
                        help='images opened per split (0: all of them)')
    args = parser.parse_args(argv)
    report = check_data(args.data_root, args.only, args.decode or None)
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
