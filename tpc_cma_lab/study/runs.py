"""Score a study model's image embeddings on both sides of the compromise."""
import copy
from typing import Dict

import torch
from mmengine.config import Config

from tpc_cma_mm.evaluation.functional import attribute_probes, zero_shot_accuracy
from tpc_cma_mm.datasets import COLOURS, POSITIONS, SHAPES, SIZES
from ..engine import embed_test, score_test_split
from .variants import HELD_OUT_SHAPES

__all__ = ['embed_with_attributes', 'score_model', 'ATTRIBUTE_PROMPTS']

ATTRIBUTES = ('shape', 'colour', 'size', 'position')
# Zero-shot prompts of each attribute task, in the captions' own phrasing.
ATTRIBUTE_PROMPTS = dict(
    colour=(tuple(COLOURS), ('a photo of a {} shape', 'a picture of a {} shape')),
    size=(tuple(SIZES), ('a photo of a {} shape', 'a picture of a {} shape')),
    position=(tuple(POSITIONS), ('a photo of a shape in the {}',
                                 'a picture of a shape in the {}')))
def embed_with_attributes(model, dataloader_cfg: dict) -> dict:
    """Image and text embeddings of a ShapeCaptions split (``embed_split``), with every attribute."""
    return _with_attributes(*embed_test(model, dataloader_cfg))


def _with_attributes(embeds: dict, dataset) -> dict:
    data_list = dataset.data_list
    attrs = {a: [data_list[i][f'attr_{a}'] for i in embeds['img_ids'].tolist()]
             for a in ATTRIBUTES}
    return dict(img=embeds['img'], text=embeds['text'], img_ids=embeds['img_ids'], attrs=attrs,
                labels=torch.tensor([SHAPES.index(s) for s in attrs['shape']]))


def score_model(model, cfg: Config, posthoc=None) -> Dict[str, float]:
    """Gap keys and tasks (embedding_suite) plus the expressiveness side on the test split:
    probes per attribute (fitted on the val split), attribute zero-shot, and shape zero-shot
    on the shapes fine-tuning never saw.

    With ``posthoc`` (a transform name or config, e.g. 'MeanCentering'), every key is of
    "model + fix": the transform is fitted on the test pairs (as embedding_suite does), its
    image side maps the test and the probes' val embeddings, its text side every prototype.
    """
    metrics, transform, embeds, dataset = score_test_split(model, cfg, posthoc,
                                                          held_out=HELD_OUT_SHAPES)
    test = _with_attributes(embeds, dataset)
    # The probes are fitted on the val split (the study trains without validation).
    probe_loader = copy.deepcopy(cfg.test_dataloader)
    probe_loader.dataset.split = 'val'
    probe_train = embed_with_attributes(model, probe_loader)
    image_side = transform.image if transform is not None else (lambda x: x)
    text_side = transform.text if transform is not None else (lambda x: x)
    test_img = image_side(test['img'])
    probes = attribute_probes(image_side(probe_train['img']), probe_train['attrs'], test_img,
                              test['attrs'])
    metrics.update({f'probe/{k}': v for k, v in probes.items()})
    metrics['probe/mean'] = sum(probes.values()) / len(probes)
    for attr, (names, templates) in ATTRIBUTE_PROMPTS.items():
        labels = torch.tensor([names.index(v) for v in test['attrs'][attr]])
        protos = text_side(model.prompt_prototypes(names, templates))
        metrics[f'attr_zero_shot/{attr}'] = zero_shot_accuracy(test_img, protos, labels,
                                                               (1, ))['top1']
    return metrics
