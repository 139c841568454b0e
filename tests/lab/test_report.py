"""The report's tables in a fixed order, and its rewrite from recorded runs (--report-only)."""
import json
import os.path as osp
import shutil

import pytest

from tpc_cma_lab.report import aggregate, reductions, rewrite_report
from tpc_cma_mm.apis.outputs import OutputExistsError
from tpc_cma_mm.evaluation.functional.gaps import DISTANCE_KEYS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
QUICK = osp.join(REPO, 'results', 'reproduction', 'quick', 'results.json')


def test_reductions_follow_the_distance_keys_order():
    """gap_reduction iterates a set of keys, whose order changes with PYTHONHASHSEED; the
    report's must not, or results.json's bytes change from run to run."""
    summary = aggregate(json.load(open(QUICK))['runs'])
    for cut in reductions(summary).values():
        assert list(cut) == [k for k in DISTANCE_KEYS if k in cut] and len(cut) > 3


@pytest.mark.slow  # three reports written, figures included
def test_rewrite_keeps_the_runs_and_says_who_rewrote(tmp_path):
    shutil.copy(QUICK, tmp_path / 'results.json')
    before = json.load(open(QUICK))
    with pytest.raises(OutputExistsError):  # other bytes in results.json: not without overwrite
        rewrite_report(str(tmp_path), 'python tools/reproduce.py --report-only --out X')
    rewrite_report(str(tmp_path), 'python tools/reproduce.py --report-only --out X', True)
    after = json.load(open(tmp_path / 'results.json'))
    assert after['runs'] == before['runs'] and after['command'] == before['command']
    assert after['rewritten_by'] == 'python tools/reproduce.py --report-only --out X'
    text = (tmp_path / 'results.md').read_text()
    assert 'rewritten from the recorded runs by `python tools/reproduce.py --report-only' in text
    first = (tmp_path / 'results.json').read_bytes()
    rewrite_report(str(tmp_path), 'python tools/reproduce.py --report-only --out X')
    assert (tmp_path / 'results.json').read_bytes() == first  # a repeat is byte-identical


def test_rewrite_refuses_a_file_that_is_no_report(tmp_path):
    (tmp_path / 'results.json').write_text(json.dumps({'runs': {}}))
    with pytest.raises(ValueError, match=r"lacks \['command', 'settings'\]"):
        rewrite_report(str(tmp_path), 'cmd')


@pytest.mark.slow  # a report written, figures included
def test_the_tool_rewrites_only_with_a_report_folder(tmp_path):
    from tool_runner import run_tool
    done = run_tool('tools/reproduce.py', '--report-only')
    assert done.returncode == 2 and '--report-only needs --out' in done.stderr
    shutil.copy(QUICK, tmp_path / 'results.json')
    done = run_tool('tools/reproduce.py', '--report-only', '--out', tmp_path, '--overwrite')
    assert done.returncode == 0, done.stderr
    written = json.load(open(tmp_path / 'results.json'))
    assert written['rewritten_by'] == (f'python tools/reproduce.py --report-only --out '
                                       f'{tmp_path} --overwrite')
    assert written['runs'] == json.load(open(QUICK))['runs']
