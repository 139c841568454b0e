from .multi_val_loop import MultiValLoop

__all__ = ['MultiValLoop']
