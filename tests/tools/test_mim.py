"""`mim` and 'tpc_cma_mm::' configs on an installed (not editable) plugin, with the real openmim."""
import os
import os.path as osp
import subprocess

import pytest

from overlay_venv import make_overlay_venv

pytest.importorskip('mim', reason="pip install -e '.[mim]'")
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CHILD = """_base_ = ['tpc_cma_mm::tpc_cma/tpc-cma-a0.5_vit-tiny-p8_1xb256-300i_shapes.py']
train_cfg = dict(max_iters=7)
"""


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """The plugin built and installed as a user's `pip install .` would, in a venv
    over this environment; PYTHONPATH cleared so that the installed copy is the one used."""
    root = tmp_path_factory.mktemp('mim')
    python, _ = make_overlay_venv(root)
    subprocess.run([python, '-m', 'pip', 'install', '-q', '--no-deps', '--no-build-isolation',
                    REPO], check=True, cwd=root)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    return python, env, root


def _run(installed, *args, check=True):
    python, env, root = installed
    return subprocess.run([python, *args], env=env, cwd=root, capture_output=True, text=True,
                          check=check, timeout=300)


@pytest.mark.slow
def test_a_config_inherits_a_shipped_one_by_package_name(installed, tmp_path):
    child = tmp_path / 'child.py'
    child.write_text(CHILD)
    out = _run(installed, '-c', 'import sys, tpc_cma_mm; from mmengine.config import Config; '
               'cfg = Config.fromfile(sys.argv[1]); '
               'print(cfg.model.type, cfg.train_cfg.max_iters, cfg.custom_hooks[0].alpha_target)',
               str(child)).stdout.split()
    assert out[-3:] == ['DualEncoder', '7', '0.5']


@pytest.mark.slow
def test_mim_search_lists_the_models_of_the_metafiles(installed):
    import yaml
    names = [m['Name'] for f in ('clip', 'tpc_cma')
             for m in yaml.safe_load(open(osp.join(REPO, 'configs', f, 'metafile.yml')))['Models']]
    out = _run(installed, '-m', 'mim', 'search', 'tpc_cma_mm').stdout
    missing = [name for name in names if name not in out]
    assert not missing, out


@pytest.mark.slow
def test_mim_train_finds_the_config_and_runs_the_plugin_train_tool(installed, tmp_path):
    """The fine-tune config by file name alone: the plugin's tools/train.py starts
    and stops at the config's own check for its pretrained weights."""
    run = _run(installed, '-m', 'mim', 'train', 'tpc_cma_mm',
               'clip_vit-tiny-p8_1xb256-300i_shapes-ft.py', '--work-dir', str(tmp_path / 'w'),
               '--cfg-options', f'load_from={tmp_path}/absent.pth', check=False)
    text = run.stdout + run.stderr
    assert run.returncode != 0
    assert 'FileNotFoundError' in text and 'absent.pth' in text and 'tiny pretrained' in text, text


def test_mims_own_table_of_the_model_index_without_an_install():
    """docs/interop.md's alternative to `mim search` in an editable checkout: mim's own
    table functions on the repository's model-index.yml list every metafile model."""
    import yaml
    from mim.commands.search import convert2df
    from modelindex.load_model_index import load
    names = [m['Name'] for f in ('clip', 'tpc_cma')
             for m in yaml.safe_load(open(osp.join(REPO, 'configs', f, 'metafile.yml')))['Models']]
    table = convert2df(load(osp.join(REPO, 'model-index.yml')))
    assert sorted(table.index) == sorted(names)


@pytest.mark.slow
def test_mim_search_misses_an_editable_install_where_docs_say(tmp_path):
    """An editable (PEP 660) install leaves only metadata in site-packages; mim looks for
    the package beside it, then under top_level.txt's first name (docs/interop.md, "mim")."""
    python, site = make_overlay_venv(tmp_path)
    subprocess.run([python, '-m', 'pip', 'install', '-q', '--no-deps', '--no-build-isolation',
                    '-e', REPO], check=True, cwd=tmp_path)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    run = subprocess.run([python, '-m', 'mim', 'search', 'tpc_cma_mm'], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert f'{site}/tpc_cma_lab/model-index.yml' in run.stderr, run.stderr
