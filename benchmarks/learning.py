"""Learning benchmark on the corridor: memory agents and baselines, lengths 10, 30 and 100.

Runs ``rl-memory bench`` with the matrix recorded in the "Learning" section of
``docs/benchmarks.md``: Expire-Span, a Transformer-XL window of half the corridor, an LSTM
(RecurrentPPO), a frame stack that covers the corridor and SB3 PPO without memory, two seeds
each, then the agents trained on length 100 evaluated on lengths 1,000 and 10,000. Cells run
one at a time, each in its own process on one torch thread.

The step budgets and the 60-second training cap per cell fit the measurement into about
35 minutes on a 2-core machine shared with other jobs; on a quiet machine raise them, e.g.
``--steps 10=100000,30=200000,100=300000 --max-wall-time 180``. Options given on the command
line are appended and override the defaults::

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
    "10,30,100",
    "--seeds",
    "0,1",
    "--steps",
    "10=25000,30=40000,100=100000",
    "--max-wall-time",
    "60",
    "--generalize-to",
    "1000,10000",
    "--generalize-memory",
    "expire-span,transformer-xl,lstm",
    "--generalize-seeds",
    "0",
    "--generalize-episodes",
    "8",
]

if __name__ == "__main__":
    sys.exit(main([*DEFAULTS, *sys.argv[1:]]))
