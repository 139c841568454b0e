import math
import os

import pytest
import torch
import torch.nn.functional as F

from gloo import run_gloo
from tpc_cma_mm.models import ContrastiveLoss
from tpc_cma_mm.utils.dist import gather_with_grad

LOCAL = 3  # rows per rank


def test_matches_direct_formula():
    torch.manual_seed(0)
    img = F.normalize(torch.randn(6, 5, dtype=torch.float64), dim=-1)
    txt = F.normalize(torch.randn(6, 5, dtype=torch.float64), dim=-1)
    scale = torch.tensor(10.0, dtype=torch.float64)
    sim = (scale * img @ txt.t()).tolist()
    n = len(sim)
    # -log softmax of the diagonal, row-wise (image->text) and column-wise.
    i2t = [-(sim[i][i] - math.log(sum(math.exp(s) for s in sim[i]))) for i in range(n)]
    t2i = [-(sim[j][j] - math.log(sum(math.exp(sim[i][j]) for i in range(n))))
           for j in range(n)]
    expected = (sum(i2t) / n + sum(t2i) / n) / 2
    assert abs(ContrastiveLoss()(img, txt, scale).item() - expected) < 1e-12


def test_perfect_alignment_with_large_scale_has_small_loss():
    eye = torch.eye(4)
    assert ContrastiveLoss()(eye, eye, torch.tensor(100.0)).item() < 1e-6


def test_local_loss_option_is_checked_and_equals_global_in_one_process():
    with pytest.raises(ValueError, match='ContrastiveLoss.local_loss'):
        ContrastiveLoss(local_loss='yes')
    img, txt = _features()
    scale = torch.tensor(10.0, dtype=torch.float64)
    torch.testing.assert_close(ContrastiveLoss(local_loss=True)(img, txt, scale),
                               ContrastiveLoss()(img, txt, scale), rtol=0, atol=0)


def _features():
    gen = torch.Generator().manual_seed(5)
    img = F.normalize(torch.randn(2 * LOCAL, 6, generator=gen, dtype=torch.float64), dim=-1)
    txt = F.normalize(torch.randn(2 * LOCAL, 6, generator=gen, dtype=torch.float64), dim=-1)
    return img, txt


def _local_worker(rank, out_dir):
    from open_clip.loss import ClipLoss
    img, txt = _features()
    part = slice(rank * LOCAL, (rank + 1) * LOCAL)
    scale = torch.tensor(10.0, dtype=torch.float64)
    results = {}
    for name in ('global', 'local', 'open_clip'):
        x = img[part].clone().requires_grad_(True)
        y = txt[part].clone().requires_grad_(True)
        if name == 'open_clip':
            loss = ClipLoss(local_loss=True, gather_with_grad=True, rank=rank,
                            world_size=2)(x, y, scale)
        else:
            loss = ContrastiveLoss(local_loss=name == 'local')(
                gather_with_grad(x), gather_with_grad(y), scale)
        loss.backward()
        results[name] = dict(loss=loss.detach(), gx=x.grad, gy=y.grad)
    torch.save(results, os.path.join(out_dir, f'rank{rank}.pt'))


@pytest.mark.slow  # 2 gloo processes
def test_local_loss_in_two_gloo_ranks_equals_global_and_open_clip(tmp_path):
    run_gloo(_local_worker, str(tmp_path))
    img, txt = _features()
    img.requires_grad_(True)
    txt.requires_grad_(True)
    loss = ContrastiveLoss()(img, txt, torch.tensor(10.0, dtype=torch.float64))
    loss.backward()
    ranks = [torch.load(tmp_path / f'rank{r}.pt', weights_only=True) for r in range(2)]
    # The local values are each rank's share: their mean is the global loss.
    torch.testing.assert_close((ranks[0]['local']['loss'] + ranks[1]['local']['loss']) / 2,
                               loss.detach())
    for rank, res in enumerate(ranks):
        part = slice(rank * LOCAL, (rank + 1) * LOCAL)
        torch.testing.assert_close(res['local']['loss'], res['open_clip']['loss'])
        torch.testing.assert_close(res['global']['loss'], loss.detach())
        for key, full in (('gx', img.grad), ('gy', txt.grad)):
            # local = global = open_clip on every rank; after DDP's mean over
            # ranks (the gathers' backward summed them): one process's gradient.
            torch.testing.assert_close(res['local'][key], res['global'][key])
            torch.testing.assert_close(res['local'][key], res['open_clip'][key])
            torch.testing.assert_close(res['local'][key] / 2, full[part])
