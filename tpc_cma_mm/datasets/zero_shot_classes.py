"""Zero-shot prompts for a data set's classes, matched by name from its metainfo.

The vocabularies in ``zero_shot_data/*.json`` pair each data set class name
with the name put into the prompts (OpenAI's), in label order, and list the
prompt templates. A data set's labels are its ``metainfo['classes']`` order, so
prompts built from that order score label ``i`` in column ``i``; a class list
of another count or order than the vocabulary's is refused.
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ['ZERO_SHOT_BENCHMARKS', 'load_vocabulary', 'prompt_classnames',
           'zero_shot_prompts']

DATA_DIR = osp.join(osp.dirname(__file__), 'zero_shot_data')
ZERO_SHOT_BENCHMARKS = ('cifar10', 'cifar100', 'imagenet')


def load_vocabulary(benchmark: str) -> Tuple[List[Tuple[str, str]], List[str]]:
    """``([(data set class name, prompt name)] in label order, templates)`` of a benchmark."""
    if benchmark not in ZERO_SHOT_BENCHMARKS:
        raise ValueError(f'Unknown zero-shot benchmark {benchmark!r}: shipped are '
                         f'{ZERO_SHOT_BENCHMARKS}; for another data set give '
                         'classnames and templates explicitly.')
    with open(osp.join(DATA_DIR, f'{benchmark}.json'), encoding='utf-8') as f:
        data = json.load(f)
    return [tuple(pair) for pair in data['classes']], list(data['templates'])


def prompt_classnames(dataset_classes: Sequence[str],
                      vocabulary: Sequence[Tuple[str, str]]) -> List[str]:
    """Prompt names for the data set's classes, checked name by name in label order.

    Position ``i`` of the data set's class list must carry the vocabulary's
    name ``i``: another count or order would score label ``i`` against another
    class, so it is refused, naming the first differing position. (Names are
    compared by position because real class lists repeat names: mmpretrain's
    ImageNet metainfo has two "crane" and two "maillot".)
    """
    dataset_classes, expected = list(dataset_classes), [name for name, _ in vocabulary]
    if dataset_classes != expected:
        first = next((i for i, (a, b) in enumerate(zip(dataset_classes, expected)) if a != b),
                     min(len(dataset_classes), len(expected)))
        got = dataset_classes[first] if first < len(dataset_classes) else '(none)'
        want = expected[first] if first < len(expected) else '(none)'
        raise ValueError(
            f'The data set has {len(dataset_classes)} classes, the zero-shot vocabulary '
            f'{len(expected)}; label {first} is {got!r} in the data set but {want!r} in the '
            "vocabulary. Keep the data set's own class list (metainfo['classes'], not a "
            'reordered `classes` argument) or give classnames matching it.')
    return [prompt for _, prompt in vocabulary]


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
    if len(set(dataset_classes)) != len(dataset_classes) and benchmark is None:
        raise ValueError('The data set metainfo lists a class twice; give a benchmark '
                         'vocabulary, whose names are checked by position.')
    if benchmark is not None:
        vocabulary, shipped_templates = load_vocabulary(benchmark)
        templates = shipped_templates if templates is None else templates
    else:
        names = classnames or {c: c.replace('_', ' ') for c in dataset_classes}
        missing = [c for c in dataset_classes if c not in names]
        if missing:
            raise ValueError(f'classnames gives no prompt name for {missing[:5]}.')
        vocabulary = [(c, names[c]) for c in dataset_classes]
    if not templates or any(t.count('{}') != 1 for t in templates):
        raise ValueError('Zero-shot templates must be a non-empty list of strings with '
                         f'exactly one "{{}}" each, got {templates!r}.')
    return prompt_classnames(dataset_classes, vocabulary), list(templates)
