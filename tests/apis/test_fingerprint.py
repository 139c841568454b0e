"""state_dict_digest keeps the values that name the committed results' caption caches."""
import hashlib

import torch
from torch import nn

from tpc_cma_mm.apis import state_dict_digest
from tpc_cma_mm.utils.checkpoint import content_digest


def test_state_dict_digest_is_the_documented_sha256_of_the_weights():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)).half()  # int64 buffer too
    sha = hashlib.sha256()
    for key, value in model.state_dict().items():  # state dict order, bare keys
        sha.update(f'{key}:{tuple(value.shape)}:{value.dtype};'.encode('utf-8'))
        sha.update(value.contiguous().numpy().tobytes())
    assert state_dict_digest(model) == sha.hexdigest()[:16]
    # the checkpoint digest formats each tensor alike, under sorted 'state_dict/...' paths
    assert content_digest(dict(state_dict=model.state_dict()))[:16] != state_dict_digest(model)
