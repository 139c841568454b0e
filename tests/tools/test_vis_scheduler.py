"""tools/visualization/vis_scheduler.py (over apis.schedule_curves) against the formulas."""
import math
import os.path as osp

import pytest
from PIL import Image

from tool_runner import load_tool
from tpc_cma_mm.apis import load_config, schedule_curves

ROOT = osp.join(osp.dirname(__file__), '..', '..')
CONFIG = osp.join(ROOT, 'configs', 'tpc_cma', 'tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py')


def lr_by_formula(it, base=2e-4, warmup=20, total=300, eta_min=1e-5):
    """configs/_base_/schedules/shapes_finetune_300.py: LinearLR from 0.1, then cosine.
    mmengine's LinearLR reaches its end factor in its last iteration (end - 1)."""
    if it < warmup:
        return base * (0.1 + 0.9 * it / (warmup - 1))
    progress = (it - warmup) / (total - warmup)
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * progress)) / 2


def alpha_by_formula(it, target, total=300, phases=(0.1, 0.5, 0.4)):
    start, end = round(phases[0] * total), round((phases[0] + phases[1]) * total)
    if it < start:
        return 0.0
    if it >= end:
        return target
    return target * (1 - math.cos(math.pi * (it - start + 1) / (end - start))) / 2


def test_the_tool_plots_lr_and_alpha_of_the_config_without_training(tmp_path):
    out = tmp_path / 'schedule.png'
    curves = load_tool('tools/visualization/vis_scheduler.py').main([CONFIG, '--save-path', str(out),
                                '--cfg-options', 'custom_hooks.0.alpha_target=0.3'])
    assert len(curves['lr']) == len(curves['alpha_sched']) == 300
    for it in range(300):
        assert curves['lr'][it] == pytest.approx(lr_by_formula(it), rel=1e-6), it
        assert curves['alpha_sched'][it] == pytest.approx(alpha_by_formula(it, 0.3), abs=1e-12)
    assert [curves['phase'][i] for i in (0, 29, 30, 179, 180, 299)] == [0, 0, 1, 1, 2, 2]
    with Image.open(out) as image:
        assert image.size[0] > 500 and image.size[1] > 500


def test_a_config_without_curriculum_has_only_lr_and_epoch_schedulers_are_refused():
    cfg = load_config(osp.join(ROOT, 'configs', 'clip',
                               'clip_vit-tiny-p8_1xb256-300i_shapes-ft.py'))
    curves = schedule_curves(cfg)
    assert set(curves) == {'iters', 'lr'} and curves['lr'][0] == pytest.approx(2e-5)
    cfg.param_scheduler[1]['by_epoch'] = True
    with pytest.raises(ValueError, match='by_epoch=False'):
        schedule_curves(cfg)
