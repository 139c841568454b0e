from .coco_captions import CocoKarpathyCaptions
from .coco_single_label import CocoSingleLabelCaptions
from .embedding_captions import EmbeddingCaptions
from .shape_captions import COLOURS, POSITIONS, SHAPES, SIZES, ShapeCaptions
from .safe_cifar import SafeCIFAR10, SafeCIFAR100, safe_unpickle
from .transforms import TokenizeCaption
from .zero_shot_classes import (ZERO_SHOT_BENCHMARKS, load_vocabulary, prompt_classnames,
                                zero_shot_prompts)

__all__ = [
    'COLOURS', 'CocoKarpathyCaptions', 'EmbeddingCaptions', 'POSITIONS',
    'SHAPES', 'SIZES', 'SafeCIFAR10', 'SafeCIFAR100', 'ShapeCaptions', 'TokenizeCaption',
    'ZERO_SHOT_BENCHMARKS', 'CocoSingleLabelCaptions', 'load_vocabulary',
    'prompt_classnames', 'safe_unpickle', 'zero_shot_prompts'
]
