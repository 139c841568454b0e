"""One table from the JSON rows the benchmarks wrote (``--json``): ``python -m
benchmarks.suite_table DIR``. Used by benchmarks/gpu_suite.sh."""
import argparse
import glob
import json
import os.path as osp

COLUMNS = ('ms_per_step', 'samples_per_s', 'open_clip_per_s', 'ratio_vs_open_clip',
           'ratio_vs_contrastive', 'ratio_vs_eager', 'executed_pct_peak', 'model_pct_peak',
           'memory_mib', 'image_tower_rows', 'validation_s', 'time_ratio_vs_per_caption')


def table(results) -> str:
    """A markdown table: one line per (benchmark, contender), the known columns."""
    used = [c for c in COLUMNS if any(c in row for r in results for row in r['rows'])]
    lines = ['| benchmark | contender | ' + ' | '.join(used) + ' |',
             '|---|---|' + '---|' * len(used)]
    for result in results:
        for row in result['rows']:
            cells = [str(row.get(c, '')) for c in used]
            lines.append(f'| {result["benchmark"]} | {row["contender"]} | '
                         + ' | '.join(cells) + ' |')
    notes = [f'- {r["benchmark"]}: {r["settings"]}' for r in results]
    return '\n'.join(lines + ['', f'machine: {results[0]["machine"]}; {results[0]["load"]}']
                     + notes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('directory')
    args = parser.parse_args()
    paths = sorted(glob.glob(osp.join(args.directory, '*.json')))
    if not paths:
        raise SystemExit(f'suite_table: no benchmark results (*.json) in {args.directory}')
    results = []
    for path in paths:
        with open(path) as f:
            results.append(json.load(f))
    print(table(results))


if __name__ == '__main__':
    main()
