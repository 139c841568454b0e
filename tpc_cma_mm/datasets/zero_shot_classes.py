"""Zero-shot prompts for a data set's classes, matched by name from its metainfo.

The vocabularies in ``zero_shot_data/*.json`` pair each data set class name
with the name put into the prompts (OpenAI's), in label order, and list the
prompt templates. A data set's labels are its ``metainfo['classes']`` order, so
prompts built from that order score label ``i`` in column ``i``; a vocabulary
that lacks a class, or a class list of another length, is refused.
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ['ZERO_SHOT_BENCHMARKS', 'load_vocabulary', 'prompt_classnames',
           'zero_shot_prompts']

DATA_DIR = osp.join(osp.dirname(__file__), 'zero_shot_data')
ZERO_SHOT_BENCHMARKS = ('cifar10', 'cifar100', 'imagenet')


def load_vocabulary(benchmark: str) -> Tuple[Dict[str, str], List[str]]:
    """``({data set class name: prompt name}, templates)`` of a shipped benchmark."""
    if benchmark not in ZERO_SHOT_BENCHMARKS:
        raise ValueError(f'Unknown zero-shot benchmark {benchmark!r}: shipped are '
                         f'{ZERO_SHOT_BENCHMARKS}; for another data set give '
                         'classnames and templates explicitly.')
    with open(osp.join(DATA_DIR, f'{benchmark}.json'), encoding='utf-8') as f:
        data = json.load(f)
    return dict(data['classes']), list(data['templates'])


def prompt_classnames(dataset_classes: Sequence[str],
                      vocabulary: Dict[str, str]) -> List[str]:
    """Prompt names in the data set's label order; refuses unknown or missing classes."""
    dataset_classes = list(dataset_classes)
    if len(set(dataset_classes)) != len(dataset_classes):
        raise ValueError('The data set metainfo lists a class twice; labels would be ambiguous.')
    unknown = [c for c in dataset_classes if c not in vocabulary]
    if unknown or len(dataset_classes) != len(vocabulary):
        raise ValueError(
            f'The data set has {len(dataset_classes)} classes, the zero-shot vocabulary '
            f'{len(vocabulary)}; classes without a prompt name: {unknown[:5]}. Use the '
            "data set's own class list (metainfo['classes']) or a matching vocabulary.")
    return [vocabulary[c] for c in dataset_classes]


def zero_shot_prompts(dataset_classes: Sequence[str],
                      benchmark: Optional[str] = None,
                      classnames: Optional[Dict[str, str]] = None,
                      templates: Optional[Sequence[str]] = None
                      ) -> Tuple[List[str], List[str]]:
    """``(prompt names in label order, templates)`` for a data set.

    ``benchmark`` picks a shipped vocabulary; otherwise ``classnames`` maps
    each data set class to its prompt name (default: the class name with
    underscores as spaces, e.g. a ``CustomDataset`` folder name) and
    ``templates`` must be given.
    """
    if benchmark is not None:
        vocabulary, shipped_templates = load_vocabulary(benchmark)
        templates = shipped_templates if templates is None else templates
    else:
        vocabulary = classnames or {c: c.replace('_', ' ') for c in dataset_classes}
    if not templates or any(t.count('{}') != 1 for t in templates):
        raise ValueError('Zero-shot templates must be a non-empty list of strings with '
                         f'exactly one "{{}}" each, got {templates!r}.')
    return prompt_classnames(dataset_classes, vocabulary), list(templates)
