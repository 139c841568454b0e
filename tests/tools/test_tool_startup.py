"""What every command prints and costs before it starts: --help, warnings, schedule checks."""
import glob
import importlib.util
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHAPES_FT = 'configs/tpc_cma/tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py'


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=True)


@pytest.mark.parametrize('tool', ['tools/train.py', 'tools/test.py', 'tools/check_data.py'])
def test_help_answers_before_the_heavy_imports(tool):
    out = _python(f"""import runpy, sys
sys.argv = ['{tool}', '--help']
try:
    runpy.run_path('{tool}', run_name='__main__')
except SystemExit:
    pass
print('LOADED', sorted(m for m in ('torch', 'mmpretrain', 'tpc_cma_mm') if m in sys.modules))
""").stdout
    assert 'usage:' in out and "LOADED []" in out


def test_the_plugin_import_hides_only_mmcv_lites_missing_op_warning(fresh_api_import):
    # The plugin's import (tests/conftest.py: the plugin, then its API) in a fresh interpreter.
    assert fresh_api_import.returncode == 0, fresh_api_import.stderr[-2000:]
    assert 'MultiScaleDeformableAttention' not in fresh_api_import.stderr
    if importlib.util.find_spec('mmcv._ext') is None:  # mmcv-lite: the warning is still
        alone = _python('import mmpretrain.models').stderr  # mmpretrain's own, not filtered
        assert 'MultiScaleDeformableAttention' in alone


def test_a_run_logs_no_unused_file_client_notice(tmp_path):
    from tiny_runner import run_tiny, tiny_runner_cfg
    run_tiny(tiny_runner_cfg(tmp_path, max_iters=2, interval=2, curriculum=False))
    (log, ) = glob.glob(str(tmp_path / '*' / '*.log'))
    text = open(log).read()
    assert '"FileClient" will be deprecated' not in text
    assert '"HardDiskBackend" is the alias' not in text


def test_a_schedule_longer_than_the_run_is_refused_and_iters_scales_it(tmp_path):
    from tools.train import build_config, parse_args
    short = ['--work-dir', str(tmp_path), '--cfg-options', 'train_cfg.max_iters=3']
    with pytest.raises(ValueError, match=r'runs to iteration 300 but train_cfg\.max_iters=3.*'
                                         r'--iters 3'):
        build_config(parse_args([SHAPES_FT, *short]))
    cfg = build_config(parse_args([SHAPES_FT, '--work-dir', str(tmp_path), '--iters', '30']))
    # 20 warm-up iterations of 300 become 2 of 30; the cosine ends with the run
    assert [(s.begin, s.end) for s in cfg.param_scheduler] == [(0, 2), (2, 30)]
    assert cfg.train_cfg.max_iters == 30
