"""2-process gloo DDP through tools/dist_train.sh trains like 1 process with the global batch.

Each rank gathers the embeddings (with gradients) before the InfoNCE and CMA
losses, so both losses, and hence the gradients after DDP's averaging, are
those of one process holding the whole batch (the CMA statistics are global).
The reference single process runs in this process (saves a start-up); SGD is
used because Adam turns the rounding noise of gradients that are exactly zero
in theory (the key bias of attention) into full-size steps.
"""
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

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


def test_two_process_ddp_matches_one_process(tmp_path):
    one = str(tmp_path / 'world1')
    cfg = Config.fromfile(write_config(str(tmp_path / 'cfg1.py'), BATCH, 1, ITERS, SGD))
    cfg.work_dir = one
    Runner.from_cfg(cfg).train()

    two = str(tmp_path / 'world2')
    run_training(write_config(str(tmp_path / 'cfg2.py'), BATCH, 2, ITERS, SGD), two,
                 world=2, threads=1, timeout=900)

    single, ddp = read_scalars(one), read_scalars(two)
    assert [r['iter'] for r in ddp] == [r['iter'] for r in single] == list(range(1, ITERS + 1))
    for key in ('loss', 'loss_contrastive', 'loss_cma'):
        torch.testing.assert_close(torch.tensor([r[key] for r in ddp]),
                                   torch.tensor([r[key] for r in single]),
                                   rtol=1e-4, atol=1e-5)
    assert single[-1]['loss'] < single[0]['loss']  # it trained
    # The weights after training agree too (the gradients were the same all along).
    single_state, ddp_state = final_state(one), final_state(two)
    assert ddp_state.keys() == single_state.keys()
    for name, value in single_state.items():
        torch.testing.assert_close(ddp_state[name], value, rtol=1e-4, atol=1e-5)
