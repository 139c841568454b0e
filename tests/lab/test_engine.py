"""The lab's run engine: run keys, the config file a run leaves, the environment record."""
import dataclasses
import hashlib
import importlib.metadata
import json
import os.path as osp
import shutil
import subprocess

import pytest
import torch
from mmengine.config import Config

from tiny_runner import tiny_runner_cfg
from tool_runner import REPO, run_tool
from tpc_cma_lab.engine import (LIBRARIES, RUN_CONFIG, RUN_RECORD, Run, dump_run_config,
                                environment, run_config, run_key, train)
from tpc_cma_lab.engine import env as env_module
from tpc_cma_lab.engine.env import code_digest
from tpc_cma_mm.apis.fingerprint import config_digest
from tpc_cma_mm.utils import safe_torch_load
from tpc_cma_mm.utils.checkpoint.digest import content_digest


def _base(tmp_path) -> Config:
    """A tiny TPC-CMA config, as a file (runs derive from config files)."""
    path = tmp_path / 'tiny.py'
    path.write_text(Config(tiny_runner_cfg(tmp_path / 'unused', max_iters=6)).pretty_text)
    return Config.fromfile(str(path))


def _run(base: Config, work_dir, **fields) -> Run:
    return Run(**dict(dict(config=base.filename, config_digest=config_digest(base),
                           work_dir=str(work_dir), seed=1, iters=3,
                           curriculum=dict(alpha_target=0.3), validate=False, threads=1),
                      **fields))


def _content(cfg: Config) -> dict:
    content = cfg.to_dict()
    content.pop('filename', None)
    return content


def test_run_key_hashes_the_fields_and_the_environment_but_not_the_work_dir(monkeypatch):
    run = Run(config='c.py', config_digest='abc', work_dir='w1', seed=1, iters=3,
              options={'model.alpha': 0.5, 'optim_wrapper.optimizer.lr': 1e-3},
              curriculum=dict(alpha_target=0.5))
    moved = dataclasses.replace(run, work_dir='w2', options={'optim_wrapper.optimizer.lr': 1e-3,
                                                             'model.alpha': 0.5})
    assert run_key(moved) == run_key(run)
    # Independently: SHA-256 of the sorted JSON of the fields and the environment.
    fields = {k: v for k, v in dataclasses.asdict(run).items() if k != 'work_dir'}
    libraries = {name: importlib.metadata.version(name) for name in LIBRARIES}
    text = json.dumps(dict(run=fields, environment=dict(libraries=libraries,
                                                        code=code_digest())), sort_keys=True)
    assert run_key(run) == hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]
    for change in (dict(seed=2), dict(threads=2), dict(iters=4), dict(load_from='x.pth'),
                   dict(options={'model.alpha': 0.6}), dict(curriculum=None),
                   dict(config_digest='abd'), dict(validate=False)):
        assert run_key(dataclasses.replace(run, **change)) != run_key(run), change
    key = run_key(run)
    # Another commit of the same package code (a docs-only one) keeps the key ...
    monkeypatch.setattr(env_module, 'code_version', lambda: 'git another commit')
    assert run_key(run) == key
    # ... other package code does not.
    monkeypatch.setattr(env_module, 'code_digest', lambda: 'other code')
    assert run_key(run) != key


def _py_digests(root) -> dict:
    """Independently of env.py: SHA-256 of every .py file of both packages by its path,
    but mim's copies of configs/ and tools/ (tpc_cma_mm/.mim)."""
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for package in ('tpc_cma_mm', 'tpc_cma_lab')
            for path in sorted((root / package).rglob('*.py'))
            if '.mim' not in path.relative_to(root).parts}


def test_the_code_key_is_the_content_of_the_packages_python_files(tmp_path):
    """The key was the git commit (+dirty): a docs-only commit or any edit made the lab
    refuse or redo every cached run."""
    def copy(name):  # the packages as they are, never the repository itself
        root = tmp_path / name
        for package in ('tpc_cma_mm', 'tpc_cma_lab'):
            shutil.copytree(osp.join(REPO, package), root / package,
                            ignore=shutil.ignore_patterns('__pycache__'))
        (root / 'docs').mkdir()
        (root / 'docs' / 'method.md').write_text('# Method\n')
        return root

    root = copy('checkout')
    files = _py_digests(root)
    assert len(files) > 100 and 'tpc_cma_lab/engine/env.py' in files
    text = json.dumps(files, sort_keys=True)
    assert code_digest(str(root)) == hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]
    assert code_digest(str(root)) == code_digest(REPO)  # where the checkout lies: no part
    # Docs, data files and caches beside the code leave it unchanged ...
    docs = copy('docs_edited')
    (docs / 'docs' / 'method.md').write_text('# Method, reworded\n')
    (docs / 'tpc_cma_mm' / 'notes.md').write_text('a file that is no code\n')
    (docs / 'tpc_cma_lab' / '__pycache__').mkdir()
    (docs / 'tpc_cma_lab' / '__pycache__' / 'env.cpython-311.pyc').write_bytes(b'\0')
    assert code_digest(str(docs)) == code_digest(str(root))
    # ... one changed byte of a package's Python file, a new file or a moved one does not.
    edited = copy('code_edited')
    env_py = edited / 'tpc_cma_lab' / 'engine' / 'env.py'
    env_py.write_bytes(env_py.read_bytes() + b'\n')
    added = copy('code_added')
    (added / 'tpc_cma_mm' / 'extra.py').write_text('')
    moved = copy('code_moved')
    (moved / 'tpc_cma_mm' / 'registry.py').rename(moved / 'tpc_cma_mm' / 'registry_.py')
    keys = {code_digest(str(r)) for r in (root, edited, added, moved)}
    assert len(keys) == 4
    with pytest.raises(FileNotFoundError, match='No Python file'):
        code_digest(str(tmp_path / 'empty'))


