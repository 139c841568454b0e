"""The Hugging Face export's preprocessing: CLIPProcessor offline, image processor and tokenizers.

Independent computations: CLIP normalisation by formula, transformers' own
CLIPModel on the processor's pixels, and transformers' tokenizers against the plugin's.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from tiny import TINY_IMAGE, tiny_model_cfg
from tpc_cma_mm.apis import DualEncoderInferencer
from tpc_cma_mm.models.data_preprocessor import CLIP_MEAN, CLIP_STD
from tpc_cma_mm.models.export import export_model
from tpc_cma_mm.models.hf_processor import TOKENIZER_DIFFERENCES
from tpc_cma_mm.registry import MODELS

NORMAL_TEXT = ['a photo of a red circle.', 'Two  small BLUE stars, top-left!', "the cat's café",
               'émigré', '日本語のテキスト', 'emoji 😀 here', 'tab\there\nnewline',
               "it's 3:45pm", '100% (sure)', 'x' * 300]


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    torch.manual_seed(0)
    # to_rgb=True: the model sees RGB, as a CLIPImageProcessor gives it.
    model = MODELS.build(tiny_model_cfg(
        data_preprocessor=dict(type='DualEncoderDataPreprocessor', to_rgb=True))).eval()
    folder = str(tmp_path_factory.mktemp('hf') / 'out')
    export_model(model, 'hf', folder)
    return model, folder


def test_clip_processor_loads_offline_and_matches_the_models_preprocessing(exported, monkeypatch):
    from transformers import CLIPModel, CLIPProcessor
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    model, folder = exported
    processor = CLIPProcessor.from_pretrained(folder, local_files_only=True)
    rgb = np.random.default_rng(0).integers(0, 256, (TINY_IMAGE, TINY_IMAGE, 3), dtype=np.uint8)
    pixels = processor(images=Image.fromarray(rgb), return_tensors='pt').pixel_values
    by_formula = ((torch.from_numpy(rgb).permute(2, 0, 1).float()
                   - torch.tensor(CLIP_MEAN).view(3, 1, 1)) / torch.tensor(CLIP_STD).view(3, 1, 1))
    torch.testing.assert_close(pixels[0], by_formula, rtol=0, atol=1e-5)
    target = CLIPModel.from_pretrained(folder, local_files_only=True).eval()
    with torch.no_grad():
        theirs = F.normalize(target.get_image_features(pixel_values=pixels), dim=-1)
    ours = DualEncoderInferencer(model, pipeline=[dict(type='PackInputs')]).embed_images(
        Image.fromarray(rgb))
    torch.testing.assert_close(theirs, ours, rtol=0, atol=1e-5)
    # A larger, non-square image: shorter side resized, centre-cropped to the input size.
    big = Image.fromarray(np.zeros((3 * TINY_IMAGE, 5 * TINY_IMAGE, 3), np.uint8))
    assert processor(images=big, return_tensors='pt').pixel_values.shape == (
        1, 3, TINY_IMAGE, TINY_IMAGE)


def _ids(tokenizer, text):
    return tokenizer(text, add_special_tokens=False).input_ids


def test_tokenizers_agree_on_normal_text_and_differ_only_where_documented(exported):
    from transformers import AutoTokenizer, CLIPProcessor, CLIPTokenizer
    model, folder = exported
    fast = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    slow = CLIPTokenizer.from_pretrained(folder, local_files_only=True)
    assert type(fast).__name__ == 'CLIPTokenizerFast'
    assert type(CLIPProcessor.from_pretrained(folder).tokenizer) is type(fast)
    ours = model.tokenizer
    for text in NORMAL_TEXT:
        assert _ids(fast, text) == _ids(slow, text) == ours.encode(text), text
    for text in TOKENIZER_DIFFERENCES['fast']:
        assert _ids(fast, text) != ours.encode(text) == _ids(slow, text), text
    for text in TOKENIZER_DIFFERENCES['slow']:
        assert _ids(slow, text) != ours.encode(text) == _ids(fast, text), text
