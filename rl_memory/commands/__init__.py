"""Subcommands of the ``rl-memory`` command, one module each (see ``rl_memory.cli``)."""
