"""Learning benchmark at corridor length 100, each agent starting from its own length-20 agent.

From scratch, no agent here reaches an arm of a 100-cell corridor, so every agent first
trains at length 20 and its length-100 cell starts from that policy (``--init-length 20``).
The agents are Expire-Span, a Transformer-XL window of half the corridor, an LSTM
(RecurrentPPO), a stack of 50 frames (shorter than the corridor, so it cannot hold the cue)
and SB3 PPO without memory. Each trains with two seeds, one cell at a time, and stops once
its training success rate reaches 0.95 or after 150 s of training. The Expire-Span agents
trained at 100 are then evaluated on corridors of 1,000 and 10,000 cells. Results are
recorded in the "Learning" section of ``docs/benchmarks.md``. Options given on the command
line are appended and override the defaults::

    python benchmarks/learning_100.py --out runs/bench-learning-100
"""

from __future__ import annotations

import sys

from rl_memory.cli import main

DEFAULTS = [
    "bench",
    "--memory",
    "expire-span,transformer-xl,lstm,frame-stack:memory.frame_stack=50,none",
    "--lengths",
    "20,100",
    "--init-length",
    "20",
    "--seeds",
    "0,1",
    "--steps",
    "20=500000,100=500000",
    "--max-wall-time",
    "150",
    "--generalize-to",
    "1000,10000",
    "--generalize-from",
    "100",
    "--generalize-memory",
    "expire-span",
    "--generalize-episodes",
    "32",
    "--generalize-timeout",
    "900",
]

if __name__ == "__main__":
    sys.exit(main([*DEFAULTS, *sys.argv[1:]]))
