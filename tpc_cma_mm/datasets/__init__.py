from .coco_captions import CocoKarpathyCaptions
from .shape_captions import COLOURS, POSITIONS, SHAPES, SIZES, ShapeCaptions
from .transforms import TokenizeCaption

__all__ = [
    'COLOURS', 'CocoKarpathyCaptions', 'POSITIONS', 'SHAPES', 'SIZES',
    'ShapeCaptions', 'TokenizeCaption'
]
