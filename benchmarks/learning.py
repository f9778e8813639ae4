"""Learning benchmark on the corridor: memory agents and baselines at lengths 10 and 30.

Runs ``rl-memory bench`` with the matrix recorded in the "Learning" section of
``docs/benchmarks.md``: Expire-Span, a Transformer-XL window of half the corridor, an LSTM
(RecurrentPPO), a frame stack that covers the corridor and SB3 PPO without memory, two seeds
each. Cells run one at a time, each in its own process on one torch thread, and stop once
the training success rate reaches 0.95.

The step budgets and the 90-second training cap per cell fit the measurement into about
30 minutes on a 2-core machine. Length 100 needs agents that start from ones trained on a
shorter corridor: ``benchmarks/learning_100.py`` runs that matrix. Options given on the
command line are appended and override the defaults::

    python benchmarks/learning.py --out runs/bench-learning
"""

from __future__ import annotations

import sys

from rl_memory.cli import main

DEFAULTS = [
    "bench",
    "--memory",
    "expire-span,transformer-xl,lstm,frame-stack,none",
    "--lengths",
    "10,30",
    "--seeds",
    "0,1",
    "--steps",
    "10=200000,30=300000",
    "--max-wall-time",
    "90",
]

if __name__ == "__main__":
    sys.exit(main([*DEFAULTS, *sys.argv[1:]]))
