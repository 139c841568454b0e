"""TPCCurriculumHook: schedule, cap, validation, and exact resume with a real Runner."""
import math

import pytest
import torch

from tiny import tiny_model_cfg
from tiny_runner import StopAt, read_scalars, run_tiny, tiny_runner_cfg
from tpc_cma_mm.engine.hooks import TPCCurriculumHook
from tpc_cma_mm.models.objectives import AlignmentObjective
from tpc_cma_mm.utils import safe_torch_load


@pytest.mark.parametrize('ramp', ['cosine', 'linear'])
def test_schedule_at_phase_boundaries(ramp):
    hook = TPCCurriculumHook(alpha_target=0.5, phases=(0.1, 0.5, 0.4), ramp=ramp)
    assert hook.boundaries(100) == (10, 60)

    def shape(t):
        return t if ramp == 'linear' else 0.5 - 0.5 * math.cos(math.pi * t)

    expected = {0: (0, 0.0), 9: (0, 0.0), 10: (1, 0.5 * shape(1 / 50)),
                34: (1, 0.5 * shape(25 / 50)), 59: (1, 0.5), 60: (2, 0.5), 99: (2, 0.5)}
    for it, (phase, alpha) in expected.items():
        got_phase, got_alpha = hook.schedule(it, 100)
        assert got_phase == phase, it
        assert got_alpha == pytest.approx(alpha, abs=1e-15), it
    alphas = [hook.schedule(i, 100)[1] for i in range(100)]
    assert all(b >= a for a, b in zip(alphas, alphas[1:]))  # monotone ramp


def test_cap_binds_when_cma_gradient_dominates():
    hook = TPCCurriculumHook(alpha_target=0.5, phases=(0.0, 0.0, 1.0), gamma=2.0,
                             ema_momentum=0.5)
    hook.objective = AlignmentObjective(cma_loss=dict(type='CMALoss'), combine='convex')
    assert hook.step(0, 10) == 0.5  # nothing measured yet: no cap
    hook.update(dict(grad_con=1.0, grad_cma=100.0, grad_cos=-0.2))
    alpha = hook.step(1, 10)
    assert alpha == pytest.approx(2.0 / (100.0 + 2.0))
    assert alpha * 100.0 == pytest.approx(2.0 * (1 - alpha) * 1.0)  # the bound holds with equality
    hook.update(dict(grad_con=3.0, grad_cma=0.0, grad_cos=0.0))  # EMA: con 2, cma 50
    assert hook.state['grad_con'] == pytest.approx(2.0)
    assert hook.state['grad_cma'] == pytest.approx(50.0)
    assert hook.step(2, 10) == pytest.approx(4.0 / 54.0)
    hook.update(dict(grad_con=100.0, grad_cma=0.0, grad_cos=0.0))  # CMA now weak
    assert hook.step(3, 10) == 0.5  # the schedule binds again
    assert not TPCCurriculumHook(alpha_target=0.5, grad_aware=False).cap() < 1


@pytest.mark.parametrize('combine,cap', [('convex', 1 / 5), ('additive', 1 / 4),
                                         ('grad_share', 1 / 2)])
def test_cap_follows_the_model_combination(combine, cap):
    from types import SimpleNamespace

    from tpc_cma_mm.registry import MODELS
    model = MODELS.build(tiny_model_cfg(cma_loss=dict(type='CMALoss'), combine=combine))
    hook = TPCCurriculumHook(alpha_target=1.0, phases=(0.0, 0.0, 1.0), gamma=1.0)
    hook.before_train(SimpleNamespace(model=model, iter=0, max_iters=10, logger=None))
    hook.update(dict(grad_con=1.0, grad_cma=4.0, grad_cos=0.0))
    # convex: a 4 <= (1 - a) 1; additive: a 4 <= 1; grad_share: a <= 1 - a.
    assert hook.step(0, 10) == pytest.approx(cap)


@pytest.mark.parametrize('kwargs,key', [
    (dict(alpha_target=1.5), 'alpha_target'), (dict(alpha_target=-0.1), 'alpha_target'),
    (dict(phases=(0.2, 0.5, 0.4)), 'phases'), (dict(phases=(0.5, 0.5)), 'phases'),
    (dict(phases=(-0.1, 0.7, 0.4)), 'phases'), (dict(probe_interval=0), 'probe_interval'),
    (dict(probe_interval=2.5), 'probe_interval'), (dict(gamma=0), 'gamma'),
    (dict(ramp='step'), 'ramp'), (dict(ema_momentum=1.0), 'ema_momentum'),
    (dict(probe_params=[]), 'probe_params'), (dict(pcgrad=True), 'pcgrad')])
