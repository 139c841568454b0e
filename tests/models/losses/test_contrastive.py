import math

import torch
import torch.nn.functional as F

from tpc_cma_mm.models import ContrastiveLoss


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
