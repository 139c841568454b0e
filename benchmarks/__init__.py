"""Side-by-side benchmarks; run each as ``python -m benchmarks.<name>`` (docs/benchmarks.md)."""
__all__ = []
