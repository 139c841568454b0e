"""The lab: the paper's reproduction and the studies, on top of the ``tpc_cma_mm`` library.

``tpc_cma_lab.engine`` is the one run engine all of them train, score and record with.

``tpc_cma_lab.reproduce`` (tools/reproduce.py) trains and scores the paper's variants
and writes the report (``report``, ``report_text``, ``verdicts`` with ``margins``, ``figures``);
``tpc_cma_lab.study`` (tools/experiments.py) runs the studies and the R² pool. The lab
imports the library; the library never imports the lab.
"""
__all__ = []
