"""How far two reproduction reports' numbers lie apart, and where their verdicts differ.

    python tools/compare_reports.py OLD/results.json NEW/results.json [--metrics gap/ zero_shot]
        [--variants original 'posthoc gap shift']

Prints one markdown row per metric (largest and mean absolute difference over the runs both
record) and the claims whose verdicts differ. The logic is ``tpc_cma_lab.report_diff``.
"""
import argparse

from tpc_cma_lab.report_diff import differences_table, run_differences
from tpc_cma_lab.verdict_table import compare_verdicts
from tpc_cma_mm.apis.outputs import read_json


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('reports', nargs=2, help="two reports' results.json")
    parser.add_argument('--metrics', nargs='+', help='metric name prefixes (default: all)')
    parser.add_argument('--variants', nargs='+', help='variant names (default: all)')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    a, b = (read_json(path, 'report') for path in args.reports)
    diffs = run_differences(a['runs'], b['runs'], args.metrics, args.variants)
    print('\n'.join(differences_table(diffs)))
    disagreements = compare_verdicts(a['verdicts'], b['verdicts'], ('first', 'second'))
    print('\nVerdicts that differ:')
    print('\n'.join(f'- {line}' for line in disagreements) or '- none')
    return dict(differences=diffs, verdicts=disagreements)


if __name__ == '__main__':
    main()
