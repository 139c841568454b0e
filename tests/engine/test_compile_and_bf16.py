"""Compile-ready training: mmengine's ``compile`` option gives eager's losses; the whole
TPC-CMA step under CPU bf16 autocast stays finite, close to float32, and trains every weight."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from tiny import tiny_model_cfg
from tiny_runner import read_scalars, run_tiny, tiny_runner_cfg
from tpc_cma_mm.registry import MODELS

LOSS_KEYS = ('loss', 'loss_contrastive', 'loss_cma')


def _tpc_cma_cfg(work_dir, **overrides):
    """The tiny TPC-CMA run with a fixed CMA weight (alpha 0.5, convex), 3 iterations, one
    layer per tower: every kind of module is compiled; a second, identical layer only
    doubled the graphs inductor compiles (124 s instead of 82 s on 2 busy cores)."""
    cfg = tiny_runner_cfg(work_dir, max_iters=3, interval=3, curriculum=False, **overrides)
    cfg['model']['alpha'] = 0.5
    cfg['model']['vision_backbone']['arch']['num_layers'] = 1
    cfg['model']['text_backbone']['layers'] = 1
    return Config(cfg)


@pytest.mark.slow
def test_compiled_train_step_gives_the_eager_losses(tmp_path, monkeypatch):
    # Inductor compiles in this process: by default it starts a pool of compile workers,
    # each a fresh interpreter importing torch (the generated code is the same).
    import torch._inductor.config
    monkeypatch.setattr(torch._inductor.config, 'compile_threads', 1)
    eager = _tpc_cma_cfg(tmp_path / 'eager')
    compiled = _tpc_cma_cfg(tmp_path / 'compiled', compile=dict(backend='inductor'))
    runner = run_tiny(compiled)
    assert 'Compiled' in type(runner.model.train_step).__name__ or hasattr(
        runner.model.train_step, '_torchdynamo_orig_callable')  # it really was compiled
    run_tiny(eager)
    want, got = read_scalars(str(tmp_path / 'eager')), read_scalars(str(tmp_path / 'compiled'))
    assert sorted(want) == sorted(got) == [1, 2, 3]
    for step in want:
        for key in LOSS_KEYS:
            # inductor fuses and reorders float32 sums: equal to float rounding
            assert got[step][key] == pytest.approx(want[step][key], rel=1e-4, abs=1e-6), \
                (step, key)


def _losses_and_grads(model, images, tokens, bf16):
    model.zero_grad()
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
        losses = model(images, text_tokens=tokens, mode='loss')
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    total.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    return {k: float(losses[k]) for k in ('loss_contrastive', 'loss_cma')}, grads


@pytest.mark.parametrize('combine', ['convex', 'grad_share'])
def test_whole_tpc_cma_step_under_cpu_bf16_autocast(combine):
    init_default_scope('tpc_cma_mm')
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg(cma_loss=dict(type='CMALoss'), alpha=0.5,
                                        combine=combine)).train()
    images = torch.randn(16, 3, 16, 16)
    tokens = model.tokenizer([f'a picture of thing {i} on a plain background' for i in range(16)])
    full, full_grads = _losses_and_grads(model, images, tokens, bf16=False)
    half, half_grads = _losses_and_grads(model, images, tokens, bf16=True)
    # bf16 keeps 8 significant bits (relative step 2^-8 = 0.4 %); a few layers of
    # rounding stay within a few per cent of float32.
    for key, value in full.items():
        assert torch.isfinite(torch.tensor(half[key])), key
        assert half[key] == pytest.approx(value, rel=0.05, abs=2e-3), key
    for name, grad in full_grads.items():
        assert torch.isfinite(half_grads[name]).all(), name
    # every weight that learns in float32 learns under bf16, in nearly the same direction
    flat = torch.cat([g.flatten() for g in full_grads.values()])
    flat_half = torch.cat([half_grads[n].float().flatten() for n in full_grads])
    assert torch.nn.functional.cosine_similarity(flat, flat_half, dim=0) > 0.95
    moved = [n for n, g in full_grads.items() if g.abs().max() > 0]
    assert moved and all(half_grads[n].abs().max() > 0 for n in moved)
