"""The curriculum's one-way data flow on every training path.

The hook sets knobs (``objective.set_schedule``) and reads the probe's numbers from the
step's outputs: checked through mmengine's ``MMDistributedDataParallel.train_step``
in 2 real gloo processes against one process's ``BaseModel.train_step``, and
through ``FlexibleRunner`` against the plain ``Runner``.
"""
import os

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper

from gloo import run_gloo
from tiny import tiny_dataset_cfg, tiny_model_cfg
from tiny_runner import read_scalars, run_tiny, tiny_runner_cfg
from tpc_cma_mm.engine.hooks import TPCCurriculumHook
from tpc_cma_mm.registry import DATASETS, MODELS

BATCH = 4
PROBES = ('probe_grad_con', 'probe_grad_cma', 'probe_grad_cos')
# The gap estimate of the gathered batch: every rank reports the one-process value.
REPORTED = PROBES + ('gap_sq_centroid', 'gap_sq_distribution', 'gap_sq_raw')


def _build(local_loss=False, combine='convex'):
    """The tiny model in float64, images included: the layouts sum in different
    orders (tests/models/losses/test_gathered_ddp.py)."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg(
        cma_loss=dict(type='CMALoss'), grad_probe=dict(pcgrad=True), combine=combine,
        contrastive_loss=dict(type='ContrastiveLoss', local_loss=local_loss))).double()
    # mmengine's ImgDataPreprocessor casts images to float32.
    model.data_preprocessor.register_forward_hook(
        lambda module, args, out: {**out, 'inputs': out['inputs'].double()})
    return model


def _data(part=slice(None)):
    dataset = DATASETS.build(tiny_dataset_cfg(num_samples=2 * BATCH))
    items = [dataset[i] for i in range(2 * BATCH)][part]
    return dict(inputs=[d['inputs'] for d in items],
                data_samples=[d['data_samples'] for d in items])


def _train_step(model, wrapped, data):
    model.objective.set_schedule(alpha=0.4, probe=True)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.5))
    log_vars = wrapped.train_step(data, optim_wrapper=optim)
    return ({k: float(log_vars[k]) for k in REPORTED},
            {n: p.detach().clone() for n, p in model.named_parameters()})


def _worker(rank, local_loss, combine, out_dir):
    model = _build(local_loss, combine)
    ddp = MMDistributedDataParallel(model, device_ids=None)
    stats, weights = _train_step(model, ddp, _data(slice(rank * BATCH, (rank + 1) * BATCH)))
    torch.save(dict(stats=stats, weights=weights), os.path.join(out_dir, f'rank{rank}.pt'))


@pytest.mark.slow  # 2 gloo processes
@pytest.mark.parametrize('local_loss,combine', [(False, 'convex'), (True, 'convex'),
                                                (False, 'grad_share')])
def test_mmddp_train_step_reports_the_one_process_probe(tmp_path, local_loss, combine):
    """Also with the local contrastive loss (its gradients, probe and step, equal
    the global loss's, which in one process it is) and with grad_share (its
    weight comes from the rank-averaged norms); the batch gap estimate too."""
    run_gloo(_worker, local_loss, combine, str(tmp_path))
    model = _build(combine=combine)
    stats, weights = _train_step(model, model, _data())
    for rank in range(2):
        res = torch.load(tmp_path / f'rank{rank}.pt', weights_only=True)
        for key, value in stats.items():
            assert res['stats'][key] == pytest.approx(value, rel=1e-10, abs=1e-12), key
        for name, value in weights.items():  # one SGD step (PCGrad included) alike
            torch.testing.assert_close(res['weights'][name], value, rtol=1e-10, atol=1e-12,
                                       msg=name)


CURRICULUM = dict(type='TPCCurriculumHook', alpha_target=0.5, phases=(0.25, 0.5, 0.25),
                  probe_interval=2)


def _curriculum_run(work_dir, **overrides):
    cfg = tiny_runner_cfg(work_dir, max_iters=6, interval=6, curriculum=False,
                          custom_hooks=[dict(CURRICULUM)], **overrides)
    model = {}

    class Snapshot(Hook):
        def before_train(self, runner):
            model['before'] = set(vars(runner.model))

    cfg['custom_hooks'].append(Snapshot())
    runner = run_tiny(cfg)
    hook = next(h for h in runner.hooks if isinstance(h, TPCCurriculumHook))
    return runner, hook, model['before']


def _ema(values, momentum=0.9):
    average = values[0]
    for value in values[1:]:
        average = momentum * average + (1 - momentum) * value
    return average


@pytest.mark.parametrize('runner_type', ['Runner', 'FlexibleRunner'])
def test_the_hook_reads_the_probe_from_the_step_and_plants_nothing(tmp_path, monkeypatch,
                                                                  runner_type):
    import mmengine.runner

    # run_tiny builds whatever mmengine.runner.Runner is when it runs.
    monkeypatch.setattr(mmengine.runner, 'Runner', getattr(mmengine.runner, runner_type))
    runner, hook, before = _curriculum_run(tmp_path)
    assert type(runner).__name__ == runner_type
    # The hook turned knobs only: no attribute appeared on the model.
    assert set(vars(runner.model)) == before
    # Its averages are those of the measurements the steps reported (probed
    # iterations 0, 2, 4 are logged as steps 1, 3, 5).
    logged = read_scalars(str(tmp_path))
    assert hook.state['probes'] == 3
    for key in ('grad_con', 'grad_cma', 'grad_cos'):
        reported = [logged[step][f'probe_{key}'] for step in (1, 3, 5)]
        assert hook.state[key] == pytest.approx(_ema(reported), rel=1e-6), key
    assert [logged[i + 1]['alpha'] for i in range(6)] == pytest.approx(hook.history)
