"""mmpretrain's own API on the plugin's shipped configs and on a checkpoint a real Runner wrote."""
import copy
import glob
import os.path as osp

import mmpretrain
import pytest
import torch
from mmengine.config import Config

from tiny import tiny_dataset_cfg
from tiny_runner import run_tiny, tiny_runner_cfg
from tpc_cma_mm.utils import safe_loading, safe_torch_load

ROOT = osp.join(osp.dirname(__file__), '..', '..')
VIT = osp.join(ROOT, 'configs', 'tpc_cma', 'tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py')


@pytest.mark.parametrize('config, built', [
    (VIT, 'DualEncoder'),
    ('configs/tpc_cma/tpc-cma-a0.05_resnet-tiny_1xb256-1k_shapes.py', 'DualEncoder'),
    ('configs/captioning/caption-decoder_tiny_1xb128-1k_text-only.py', 'CaptionDecoder')])
def test_get_model_builds_a_shipped_config_from_its_path(config, built):
    """mmpretrain builds in its own scope; the configs' _scope_ brings the plugin's."""
    model = mmpretrain.get_model(osp.join(ROOT, config))
    assert type(model).__name__ == built and not model.training


def test_get_model_loads_a_checkpoint_a_runner_wrote(tmp_path):
    shipped = Config.fromfile(VIT)
    cfg = tiny_runner_cfg(tmp_path / 'work', max_iters=2, interval=2, curriculum=False,
                          model=copy.deepcopy(shipped.model.to_dict()))
    cfg['train_dataloader']['dataset'] = tiny_dataset_cfg(num_samples=16, image_size=32)
    run_tiny(cfg)
    checkpoint = glob.glob(str(tmp_path / 'work' / 'iter_2.pth'))[0]
    saved = safe_torch_load(checkpoint)
    assert 'message_hub' in saved  # mmengine's HistoryBuffer, refused by plain weights-only
    # docs/interop.md: the plugin's weights-only allow-list, for mmpretrain's loads too.
    with safe_loading():
        model = mmpretrain.get_model(VIT, pretrained=checkpoint)
    key = 'visual.layers.0.attn.qkv.weight'
    assert torch.equal(model.state_dict()[key], saved['state_dict'][key])
    assert not torch.equal(model.state_dict()[key],
                           mmpretrain.get_model(VIT).state_dict()[key])  # not the init


def test_extract_feat_is_the_image_feature():
    model = mmpretrain.get_model(VIT)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.extract_feat(images), model.encode_image(images))


def test_verify_dataset_calls_on_a_plugin_data_config_with_the_documented_options(tmp_path):
    """What mmpretrain's tools/misc/verify_dataset.py does (its LoadImageFromFile lookup,
    TRANSFORMS.build, build_dataset in the mmpretrain scope, the loader on every entry), on a
    plugin config given docs/interop.md's two --cfg-options: the broken image is found."""
    from mmengine.registry import DefaultScope
    from mmpretrain.datasets import build_dataset, get_transform_idx
    from mmpretrain.registry import TRANSFORMS

    from benchmarks.fabricate import write_karpathy
    write_karpathy(str(tmp_path), splits=('train', 'val', 'test'))
    broken = str(tmp_path / 'val2014' / 'COCO_val2014_000000500001.jpg')  # the val image
    with open(broken, 'wb') as f:
        f.write(b'not a jpeg')
    cfg = Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'datasets', 'coco_karpathy.py'))
    cfg.merge_from_dict({'val_dataloader.dataset.data_root': str(tmp_path),
                         'val_dataloader.dataset.pipeline.0.type': 'LoadImageFromFile',
                         'val_dataloader.dataset._scope_': 'tpc_cma_mm'})
    dataset_cfg = cfg.val_dataloader.dataset
    with DefaultScope.overwrite_default_scope('mmpretrain'):  # the tool sets no scope
        loader = TRANSFORMS.build(dataset_cfg.pipeline[
            get_transform_idx(dataset_cfg.pipeline, 'LoadImageFromFile')])
        dataset_cfg.pipeline = []
        dataset = build_dataset(dataset_cfg)
    failed = set()
    for index in range(len(dataset)):
        item = dataset[index]
        try:
            loader(item)
        except Exception:  # noqa: BLE001  (the tool logs any failure the same way)
            failed.add(item['img_path'])
    assert len(dataset) == 2 and failed == {broken}  # one image, two captions
