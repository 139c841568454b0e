import pytest
import torch
import torch.nn.functional as F


def paired_embeddings(num: int = 300, dim: int = 16, seed: int = 0):
    """Normalised pairs with a modality gap: the text is a noisy, offset copy of the image."""
    gen = torch.Generator().manual_seed(seed)
    offset = torch.zeros(dim)
    offset[0] = 2.0
    img = F.normalize(torch.randn(num, dim, generator=gen) + offset, dim=1)
    text = F.normalize(0.7 * img + 0.5 * torch.randn(num, dim, generator=gen) - 0.3 * offset, dim=1)
    labels = torch.randint(0, 4, (num, ), generator=gen)
    return img, text, labels


@pytest.fixture
def pairs():
    return paired_embeddings()
