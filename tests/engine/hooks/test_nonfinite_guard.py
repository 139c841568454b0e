"""A NaN / Inf loss stops training with a diagnosis and never reaches a checkpoint."""
import math
import types

import pytest
import torch
from mmengine.hooks import Hook
from torch import nn

from gloo import run_gloo
from tiny_runner import run_tiny, tiny_runner_cfg
from tpc_cma_mm.engine.hooks import NonFiniteGuardHook, NonFiniteLossError
from tpc_cma_mm.utils import safe_torch_load


class PoisonLogitScale(Hook):
    """Sets the logit scale to NaN before the iteration with 0-based index ``at``."""

    priority = 'LOWEST'

    def __init__(self, at: int):
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.at:
            with torch.no_grad():
                runner.model.logit_scale.fill_(float('nan'))


def test_nan_loss_stops_with_diagnosis_and_keeps_last_good_checkpoint(tmp_path):
    cfg = tiny_runner_cfg(tmp_path, max_iters=8, interval=2,
                          custom_hooks=tiny_runner_cfg(tmp_path)['custom_hooks']
                          + [PoisonLogitScale(at=4)])
    with pytest.raises(NonFiniteLossError) as info:
        run_tiny(cfg)
    message = str(info.value)
    assert 'iteration 5' in message                      # 1-based, as mmengine logs it
    assert 'loss=nan' in message and 'loss_contrastive=nan' in message
    assert 'alpha=' in message and 'logit_scale=nan' in message
    good = str(tmp_path / 'iter_4.pth')
    assert f'last good checkpoint is {good}' in message
    assert sorted(p.name for p in tmp_path.glob('iter_*.pth')) == ['iter_2.pth', 'iter_4.pth']
    assert (tmp_path / 'last_checkpoint').read_text() == good
    state = safe_torch_load(good)['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def _fake_runner(tmp_path, model=None):
    return types.SimpleNamespace(iter=6, work_dir=str(tmp_path),
                                 model=model or nn.Linear(2, 2))


def test_inf_term_is_reported_with_alpha(tmp_path):
    model = nn.Linear(2, 2)
    model.alpha = 0.25
    outputs = dict(loss=torch.tensor(1.5), loss_cma=torch.tensor(math.inf),
                   cma_cent=torch.tensor(0.5))
    with pytest.raises(NonFiniteLossError, match=r'iteration 7: loss_cma\..*alpha=0.25'):
        NonFiniteGuardHook().after_train_iter(_fake_runner(tmp_path, model), 0, None, outputs)
    NonFiniteGuardHook().after_train_iter(  # finite values pass
        _fake_runner(tmp_path, model), 0, None, dict(loss=torch.tensor(1.5), alpha=0.25))


def test_weight_check_and_save_refusal(tmp_path):
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight[0, 0] = float('nan')
    runner = _fake_runner(tmp_path, model)
    (tmp_path / 'last_checkpoint').write_text('/x/iter_4.pth')
    with pytest.raises(NonFiniteLossError, match='weight weight'):
        NonFiniteGuardHook(check_weights=True).after_train_iter(runner, 0, None, dict(loss=1.0))
    with pytest.raises(NonFiniteLossError, match=r'Refusing to save.*1 weights.*/x/iter_4.pth'):
        NonFiniteGuardHook().before_save_checkpoint(runner, dict(state_dict=model.state_dict()))
    with pytest.raises(ValueError, match='check_weights'):
        NonFiniteGuardHook(check_weights='yes')


class PoisonGradient(Hook):
    """Makes the gradient of ``text_projection`` infinite in the iteration with
    0-based index ``at`` (the loss stays finite), and records the weights just
    before and after that iteration."""

    priority = 'LOWEST'

    def __init__(self, at: int):
        self.at, self.handle, self.before, self.after = at, None, None, None

    @staticmethod
    def _weights(runner):
        return {n: p.detach().clone() for n, p in runner.model.named_parameters()}

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.at:
            self.model, self.before = runner.model, self._weights(runner)
            self.handle = runner.model.text_projection.register_hook(
                lambda grad: grad * float('inf'))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter == self.at:
            self.handle.remove()
            self.loss, self.after = float(outputs['loss']), self._weights(runner)


def _grad_run(tmp_path, action):
    poison = PoisonGradient(at=3)  # not a probed iteration (the curriculum's K is 2)
    cfg = tiny_runner_cfg(tmp_path, max_iters=5, interval=5,
                          custom_hooks=tiny_runner_cfg(tmp_path)['custom_hooks'] + [poison])
    cfg['default_hooks']['nonfinite_guard'] = dict(type='NonFiniteGuardHook',
                                                   on_nonfinite_grad=action)
    return cfg, poison


def test_nonfinite_gradient_stops_before_the_step(tmp_path):
    cfg, poison = _grad_run(tmp_path, 'raise')
    with pytest.raises(NonFiniteLossError) as info:
        run_tiny(cfg)
    message = str(info.value)
    assert 'Non-finite gradient norm' in message and 'iteration 4 (on this rank: ' in message
    assert 'the loss was finite' in message
    assert "on_nonfinite_grad='skip'" in message
    for name, param in poison.model.named_parameters():  # the step was not taken
        assert torch.equal(param.detach(), poison.before[name]), name
        assert torch.isfinite(param).all(), name


def test_nonfinite_gradient_step_is_skipped_and_counted(tmp_path):
    cfg, poison = _grad_run(tmp_path, 'skip')
    runner = run_tiny(cfg)
    assert math.isfinite(poison.loss)  # the loss was finite, the gradient was not
    for name, value in poison.after.items():
        assert torch.equal(value, poison.before[name]), name  # skipped: nothing moved
    guard = next(h for h in runner.hooks if isinstance(h, NonFiniteGuardHook))
    assert guard.skipped_steps == 1
    assert runner.message_hub.get_scalar('train/skipped_steps').current() == 1
    final = dict(runner.model.named_parameters())
    assert all(torch.isfinite(p).all() for p in final.values())
    assert not torch.equal(final['text_projection'], poison.after['text_projection'])
    with pytest.raises(ValueError, match='on_nonfinite_grad'):
        NonFiniteGuardHook(on_nonfinite_grad='ignore')


class PoisonWeightAfterStep(Hook):
    """Sets a weight to NaN after the guard's check of iteration index ``at``
    and before that iteration's checkpoint."""

    priority = 'NORMAL'

    def __init__(self, at: int):
        self.at = at

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter == self.at:
            with torch.no_grad():
                runner.model.text_projection[0, 0] = float('nan')


def test_save_refusal_names_the_checkpoint_iteration(tmp_path):
    cfg = tiny_runner_cfg(tmp_path, max_iters=4, interval=2,
                          custom_hooks=tiny_runner_cfg(tmp_path)['custom_hooks']
                          + [PoisonWeightAfterStep(at=1)])
    with pytest.raises(NonFiniteLossError, match=r'Refusing to save a checkpoint at iteration 2:'):
        run_tiny(cfg)
    assert not list(tmp_path.glob('iter_*.pth'))


def _sharded_worker(rank, out_dir):
    from mmengine.logging import MMLogger
    from mmengine.optim import OptimWrapper
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    runner = types.SimpleNamespace(
        iter=0, work_dir=out_dir, model=model, logger=MMLogger.get_instance(f'guard{rank}'),
        optim_wrapper=OptimWrapper(torch.optim.SGD(model.parameters(), lr=1.0)))
    guard = NonFiniteGuardHook()
    guard.before_train(runner)
    before = model.weight.detach().clone()
    model(torch.ones(1, 3)).sum().backward()
    if rank == 1:  # as a gradient shard of FSDP: only this rank's is infinite
        model.weight.grad[0, 0] = float('inf')
    runner.optim_wrapper.step()
    try:
        guard.after_train_iter(runner, 0, None, dict(loss=torch.tensor(1.0)))
        raised = False
    except NonFiniteLossError:
        raised = True
    torch.save(dict(unchanged=torch.equal(model.weight, before), raised=raised),
               f'{out_dir}/rank{rank}.pt')


@pytest.mark.slow  # 2 gloo processes
def test_a_nonfinite_gradient_on_one_rank_stops_every_rank(tmp_path):
    run_gloo(_sharded_worker, str(tmp_path))
    for rank in range(2):
        res = torch.load(tmp_path / f'rank{rank}.pt', weights_only=True)
        assert res == dict(unchanged=True, raised=True), rank
