"""Optimizers: how a gradient becomes a step.

Every optimizer shares the same outer loop (:meth:`Optimizer.step`): clip the gradients
(by value, then by global norm), add coupled L2 weight decay if asked, then apply its own
update rule to each parameter. ``state`` keeps per-parameter memories (velocity, squared
gradient averages), indexed by the parameter's position in the model.

The update rules, with g the gradient and lr the learning rate:

- SGD:       ``w -= lr g``
- Momentum:  ``v = mu v - lr g;  w += v``                    (Polyak's heavy ball)
- Nesterov:  ``v = mu v - lr g;  w += mu v - lr g``         (look-ahead form, as Keras)
- Adagrad:   ``G += g^2;  w -= lr g / (sqrt(G) + eps)``
- RMSprop:   ``s = rho s + (1 - rho) g^2;  w -= lr g / (sqrt(s) + eps)``
- Adam:      ``m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;``
             ``w -= lr m_hat / (sqrt(v_hat) + eps)``
             with ``m_hat = m / (1 - b1^t)`` and ``v_hat = v / (1 - b2^t)``
- AdamW:     Adam, with weight decay decoupled from the gradient: ``w -= lr wd w`` first.
"""

from __future__ import annotations

import numpy as np

from nnfx.errors import ConfigError
from nnfx.trainer.layers import Parameter
from nnfx.trainer.schedules import Schedule, as_schedule


class Optimizer:
    name = ""

    def __init__(
        self,
        learning_rate: float | Schedule = 0.01,
        weight_decay: float = 0.0,
        clip_value: float | None = None,
        clip_norm: float | None = None,
    ):
        self.schedule = as_schedule(learning_rate)
        self.learning_rate = self.schedule(0)
        if weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {weight_decay}")
        for what, value in (("clip_value", clip_value), ("clip_norm", clip_norm)):
            if value is not None and value <= 0:
                raise ConfigError(f"{what} must be positive, got {value}")
        self.weight_decay = float(weight_decay)
        self.clip_value = clip_value
        self.clip_norm = clip_norm
        self.iterations = 0
        self.state: dict[int, dict[str, np.ndarray]] = {}

    def set_epoch(self, epoch: int) -> None:
        """Set the learning rate the schedule gives for ``epoch`` (0-based)."""
        self.learning_rate = self.schedule(epoch)

    def step(self, params: list[Parameter]) -> None:
        grads = clip_gradients([p.grad for p in params], self.clip_value, self.clip_norm)
        self.iterations += 1
        for index, (param, grad) in enumerate(zip(params, grads, strict=True)):
            if self.weight_decay and param.decay:
                if self.decoupled_decay:
                    param.value -= (self.learning_rate * self.weight_decay) * param.value
                else:
                    grad = grad + self.weight_decay * param.value
            state = self.state.setdefault(index, {})
            self.update(param.value, grad, state)

    decoupled_decay = False

    def update(self, w: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        """Apply the rule in place to ``w``."""
        raise NotImplementedError

    def config(self) -> dict:
        return {"learning_rate": self.learning_rate, "weight_decay": self.weight_decay}


def clip_gradients(grads: list[np.ndarray], clip_value=None, clip_norm=None) -> list[np.ndarray]:
    """Clip each element to [-clip_value, clip_value], then rescale all gradients together so
    that their global L2 norm is at most ``clip_norm`` (direction kept, length capped)."""
    if clip_value is not None:
        grads = [np.clip(g, -clip_value, clip_value) for g in grads]
    if clip_norm is not None:
        norm = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads)))
        if norm > clip_norm:
            grads = [g * (clip_norm / norm) for g in grads]
    return grads


