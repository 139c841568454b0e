"""Independent (numpy) computations the real-scale tests compare against."""
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dataset import pseudo_collate

from tpc_cma_mm.registry import DATASETS


def embed_dataset(model, dataset_cfg):
    """``(dataset, collated batch, numpy image embeddings)`` of every item, model in eval."""
    dataset = DATASETS.build(dataset_cfg)
    batch = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(len(dataset))]))
    with torch.no_grad():
        img = F.normalize(model.encode_image(batch['inputs']), dim=-1).double().numpy()
    return dataset, batch, img


def numpy_zero_shot(model, dataset_cfg, prompt_names, templates, topk):
    """Top-k accuracy (%) of a numpy prompt-ensemble classifier on the model's embeddings."""
    dataset, _, img = embed_dataset(model, dataset_cfg)
    labels = np.array([dataset.get_data_info(i)['gt_label'] for i in range(len(dataset))])
    prototypes = []
    with torch.no_grad():
        for name in prompt_names:
            text = model.encode_text(model.tokenizer([t.format(name) for t in templates]))
            text = text.double().numpy()
            mean = (text / np.linalg.norm(text, axis=1, keepdims=True)).mean(0)
            prototypes.append(mean / np.linalg.norm(mean))
    ranked = np.argsort(-(img @ np.stack(prototypes).T), axis=1)
    return {k: 100 * np.mean([label in row[:k] for row, label in zip(ranked, labels)])
            for k in topk}
