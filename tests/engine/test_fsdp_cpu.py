"""FSDP and DeepSpeed ZeRO-2 for real: 2 gloo processes train through mmengine's
FlexibleRunner (ScalarSafeFSDPStrategy, DeepSpeedStrategy) with the loss curves
of one process, hence of DDP: 2-process DDP equals one process in its losses and
weights (tests/tools/test_dist_train.py) and in the probe the curriculum reads
(tests/engine/test_curriculum_data_flow.py). The DeepSpeed test needs the 'deepspeed' extra.

Every rank gathers the embeddings with gradients, so InfoNCE and the CMA
statistics are those of the global batch whatever shards the parameters;
FSDP's reduce-scatter averages gradients like DDP's all-reduce. Each FSDP rank is
tools/train.py as tools/dist_train.sh starts it (``--launcher pytorch``), in a gloo
process forked from this one (tests/gloo.py): a fresh interpreter per rank would pay
the torch + mmpretrain import and prove nothing more (the launcher itself:
tests/tools/test_dist_train.py). SGD, as in
tests/tools/test_dist_train.py, so that the weights agree too. All runs start
from one saved initial model (``load_from``): FlexibleRunner builds the model
at another point of the seeded random stream than Runner does. The FSDP run
stops after 4 iterations and resumes to 6 from its full checkpoint (weights,
SGD momentum, curriculum state), which must also load strictly into an
unsharded model. The FSDP and single-process runs are in float64
(tests/float64_model.py): the layouts sum in different orders.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from benchmarks.bench_ddp_cpu import MODEL, read_scalars, run_training, write_config
from float64_model import FLOAT64_CONFIG
from gloo import run_gloo
from tiny import tiny_model_cfg
from tool_runner import run_tool
from tpc_cma_mm.engine.sharding import make_scalar_parameters_shardable
from tpc_cma_mm.registry import MODELS
from tpc_cma_mm.utils import safe_torch_load

ITERS, BATCH = 4, 16
SGD = "dict(type='SGD', lr=0.5, momentum=0.9)"
FSDP = '''
runner_type = 'FlexibleRunner'
strategy = dict(type='ScalarSafeFSDPStrategy',
                model_wrapper=dict(auto_wrap_policy='tpc_transformer_block_policy',
                                   use_orig_params=True),
                state_dict_cfg='full')
'''
# The curriculum (consolidation only: alpha does not depend on the run length)
# probes the gradient norms every iteration: under FSDP the
# probed heads sit in the root unit (docs/scaling.md), so the norms, and the
# alpha they cap, must be those of one process.
CURRICULUM = ("\ncustom_hooks = [dict(type='TPCCurriculumHook', alpha_target=0.5, "
              "phases=(0.0, 0.0, 1.0), probe_interval=1)]\n")
KEYS = ('loss', 'loss_contrastive', 'loss_cma')
PROBE_KEYS = ('probe_grad_con', 'probe_grad_cma', 'alpha')


def _curves(work_dir, keys=KEYS, iters=range(1, ITERS + 1)):
    """The logged values of the work dir's latest run, which covered ``iters``."""
    records = read_scalars(work_dir)
    assert [r['iter'] for r in records] == list(iters)
    return {key: torch.tensor([r[key] for r in records], dtype=torch.float64) for key in keys}


def _final_state(work_dir, iters=ITERS):
    return safe_torch_load(osp.join(work_dir, f'iter_{iters}.pth'))['state_dict']


def _train_rank(rank, config, work_dir, *args):
    done = run_tool('tools/train.py', config, '--work-dir', work_dir, '--launcher', 'pytorch',
                    *args)
    assert done.returncode == 0, f'rank {rank}: {done.stderr[-3000:]}'


