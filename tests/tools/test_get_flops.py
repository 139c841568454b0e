"""tools/analysis/get_flops.py (over apis.model_complexity) and mmpretrain's way of counting."""
import os.path as osp

import pytest
from mmengine.analysis import get_model_complexity_info

from tool_runner import load_tool
from tpc_cma_mm.apis import init_model

ROOT = osp.join(osp.dirname(__file__), '..', '..')
VIT = osp.join(ROOT, 'configs', 'tpc_cma', 'tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py')
RESNET = osp.join(ROOT, 'configs', 'tpc_cma', 'tpc-cma-a0.05_resnet-tiny_1xb256-1k_shapes.py')


def linear_flops(width, tokens, layers, mlp_ratio=4):
    """Multiply-adds of the linear layers of ``layers`` transformer blocks on ``tokens``."""
    return layers * tokens * (3 + 1 + 2 * mlp_ratio) * width * width


def test_both_towers_are_counted_and_the_image_tower_as_mmpretrain_counts_it():
    info = load_tool('tools/analysis/get_flops.py').main([VIT])
    model = init_model(VIT)
    # mmpretrain's tools/analysis_tools/get_flops.py: forward = extract_feat on (3, H, W).
    model.forward = model.extract_feat
    theirs = get_model_complexity_info(model, (3, 32, 32), show_table=False, show_arch=False)
    assert info['image_shape'] == (3, 32, 32)
    assert info['image']['flops'] == theirs['flops']
    # configs/_base_/models/clip_vit-tiny-p8.py: 64 wide, 4 layers, 8 px patches (16 + 1
    # tokens), text 64 wide, 4 layers, 32 tokens: the linear layers alone.
    assert info['image']['flops'] >= linear_flops(64, 17, 4)
    # The text tower's last block runs q, the output and the MLP on the pooled position only.
    text_linear = linear_flops(64, 32, 3) + (2 * 32 + 1 + 1 + 8) * 64 * 64 + 64 * 64
    assert text_linear <= info['text']['flops'] <= 1.05 * text_linear
    assert info['total_flops'] == info['image']['flops'] + info['text']['flops']
    assert info['params'] == sum(p.numel() for p in model.parameters())


def test_a_tower_of_any_input_size_needs_a_shape():
    with pytest.raises(ValueError, match='--shape'):
        load_tool('tools/analysis/get_flops.py').main([RESNET])
    small, large = (load_tool('tools/analysis/get_flops.py').main([RESNET, '--shape', str(s)]) for s in (32, 64))
    assert large['image']['flops'] == pytest.approx(4 * small['image']['flops'], rel=0.01)
    assert large['text']['flops'] == small['text']['flops']
