"""Run one benchmark cell: ``python -m rl_memory.bench SPEC.json RESULT.json``."""

import sys

from rl_memory.bench.cells import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
