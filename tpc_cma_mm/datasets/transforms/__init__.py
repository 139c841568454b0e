from .tokenize import TokenizeCaption

__all__ = ['TokenizeCaption']
