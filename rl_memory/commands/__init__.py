"""Subcommands of the ``rl-memory`` command, one module each (see ``rl_memory.cli``)."""

import argparse

MAX_SEED = 2**32 - 1


def seed_value(text: str) -> int:
    """Parse a ``--seed`` option: an integer from 0 to 2**32 - 1, as NumPy and Gymnasium take."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}: use an integer") from None
    if not 0 <= seed <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"invalid seed {seed}: use an integer from 0 to {MAX_SEED}"
        )
    return seed