def test_a_run_holds_plain_values_only():
    with pytest.raises(ValueError, match=r"Run.options\['model.neck'\].*not a plain value"):
        Run(config='c.py', config_digest='abc', work_dir='w', options={'model.neck': object()})
    with pytest.raises(ValueError, match='threads must be >= 1'):
        Run(config='c.py', config_digest='abc', work_dir='w', threads=0)


def test_the_dumped_config_is_the_config_the_run_trains(tmp_path):
    base = _base(tmp_path)
    for curriculum in ({}, None, dict(alpha_target=0.3, phases=(0.0, 0.5, 0.5)),
                       dict(target=dict(key='centroid', reduction=0.5))):
        run = _run(base, tmp_path / 'w', options={'model.alpha': 0.25,
                                                   'train_dataloader.batch_size': 4},
                   curriculum=curriculum)
        cfg = run_config(run, base)
        assert _content(Config.fromfile(dump_run_config(cfg, str(tmp_path)))) == _content(cfg)
        hooks = [h for h in cfg.custom_hooks if h['type'] == 'TPCCurriculumHook']
        assert (hooks == []) == (curriculum is None)
        if curriculum and 'target' in curriculum:  # one mode replaces the other
            assert 'alpha_target' not in hooks[0]
    assert (cfg.model.alpha, cfg.train_dataloader.batch_size, cfg.train_cfg.max_iters,
            cfg.randomness.seed, cfg.val_dataloader) == (0.25, 4, 3, 1, None)
    # A base of other content than the run names is refused.
    with pytest.raises(ValueError, match='build the run from this config'):
        run_config(run, Config(dict(base.to_dict(), seed=9)))


@pytest.mark.slow  # trains the tiny model twice: through the engine and through tools/train.py
def test_tools_train_on_the_run_config_gives_the_same_weights(tmp_path):
    base = _base(tmp_path)
    run = _run(base, tmp_path / 'engine')
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        ckpt, record = train(run, base)
        assert torch.get_num_threads() == run.threads  # the run's setting, not the caller's
    finally:
        torch.set_num_threads(threads)
    assert len(record['loss']) == 3
    recorded = json.loads((tmp_path / 'engine' / RUN_RECORD).read_text())
    assert recorded['key'] == run_key(run) and recorded['environment']['threads'] == 1
    done = run_tool('tools/train.py', osp.join(run.work_dir, RUN_CONFIG), '--work-dir',
                    tmp_path / 'tool')
    assert done.returncode == 0, done.stderr
    ours, theirs = (safe_torch_load(str(p))['state_dict']
                    for p in (ckpt, tmp_path / 'tool' / 'iter_3.pth'))
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    # The finished run is reused; another run is refused its work dir, not trained over it.
    assert train(run, base) == (ckpt, None)
    with pytest.raises(ValueError, match='holds another run.*another work dir'):
        train(dataclasses.replace(run, seed=2), base)


def test_the_environment_record(tmp_path):
    state = dict(state_dict=dict(w=torch.arange(4.0)))
    torch.save(state, tmp_path / 'original.pth')
    record = environment(3, str(tmp_path / 'original.pth'))
    assert record['threads'] == 3
    assert record['libraries'] == {name: importlib.metadata.version(name)
                                   for name in ('torch', 'numpy', 'mmengine', 'mmpretrain',
                                                'Pillow', 'scikit-learn')}
    assert torch.__version__.startswith(record['libraries']['torch'])
    assert record['original_checkpoint']['content_sha256'] == content_digest(state)
    commit = subprocess.run(['git', '-C', REPO, 'rev-parse', 'HEAD'], capture_output=True,
                            text=True, check=True).stdout.strip()
    # The commit is recorded beside the key's code digest, not in it.
    assert record['commit'] in (f'git {commit}', f'git {commit}+dirty')
    assert record['code'] == code_digest() == env_module.environment_key()['code']
    assert record['cpu'] and record['device'] == 'cpu'