def test_bad_config_names_the_key(kwargs, key):
    with pytest.raises(ValueError, match=f'TPCCurriculumHook.{key}'):
        TPCCurriculumHook(**kwargs)


@pytest.mark.parametrize('kwargs,model_key', [(dict(probe_params=['visual_proj']), 'params'),
                                              (dict(pcgrad=False), 'pcgrad')])
def test_probe_options_moved_to_the_model_say_where(kwargs, model_key):
    moved = rf'model setting now: set model.grad_probe=dict\({model_key}='
    with pytest.raises(ValueError, match=moved):
        TPCCurriculumHook(**kwargs)


HOOK = dict(type='TPCCurriculumHook', alpha_target=0.5, phases=(0.25, 0.5, 0.25),
            probe_interval=2, gamma=1.0)
MODEL = tiny_model_cfg(cma_loss=dict(type='CMALoss'), grad_probe=dict(pcgrad=True))
N = 8


def _run(work_dir, *extra_hooks, **overrides):
    overrides.setdefault('model', MODEL)
    cfg = tiny_runner_cfg(work_dir, max_iters=N, interval=N // 2, curriculum=False,
                          **overrides)
    cfg['custom_hooks'] = [dict(HOOK), *extra_hooks]
    runner = run_tiny(cfg)
    hook = next(h for h in runner.hooks if isinstance(h, TPCCurriculumHook))
    return runner, hook


def test_resume_mid_ramp_reproduces_alpha_and_weights(tmp_path):
    full, full_hook = _run(tmp_path / 'full')
    assert len(full_hook.history) == N
    assert full_hook.state['probes'] == N // 2
    assert max(full_hook.history) > 0 and full_hook.history[0] == 0.0

    _, half_hook = _run(tmp_path / 'cut', StopAt(N // 2))
    assert len(half_hook.history) == N // 2  # killed in the ramp (iters 2..5)
    ckpt = safe_torch_load(str(tmp_path / 'cut' / f'iter_{N // 2}.pth'))
    state = ckpt['tpc_curriculum']
    assert all(isinstance(v, (int, float, list)) for v in state.values())

    resumed, resumed_hook = _run(tmp_path / 'cut', resume=True,
                                 load_from=str(tmp_path / 'cut' / f'iter_{N // 2}.pth'))
    assert resumed_hook.history == full_hook.history  # exact, float by float
    assert resumed_hook.state == full_hook.state
    ref = full.model.state_dict()
    for name, value in resumed.model.state_dict().items():
        assert torch.equal(value, ref[name]), name

    logged = read_scalars(str(tmp_path / 'full'))
    assert [logged[i + 1]['alpha'] for i in range(N)] == pytest.approx(full_hook.history)
    for key in ('alpha_sched', 'alpha_cap', 'tpc_phase', 'grad_con', 'grad_cma', 'grad_cos'):
        assert key in logged[N], key


def test_missing_weights_error_names_the_config_key(tmp_path):
    from types import SimpleNamespace

    from mmengine.config import Config

    from tpc_cma_mm.engine.hooks import RequireFilesHook
    hook = RequireFilesHook(files=dict(load_from='converted CLIP weights'))
    runner = SimpleNamespace(cfg=Config(dict(load_from=str(tmp_path / 'nope.pth'))))
    with pytest.raises(FileNotFoundError, match="load_from=.*nope.pth.*converted CLIP"):
        hook.before_run(runner)
    (tmp_path / 'nope.pth').write_bytes(b'')
    hook.before_run(runner)  # present: no error


# The curriculum state as checkpoints wrote it before the ramp could walk back and
# before the contrastive-loss limit: these keys were not there.
NEWER_KEYS = ('progress', 'hold', 'loss_ema', 'loss_ref_sum', 'loss_ref_count', 'loss_chance')


@pytest.mark.slow
def test_a_checkpoint_of_the_earlier_curriculum_state_resumes_exactly(tmp_path):
    full, full_hook = _run(tmp_path / 'full')
    _run(tmp_path / 'cut', StopAt(N // 2))
    path = str(tmp_path / 'cut' / f'iter_{N // 2}.pth')
    ckpt = safe_torch_load(path)
    for key in NEWER_KEYS:
        del ckpt['tpc_curriculum'][key]
    torch.save(ckpt, path)
    _, resumed_hook = _run(tmp_path / 'cut', resume=True, load_from=path)
    assert resumed_hook.history == full_hook.history
