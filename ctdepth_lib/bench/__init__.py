"""The bench wing of ``ctdepth_lib``: benchmarks that print figures, not timed tests.

It depends on the science modules, never the reverse; chapter 5 calls the cost harness through
the top-level names (``cl.cost_table``, ``cl.start_measuring_process``).

* :mod:`.unroll` — ``bench_unroll``: ``resnet_unroll`` against torchdiffeq's Euler
  (``python -m ctdepth_lib bench``);
* :mod:`.cost` — peak memory and time of a gradient, backprop through the unroll against the
  adjoint, each configuration in its own forked process (``python -m ctdepth_lib cost``).

Importing this package loads nothing (no torch): import the module you need.
"""
