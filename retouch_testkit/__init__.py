"""Test inputs shared by the tests, the benchmarks and the colorize training: hostile uploads
(:mod:`.hostile`), synthetic images (:mod:`.synthetic`, numpy only, so a training venv imports
it too), real faces with painted defects (:mod:`.portrait`, :mod:`.teeth`) and the web page's
first load (:mod:`.web`).

A top-level package of the repository (``pythonpath = ["."]`` for pytest; the benchmarks and
the training run as ``python -m ...`` from the repository root). It never ships: the Lambda
layer holds only ``retouch``, and the ``retouch`` distribution only ``layers/retouch``. Import
its modules one by one: this file imports nothing.
"""
