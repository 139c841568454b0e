"""2-process gloo DDP through tools/dist_train.sh trains like 1 process with the global batch.

Each rank gathers the embeddings (with gradients) before the InfoNCE and CMA
losses, so both losses, and hence the gradients after DDP's averaging, are
those of one process holding the whole batch (the CMA statistics are global).
The reference single process runs in this process (saves a start-up); SGD is
used because Adam turns the rounding noise of gradients that are exactly zero
in theory (the key bias of attention) into full-size steps. Both run in float64
(tests/float64_model.py): the layouts sum in different orders.
"""
import importlib.util
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from float64_model import FLOAT64_CONFIG
from tpc_cma_mm.utils import safe_torch_load

pytestmark = pytest.mark.slow  # 2 processes through tools/dist_train.sh

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load_benchmark():
    """benchmarks/bench_ddp_cpu.py, loaded by path (benchmarks/ is not a package)."""
    path = osp.join(REPO, 'benchmarks', 'bench_ddp_cpu.py')
    spec = importlib.util.spec_from_file_location('bench_ddp_cpu', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_BENCH = _load_benchmark()
read_scalars, run_training, write_config = (_BENCH.read_scalars, _BENCH.run_training,
                                            _BENCH.write_config)

ITERS, BATCH = 4, 16
SGD = "dict(type='SGD', lr=0.5, momentum=0.9)"


def final_state(work_dir):
    return safe_torch_load(osp.join(work_dir, f'iter_{ITERS}.pth'))['state_dict']


def test_two_process_ddp_matches_one_process(tmp_path, monkeypatch):
    monkeypatch.setenv('PYTHONPATH', os.pathsep.join(  # float64_model, in the workers too
        [osp.dirname(osp.dirname(osp.abspath(__file__))), os.environ.get('PYTHONPATH', '')]))
    one = str(tmp_path / 'world1')
    cfg = Config.fromfile(write_config(str(tmp_path / 'cfg1.py'), BATCH, 1, ITERS, SGD,
                                       FLOAT64_CONFIG))
    cfg.work_dir = one
    Runner.from_cfg(cfg).train()

    two = str(tmp_path / 'world2')
    run_training(write_config(str(tmp_path / 'cfg2.py'), BATCH, 2, ITERS, SGD, FLOAT64_CONFIG),
                 two, world=2, threads=1, timeout=900)

    single, ddp = read_scalars(one), read_scalars(two)
    assert [r['iter'] for r in ddp] == [r['iter'] for r in single] == list(range(1, ITERS + 1))
    for key in ('loss', 'loss_contrastive', 'loss_cma'):
        torch.testing.assert_close(torch.tensor([r[key] for r in ddp], dtype=torch.float64),
                                   torch.tensor([r[key] for r in single], dtype=torch.float64),
                                   rtol=1e-9, atol=1e-12)
    assert single[-1]['loss'] < single[0]['loss']  # it trained
    # The weights after training agree too (the gradients were the same all along).
    single_state, ddp_state = final_state(one), final_state(two)
    assert ddp_state.keys() == single_state.keys()
    for name, value in single_state.items():
        assert value.dtype != torch.float32, name
        torch.testing.assert_close(ddp_state[name], value, rtol=1e-9, atol=1e-12)
