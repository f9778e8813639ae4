"""``python -m rl_memory``: the ``rl-memory`` command, for example in a child process."""

import sys

from rl_memory.cli import main

sys.exit(main())
