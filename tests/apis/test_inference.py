"""DualEncoderInferencer against the data set's path through the model and the model's forward."""
import copy

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope
from PIL import Image

from tiny import TINY_IMAGE, tiny_model_cfg
from tpc_cma_mm.apis.inference import DualEncoderInferencer
from tpc_cma_mm.registry import MODELS, TRANSFORMS

TEXTS = ['a red circle', 'a blue square at the top', 'two green triangles']
CLASSES = ['circle', 'square', 'triangle']
# A test pipeline as the COCO configs have it (loads BGR; the preprocessor swaps to RGB).
FILE_PIPELINE = [
    dict(type='SafeLoadImageFromFile'),
    dict(type='ResizeEdge', scale=TINY_IMAGE, edge='short', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=TINY_IMAGE),
    dict(type='TokenizeCaption', context_length=16),
    dict(type='PackInputs', algorithm_keys=['text', 'text_tokens', 'img_id']),
]
RESNET_TOWER = dict(
    vision_backbone=dict(type='ResNet_CIFAR', depth=18, base_channels=8, stem_channels=8,
                         out_indices=(3, )),
    vision_neck=dict(type='GlobalAveragePooling'),
    projection=dict(type='CLIPProjection', in_channels=64, out_channels=32))


def tiny_files(tmp_path, **model_overrides):
    torch.manual_seed(0)
    model_cfg = tiny_model_cfg(
        data_preprocessor=dict(type='DualEncoderDataPreprocessor', to_rgb=True),
        **model_overrides)
    model = MODELS.build(copy.deepcopy(model_cfg)).eval()
    config = tmp_path / 'tiny.py'
    config.write_text(f'default_scope = "tpc_cma_mm"\nmodel = {model_cfg!r}\n'
                      f'test_dataloader = dict(dataset=dict(type="ShapeCaptions", '
                      f'pipeline={FILE_PIPELINE!r}))\n')
    ckpt = tmp_path / 'iter_1.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    return model, str(config), str(ckpt)


def through_the_test_pipeline(model, path):
    """The data set's way: the config's test pipeline on img_path, preprocessor, model."""
    with DefaultScope.overwrite_default_scope('tpc_cma_mm'):
        pipeline = Compose([TRANSFORMS.build(t) for t in FILE_PIPELINE])
    packed = pipeline(dict(img_path=path, text='a caption'))
    data = model.data_preprocessor(dict(inputs=[packed['inputs']],
                                        data_samples=[packed['data_samples']]), False)
    with torch.no_grad():
        return F.normalize(model.encode_image(data['inputs']), dim=-1)


def write_image(tmp_path, height=24, width=40):
    bgr = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    path = str(tmp_path / 'a.png')  # lossless: the file holds exactly these pixels
    cv2.imwrite(path, bgr)
    return bgr, path


def test_a_file_a_list_a_pil_image_and_an_array_give_the_data_sets_embedding(tmp_path):
    model, config, ckpt = tiny_files(tmp_path)
    bgr, path = write_image(tmp_path)
    want = through_the_test_pipeline(model, path)
    inferencer = DualEncoderInferencer(config, ckpt)
    pil = Image.fromarray(bgr[..., ::-1].copy())  # PIL holds RGB
    for image in (path, [path], pil, bgr, [bgr, pil]):
        got = inferencer.embed_images(image)
        torch.testing.assert_close(got, want.expand(len(got), -1), rtol=0, atol=1e-5)
    torch.testing.assert_close(inferencer.embed_images(bgr[..., ::-1].copy(), channel_order='rgb'),
                               want, rtol=0, atol=1e-5)
    # The order matters: an RGB array taken as BGR is another image.
    assert not torch.allclose(inferencer.embed_images(bgr[..., ::-1].copy()), want, atol=1e-3)
    torch.testing.assert_close(inferencer(path)['img_embeds'], want, rtol=0, atol=1e-5)


def test_texts_and_call_equal_the_models_forward(tmp_path):
    model, config, ckpt = tiny_files(tmp_path)
    inferencer = DualEncoderInferencer(config, ckpt, batch_size=2)
    with torch.no_grad():
        want = F.normalize(model.encode_text(model.tokenizer(TEXTS)), dim=-1)
    torch.testing.assert_close(inferencer.embed_texts(TEXTS), want, rtol=0, atol=1e-6)
    torch.testing.assert_close(inferencer(texts=TEXTS[0])['text_embeds'], want[:1],
                               rtol=0, atol=1e-6)


