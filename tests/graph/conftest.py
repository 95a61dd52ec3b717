"""Every graph test module loads rl_coach through markov.compat, whichever module pytest collects first.

A module that imports an rl_coach module directly would otherwise load Coach's logger without the
compat fix (pandas 3 columns), and a later test that trains through Coach's full ``train()`` fails.
"""
import markov.compat  # noqa: F401
