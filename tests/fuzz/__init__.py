"""Mutation fuzzing of model files: a seed corpus, a deterministic mutator and a bounded runner.

``python -m tests.fuzz --cases 10000 --seed 1`` runs a long campaign (docs/testing.md).
"""
