from .loading import ImageLoadError, SafeLoadImageFromFile
from .tokenize import TokenizeCaption

__all__ = ['ImageLoadError', 'SafeLoadImageFromFile', 'TokenizeCaption']
