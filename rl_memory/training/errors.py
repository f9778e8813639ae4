"""Errors that a run reports to the user as one line: bad input, not a bug."""

from __future__ import annotations


class RunError(ValueError):
    """Invalid request to train or evaluate; the message names the value and the fix."""


class RunDirError(RunError):
    """A run folder that is missing, incomplete, or already in use."""


class CheckpointError(RunError):
    """A checkpoint that is missing, corrupt, or does not fit the environment."""


class EnvSetupError(RunError):
    """An environment id or argument that cannot be built, or observations the agent cannot read."""