def test_a_resnet_tower_needs_no_image_size(tmp_path):
    model, config, ckpt = tiny_files(tmp_path, **RESNET_TOWER)
    _, path = write_image(tmp_path)
    got = DualEncoderInferencer(config, ckpt).embed_images(path)
    torch.testing.assert_close(got, through_the_test_pipeline(model, path), rtol=0, atol=1e-5)


def test_bad_images_are_refused_by_name(tmp_path):
    _, config, ckpt = tiny_files(tmp_path)
    inferencer = DualEncoderInferencer(config, ckpt)
    with pytest.raises(TypeError, match='file paths'):
        inferencer.embed_images(torch.zeros(3, TINY_IMAGE, TINY_IMAGE))
    with pytest.raises(OSError, match='missing.png'):
        inferencer.embed_images(str(tmp_path / 'missing.png'))
    with pytest.raises(ValueError, match='channel_order'):
        inferencer.embed_images(np.zeros((4, 4, 3), np.uint8), channel_order='rbg')


def test_a_config_without_resize_refuses_images_of_several_sizes(tmp_path):
    model = MODELS.build(tiny_model_cfg()).eval()
    inferencer = DualEncoderInferencer(model, pipeline=[dict(type='PackInputs')])
    images = [np.zeros((TINY_IMAGE, TINY_IMAGE, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)]
    with pytest.raises(ValueError, match='several sizes'):
        inferencer.embed_images(images)
    with pytest.raises(ValueError, match='pipeline='):
        DualEncoderInferencer(model).embed_images(images[0])


def test_zero_shot_equals_predict_mode_and_leaves_the_model_as_it_was(tmp_path):
    model, config, ckpt = tiny_files(tmp_path)
    inferencer = DualEncoderInferencer(config, ckpt)
    images = np.random.default_rng(1).integers(0, 256, (4, TINY_IMAGE, TINY_IMAGE, 3),
                                               dtype=np.uint8)
    result = inferencer.zero_shot(list(images), CLASSES, templates=['a {}', 'the {}'])
    model.set_zero_shot(CLASSES, ['a {}', 'the {}'])
    inputs = torch.from_numpy(images).permute(0, 3, 1, 2)
    with torch.no_grad():
        samples = model(model.data_preprocessor(dict(inputs=list(inputs)))['inputs'],
                        mode='predict')
    cosines = torch.stack([s.pred_score for s in samples])
    want = (cosines * model.logit_scale_value()).softmax(-1)
    torch.testing.assert_close(result['scores'], want, rtol=0, atol=1e-5)
    assert result['classes'] == [CLASSES[i] for i in want.argmax(-1).tolist()]
    assert inferencer.model.zero_shot is None  # the tiny config has no zero-shot classes


def test_mmpretrain_get_model_with_the_scoped_type(tmp_path):
    import mmpretrain
    from mmengine.config import Config
    model, config, ckpt = tiny_files(tmp_path)
    cfg = Config.fromfile(config)
    cfg.model.type = 'tpc_cma_mm.DualEncoder'  # docs/pitfalls.md, "mmpretrain's get_model"
    built = mmpretrain.get_model(cfg)
    built.load_state_dict(model.state_dict())
    built.eval()
    got = DualEncoderInferencer(built).embed_texts(TEXTS)
    torch.testing.assert_close(got, DualEncoderInferencer(config, ckpt).embed_texts(TEXTS))


def test_mmpretrains_feature_extractor_runs_the_image_part_of_a_plugin_pipeline(tmp_path):
    """mmpretrain's FeatureExtractor on a plugin config (docs/interop.md): the image part of
    the test pipeline, built in the plugin scope whatever scope is current, gives the data
    set's image embedding."""
    from mmengine.config import Config
    from mmpretrain.apis import FeatureExtractor

    from tpc_cma_mm.apis import image_pipeline_cfg
    model, config, ckpt = tiny_files(tmp_path)
    _, path = write_image(tmp_path)
    cfg = Config.fromfile(config)
    cfg.model._scope_ = 'tpc_cma_mm'  # as the shipped model configs have it
    cfg.test_dataloader.dataset.pipeline = image_pipeline_cfg(cfg)
    assert [t['type'] for t in cfg.test_dataloader.dataset.pipeline] == [
        'ResizeEdge', 'CenterCrop', 'PackInputs']
    with DefaultScope.overwrite_default_scope('mmpretrain'):  # as a fresh process has it
        extractor = FeatureExtractor(cfg, pretrained=ckpt)
    (feature, ) = extractor(path)
    torch.testing.assert_close(F.normalize(feature[None], dim=-1),
                               through_the_test_pipeline(model, path), rtol=0, atol=1e-5)
