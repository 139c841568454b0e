"""DualEncoderInferencer against the model's own forward and a hand-written preprocessing."""
import cv2
import numpy as np
import torch
import torch.nn.functional as F

from tiny import TINY_IMAGE, tiny_model_cfg
from tpc_cma_mm.apis.inference import DualEncoderInferencer
from tpc_cma_mm.models.data_preprocessor import CLIP_MEAN, CLIP_STD
from tpc_cma_mm.registry import MODELS

TEXTS = ['a red circle', 'a blue square at the top', 'two green triangles']
CLASSES = ['circle', 'square', 'triangle']


def tiny_files(tmp_path):
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg()).eval()
    config = tmp_path / 'tiny.py'
    config.write_text(f'model = {tiny_model_cfg()!r}\n')
    ckpt = tmp_path / 'iter_1.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    return model, str(config), str(ckpt)


def by_hand(model, images_uint8):
    """CLIP normalisation (tiny config: to_rgb=False), then the model's encoders."""
    x = images_uint8.float()
    mean, std = torch.tensor(CLIP_MEAN).view(3, 1, 1), torch.tensor(CLIP_STD).view(3, 1, 1)
    with torch.no_grad():
        return F.normalize(model.encode_image((x - mean) / std), dim=-1)


def test_embeddings_equal_the_models_forward(tmp_path):
    model, config, ckpt = tiny_files(tmp_path)
    inferencer = DualEncoderInferencer(config, ckpt, batch_size=2)
    assert inferencer.image_size == TINY_IMAGE
    with torch.no_grad():
        want = F.normalize(model.encode_text(model.tokenizer(TEXTS)), dim=-1)
    torch.testing.assert_close(inferencer.embed_texts(TEXTS), want, rtol=0, atol=1e-6)
    images = torch.randint(0, 256, (3, 3, TINY_IMAGE, TINY_IMAGE), dtype=torch.uint8)
    torch.testing.assert_close(inferencer.embed_images(list(images)), by_hand(model, images),
                               rtol=0, atol=1e-5)


def test_image_files_are_resized_on_the_short_side_and_centre_cropped(tmp_path):
    model, config, ckpt = tiny_files(tmp_path)
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)  # H 24, W 40 (BGR)
    cv2.imwrite(str(tmp_path / 'a.png'), array)
    resized = cv2.resize(array, (27, 16), interpolation=cv2.INTER_CUBIC)  # 40 * 16 / 24
    crop = torch.from_numpy(resized[:, 5:21].transpose(2, 0, 1).copy())
    got = DualEncoderInferencer(config, ckpt).embed_images([str(tmp_path / 'a.png')])
    torch.testing.assert_close(got, by_hand(model, crop[None]), rtol=0, atol=1e-5)


def test_zero_shot_equals_predict_mode_and_leaves_the_model_as_it_was(tmp_path):
    model, config, ckpt = tiny_files(tmp_path)
    inferencer = DualEncoderInferencer(config, ckpt)
    images = torch.randint(0, 256, (4, 3, TINY_IMAGE, TINY_IMAGE), dtype=torch.uint8)
    result = inferencer.zero_shot(list(images), CLASSES, templates=['a {}', 'the {}'])
    model.set_zero_shot(CLASSES, ['a {}', 'the {}'])
    mean, std = torch.tensor(CLIP_MEAN).view(3, 1, 1), torch.tensor(CLIP_STD).view(3, 1, 1)
    with torch.no_grad():
        samples = model((images.float() - mean) / std, mode='predict')
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
