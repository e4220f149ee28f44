"""Weight penalties added to the loss: L1, L2 and both.

A regularizer is a function of one weight tensor that returns its penalty and the penalty's
gradient. The model adds every penalty to the data loss and every gradient to the weight's
gradient before the optimizer step, which is exactly what differentiating ``loss + penalty``
by the chain rule gives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class L1L2:
    """Penalty ``l1 * sum(|w|) + l2 * sum(w^2)``; gradient ``l1 * sign(w) + 2 * l2 * w``."""

    l1: float = 0.0
    l2: float = 0.0

    def penalty(self, w: np.ndarray) -> float:
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.abs(w).sum())
        if self.l2:
            total += self.l2 * float(np.square(w).sum())
        return total

    def gradient(self, w: np.ndarray) -> np.ndarray:
        grad = np.zeros_like(w)
        if self.l1:
            grad += self.l1 * np.sign(w)
        if self.l2:
            grad += (2.0 * self.l2) * w
        return grad


def L1(l1: float = 0.01) -> L1L2:  # noqa: N802  (Keras' spelling, a factory)
    """Lasso penalty ``l1 * sum(|w|)``: drives weights to exactly zero (sparsity)."""
    return L1L2(l1=l1)


def L2(l2: float = 0.01) -> L1L2:  # noqa: N802
    """Ridge penalty ``l2 * sum(w^2)``: shrinks every weight towards zero."""
    return L1L2(l2=l2)