class SGD(Optimizer):
    """Plain gradient descent; with ``momentum > 0`` the heavy-ball method, and with
    ``nesterov=True`` Nesterov's accelerated gradient."""

    name = "sgd"

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False, **kw):
        super().__init__(learning_rate, **kw)
        if not 0.0 <= momentum < 1.0:
            raise ConfigError(f"momentum must be in [0, 1), got {momentum}")
        if nesterov and momentum == 0.0:
            raise ConfigError("Nesterov momentum needs momentum > 0")
        self.momentum = float(momentum)
        self.nesterov = nesterov

    def update(self, w, g, state):
        lr = self.learning_rate
        if self.momentum == 0.0:
            w -= lr * g
            return
        v = state.setdefault("velocity", np.zeros_like(w))
        v *= self.momentum
        v -= lr * g
        if self.nesterov:
            w += self.momentum * v - lr * g
        else:
            w += v

    def config(self):
        return {**super().config(), "momentum": self.momentum, "nesterov": self.nesterov}


def Momentum(learning_rate=0.01, momentum: float = 0.9, **kw) -> SGD:  # noqa: N802
    return SGD(learning_rate, momentum=momentum, **kw)


def Nesterov(learning_rate=0.01, momentum: float = 0.9, **kw) -> SGD:  # noqa: N802
    return SGD(learning_rate, momentum=momentum, nesterov=True, **kw)


class Adagrad(Optimizer):
    """Per-weight learning rates that shrink with the sum of past squared gradients."""

    name = "adagrad"

    def __init__(self, learning_rate=0.01, epsilon: float = 1e-8, **kw):
        super().__init__(learning_rate, **kw)
        self.epsilon = epsilon

    def update(self, w, g, state):
        acc = state.setdefault("sum_squares", np.zeros_like(w))
        acc += g * g
        w -= self.learning_rate * g / (np.sqrt(acc) + self.epsilon)


class RMSprop(Optimizer):
    """Adagrad with a leaking memory: a moving average of squared gradients."""

    name = "rmsprop"

    def __init__(self, learning_rate=0.001, rho: float = 0.9, epsilon: float = 1e-8, **kw):
        super().__init__(learning_rate, **kw)
        self.rho, self.epsilon = rho, epsilon

    def update(self, w, g, state):
        s = state.setdefault("mean_square", np.zeros_like(w))
        s *= self.rho
        s += (1.0 - self.rho) * g * g
        w -= self.learning_rate * g / (np.sqrt(s) + self.epsilon)


class Adam(Optimizer):
    """Momentum (first moment) plus RMSprop (second moment), both bias-corrected."""

    name = "adam"

    def __init__(
        self,
        learning_rate=0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        **kw,
    ):
        super().__init__(learning_rate, **kw)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def update(self, w, g, state):
        m = state.setdefault("m", np.zeros_like(w))
        v = state.setdefault("v", np.zeros_like(w))
        b1, b2, t = self.beta_1, self.beta_2, self.iterations
        m *= b1
        m += (1.0 - b1) * g
        v *= b2
        v += (1.0 - b2) * (g * g)
        correction1, correction2 = 1.0 - b1**t, 1.0 - b2**t
        denominator = np.sqrt(v / correction2)
        denominator += self.epsilon
        w -= (self.learning_rate / correction1) * m / denominator


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): the decay shrinks weights
    directly instead of passing through the adaptive denominator."""

    name = "adamw"
    decoupled_decay = True

    def __init__(self, learning_rate=0.001, weight_decay: float = 0.01, **kw):
        super().__init__(learning_rate, weight_decay=weight_decay, **kw)


OPTIMIZERS = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
}


def get_optimizer(name_or_optimizer: str | Optimizer, **kwargs) -> Optimizer:
    """An optimizer from its name; keyword arguments go to its constructor."""
    if isinstance(name_or_optimizer, Optimizer):
        return name_or_optimizer
    try:
        factory = OPTIMIZERS[str(name_or_optimizer).lower()]
    except KeyError:
        raise ConfigError(
            f"unknown optimizer '{name_or_optimizer}'; expected one of {', '.join(OPTIMIZERS)}"
        ) from None
    return factory(**kwargs)
