"""The preprocessing half of a Hugging Face export: ``preprocessor_config.json``.

With it, ``transformers.CLIPProcessor.from_pretrained(folder)`` works offline:
a ``CLIPImageProcessor`` with the model's own mean and std (its data
preprocessor's, rescaled from 0-255 to 0-1), resizing the shorter side to the
image tower's input size with bicubic interpolation and centre-cropping to it,
as the COCO configs' test pipeline does (``ResizeEdge`` + ``CenterCrop``,
configs/_base_/datasets/coco_karpathy.py). It gives RGB, which is what the
model sees when its data preprocessor swaps loaded BGR files (``to_rgb=True``)
or its data set yields RGB. PIL's bicubic is not mmcv's: an image that
needs resizing gets slightly different pixels; one of the input size gets the
same ones.

The tokenizer written beside it (``hf_clip.save_hf_tokenizer``) gives the
plugin's ids with one documented exception per transformers tokenizer
(:data:`TOKENIZER_DIFFERENCES`).
"""
import json
import os.path as osp

from torch import nn

__all__ = ['TOKENIZER_DIFFERENCES', 'hf_image_processor_config', 'save_hf_image_processor']

# Where transformers' tokenizers give other ids than the plugin's (measured in
# tests/models/test_hf_processor.py). The plugin cleans text as open_clip and
# OpenAI do: ftfy.fix_text, then HTML entities unescaped twice, whitespace, lower case.
TOKENIZER_DIFFERENCES = dict(
    # CLIPTokenizerFast (AutoTokenizer, CLIPProcessor's default): its normaliser has
    # neither ftfy nor the HTML unescape, so text that these change tokenises otherwise.
    fast=('fish &amp; chips', 'Tom &lt;3 Jerry',      # HTML entities
          'ﬁne ﬂowers',                               # ligatures (ftfy splits them)
          'ＦＵＬＬ width',                            # full-width letters (ftfy narrows)
          'cafÃ©', 'naÃ¯ve',                          # mojibake (ftfy repairs it)
          '“quoted”', 'don’t'),                       # curly quotes (ftfy straightens)
    # CLIPTokenizer (slow; use_fast=False): ftfy and the unescape as the plugin, but its
    # word pattern turns a literal special token in the text into the special id, where
    # the plugin keeps it as text (models/tokenizer.py); the fast one, with
    # split_special_tokens=True in tokenizer_config.json, keeps it as text too.
    slow=('a <|endoftext|> b', '<|startoftext|>hi'),
)


def hf_image_processor_config(model: nn.Module, image_size: int) -> dict:
    """``CLIPImageProcessor`` settings of ``model``'s preprocessing at ``image_size``."""
    preprocessor = model.data_preprocessor
    if not getattr(preprocessor, '_enable_normalize', False):
        raise ValueError('The model\'s data preprocessor does not normalise (no mean / std): '
                         'a CLIPImageProcessor cannot reproduce it.')
    mean = [float(v) / 255 for v in preprocessor.mean.flatten()]
    std = [float(v) / 255 for v in preprocessor.std.flatten()]
    return dict(
        image_processor_type='CLIPImageProcessor', processor_class='CLIPProcessor',
        do_convert_rgb=True, do_resize=True, size=dict(shortest_edge=image_size),
        resample=3,  # PIL bicubic
        do_center_crop=True, crop_size=dict(height=image_size, width=image_size),
        do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
        image_mean=mean, image_std=std)


def save_hf_image_processor(model: nn.Module, image_size: int, folder: str) -> str:
    """Write ``folder/preprocessor_config.json``; returns its path."""
    path = osp.join(folder, 'preprocessor_config.json')
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(hf_image_processor_config(model, image_size), f, indent=2)
        f.write('\n')
    return path