@pytest.mark.slow  # 2 gloo processes
def test_fsdp_on_two_gloo_processes_trains_like_one_process(tmp_path):
    torch.manual_seed(0)
    initial = str(tmp_path / 'initial.pth')
    torch.save(dict(state_dict=MODELS.build(MODEL).state_dict()), initial)
    start = f'\nload_from = {initial!r}\n' + CURRICULUM + FLOAT64_CONFIG
    one = str(tmp_path / 'one')
    cfg = Config.fromfile(write_config(str(tmp_path / 'one.py'), BATCH, 1, ITERS + 2, SGD, start))
    cfg.work_dir = one
    Runner.from_cfg(cfg).train()
    fsdp = str(tmp_path / 'fsdp')
    run_gloo(_train_rank, write_config(str(tmp_path / 'fsdp.py'), BATCH, 2, ITERS, SGD,
                                       start + FSDP), fsdp)

    keys = KEYS + PROBE_KEYS
    single = _curves(one, keys, range(1, ITERS + 3))
    sharded = _curves(fsdp, keys)
    assert (single['probe_grad_con'] > 0).all() and (single['alpha'] > 0).all()
    for key in keys:
        torch.testing.assert_close(sharded[key], single[key][:ITERS], rtol=1e-9, atol=1e-12)
    assert single['loss'][-1] < single['loss'][0]  # it trained
    # The full checkpoint has the unsharded layout and loads into an unsharded model.
    sharded_state = _final_state(fsdp)
    assert sharded_state.keys() == _final_state(one, ITERS + 2).keys()
    assert sharded_state['logit_scale'].shape == torch.Size([])
    MODELS.build(MODEL).load_state_dict(sharded_state, strict=True)

    # Resumed from it, FSDP continues the single process's curve and weights.
    run_gloo(_train_rank, write_config(str(tmp_path / 'fsdp6.py'), BATCH, 2, ITERS + 2, SGD,
                                       start + FSDP), fsdp, '--resume')
    resumed = _curves(fsdp, keys, range(ITERS + 1, ITERS + 3))
    for key in keys:
        torch.testing.assert_close(resumed[key], single[key][ITERS:], rtol=1e-9, atol=1e-12)
    for name, value in _final_state(one, ITERS + 2).items():
        assert value.dtype != torch.float32, name
        torch.testing.assert_close(_final_state(fsdp, ITERS + 2)[name], value,
                                   rtol=1e-9, atol=1e-12)


def test_scalar_parameters_become_vectors_that_save_and_load_as_scalars():
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg())
    reference = {k: v.clone() for k, v in model.state_dict().items()}
    images, tokens = torch.randn(3, 3, 16, 16), torch.randint(1, 400, (3, 16))
    before = model(images, text_tokens=tokens, mode='loss')
    assert make_scalar_parameters_shardable(model) == ['logit_scale']
    assert model.logit_scale.shape == torch.Size([1]) and model.logit_scale.requires_grad
    assert all(p.dim() > 0 for p in model.parameters())  # nothing left that FSDP refuses
    after = model(images, text_tokens=tokens, mode='loss')
    for key in ('loss_contrastive', 'loss_cma'):
        if key in before:
            torch.testing.assert_close(after[key], before[key])
    saved = model.state_dict()
    assert saved['logit_scale'].shape == torch.Size([])
    torch.testing.assert_close(saved['logit_scale'], reference['logit_scale'])
    model.load_state_dict({**saved, 'logit_scale': torch.tensor(2.5)}, strict=True)
    assert model.logit_scale.shape == torch.Size([1]) and float(model.logit_scale) == 2.5


DEEPSPEED = '''
runner_type = 'FlexibleRunner'
strategy = dict(type='DeepSpeedStrategy', config=dict(zero_allow_untested_optimizer=True),
                zero_optimization=dict(stage=2), gradient_clipping=0.0,
                train_micro_batch_size_per_gpu=%d)
optim_wrapper = dict(type='DeepSpeedOptimWrapper', optimizer=%s)
''' % (BATCH // 2, SGD)


@pytest.mark.slow  # 2 gloo processes
def test_deepspeed_zero2_on_two_gloo_processes_trains_like_one_process(tmp_path):
    # The 'deepspeed' extra (setup.py); not in the test stack: mmengine imports
    # deepspeed eagerly once installed, which slows every import (docs/scaling.md).
    pytest.importorskip('deepspeed')
    from mmengine.runner import FlexibleRunner

    # DeepSpeed loads only its own checkpoint format, so both runs start from
    # FlexibleRunner's seeded initialisation instead of a saved model.
    one = str(tmp_path / 'one')
    cfg = Config.fromfile(write_config(str(tmp_path / 'one.py'), BATCH, 1, ITERS, SGD,
                                       "\nrunner_type = 'FlexibleRunner'\n"))
    cfg.work_dir = one
    FlexibleRunner.from_cfg(cfg).train()
    zero = str(tmp_path / 'zero2')
    run_training(write_config(str(tmp_path / 'zero2.py'), BATCH, 2, ITERS, SGD, DEEPSPEED),
                 zero, world=2, timeout=900)
    single, sharded = _curves(one), _curves(zero)
    for key in KEYS:
        torch.testing.assert_close(sharded[key], single[key], rtol=1e-4, atol=1e-5)
    assert single['loss'][-1] < single['loss'][0]
