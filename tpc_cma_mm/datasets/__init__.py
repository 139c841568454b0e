from .coco_captions import CocoKarpathyCaptions
from .embedding_captions import EmbeddingCaptions, cache_embeddings
from .shape_captions import COLOURS, POSITIONS, SHAPES, SIZES, ShapeCaptions
from .transforms import TokenizeCaption

__all__ = [
    'COLOURS', 'CocoKarpathyCaptions', 'EmbeddingCaptions', 'POSITIONS',
    'SHAPES', 'SIZES', 'ShapeCaptions', 'TokenizeCaption', 'cache_embeddings'
]
