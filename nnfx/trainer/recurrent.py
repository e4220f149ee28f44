"""Recurrent layers: ``SimpleRNN``, ``LSTM`` and ``GRU``, trained by backpropagation through time.

They take ``(batch, steps, features)`` and return the last hidden state ``(batch, units)`` or,
with ``return_sequences=True``, every state ``(batch, steps, units)`` (to feed another
recurrent layer). The state starts at zero. The equations and gate orders are PyTorch's
(``torch.nn.RNN``/``LSTM``/``GRU``), with ``a`` the pre-activation of each gate,
``a = x_t W + b + h_{t-1} R + rb``:

- SimpleRNN: ``h_t = tanh(a)``;
- LSTM (gates i, f, g, o; no peepholes): ``i, f, o = sigmoid(a_i, a_f, a_o)``,
  ``g = tanh(a_g)``, ``c_t = f c_{t-1} + i g``, ``h_t = o tanh(c_t)``;
- GRU (gates r, z, n): ``r, z = sigmoid(a_r, a_z)``,
  ``n = tanh(x_t W_n + b_n + r (h_{t-1} R_n + rb_n))`` (the reset gate applied *after* the
  recurrent product: PyTorch's form, ONNX's ``linear_before_reset=1``),
  ``h_t = (1 - z) n + z h_{t-1}``.

Parameters: ``W`` ``(features, gates * units)``, ``R`` ``(units, gates * units)``, the gates side
by side in the order above; the input bias ``b`` and the recurrent bias ``rb`` (PyTorch's
``b_ih`` and ``b_hh``; only the GRU's ``rb_n`` is not redundant). Initialization as Keras:
Glorot uniform ``W``, orthogonal ``R``, zero biases, and an LSTM forget-gate bias of 1 (in
``b``) so that the cell remembers by default at the start of training.

Backward through time: the forward pass keeps every state; the backward pass walks the steps
from last to first, carrying dL/dh (and the LSTM's dL/dc) to the step before. The input
products ``x W`` of all steps are one matrix product each way, outside the loop; ``R``'s
gradient is one product of the previous states with the recurrent pre-activations' gradients.
"""

from __future__ import annotations

import numpy as np

from nnfx.errors import ModelError
from nnfx.trainer.activations import stable_sigmoid
from nnfx.trainer.initializers import Initializer, get_initializer
from nnfx.trainer.layers import Layer, Parameter, _require_rank
from nnfx.trainer.regularizers import L1L2


class Recurrent(Layer):
    """What the three layers share: parameters, the input products, the two return modes."""

    gates = 1  # pre-activations per unit
    onnx_op = ""  # the standard ONNX operator (see onnx_recurrent.py)

    def __init__(
        self,
        units: int,
        return_sequences: bool = False,
        kernel_initializer: str | Initializer = "glorot_uniform",
        recurrent_initializer: str | Initializer = "orthogonal",
        bias_initializer: str | Initializer = "zeros",
        kernel_regularizer: L1L2 | None = None,
        recurrent_regularizer: L1L2 | None = None,
        name: str | None = None,
    ):
        super().__init__(name)
        if int(units) < 1:
            raise ModelError(
                f"{type(self).__name__} layer needs at least one unit, got units={units}"
            )
        self.units = int(units)
        self.return_sequences = bool(return_sequences)
        self.kernel_initializer = get_initializer(kernel_initializer)
        self.recurrent_initializer = get_initializer(recurrent_initializer)
        self.bias_initializer = get_initializer(bias_initializer)
        self.kernel_regularizer = kernel_regularizer
        self.recurrent_regularizer = recurrent_regularizer

    def build(self, input_shape, rng, dtype):
        _require_rank(
            self,
            input_shape,
            (2,),
            "recurrent layers expect (batch, steps, features); give sequences of feature vectors",
        )
        features, units, width = input_shape[1], self.units, self.gates * self.units
        w = self.kernel_initializer((features, width), features, width, rng).astype(dtype)
        r = self.recurrent_initializer((units, width), units, width, rng).astype(dtype)
        b = self.bias_initializer((width,), features, width, rng).astype(dtype)
        self._initial_bias(b)
        rb = np.zeros(width, dtype)
        self.W = Parameter("W", w, np.zeros_like(w), self.kernel_regularizer, decay=True)
        self.R = Parameter("R", r, np.zeros_like(r), self.recurrent_regularizer, decay=True)
        self.b = Parameter("b", b, np.zeros_like(b), decay=False)
        self.rb = Parameter("rb", rb, np.zeros_like(rb), decay=False)
        return super().build(input_shape, rng, dtype)

    def _initial_bias(self, b: np.ndarray) -> None:
        """Adjust the initial input bias in place (the LSTM's forget gate)."""

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    def gate(self, a: np.ndarray, k: int) -> np.ndarray:
        """The ``k``-th gate's block of the last axis of ``a``."""
        return a[..., k * self.units : (k + 1) * self.units]

    def forward(self, x, training=False):
        self._x = x
        n, steps, _ = x.shape
        self._h = np.zeros((n, steps + 1, self.units), dtype=x.dtype)  # h[:, 0] is the start
        self._run(x @ self.W.value + self.b.value)
        states = self._h[:, 1:] if self.return_sequences else self._h[:, -1]
        return states.copy()

    def backward(self, grad_output):
        n, steps, features = self._x.shape
        if self.return_sequences:
            grad_states = grad_output
        else:
            grad_states = np.zeros((n, steps, self.units), dtype=grad_output.dtype)
            grad_states[:, -1] = grad_output
        d_input, d_recurrent = self._through_time(grad_states)
        width = self.gates * self.units
        flat = d_input.reshape(-1, width)
        self.W.grad = self._x.reshape(-1, features).T @ flat
        self.b.grad = flat.sum(axis=0)
        flat = d_recurrent.reshape(-1, width)
        self.R.grad = self._h[:, :-1].reshape(-1, self.units).T @ flat
        self.rb.grad = flat.sum(axis=0)
        return d_input @ self.W.value.T

    def _run(self, xw: np.ndarray) -> None:
        """Fill ``self._h[:, 1:]`` from the input pre-activations ``xw`` (n, steps, width)."""
        raise NotImplementedError

    def _through_time(self, grad_states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """dL/d(xW + b) and dL/d(hR + rb) at every step, from dL/dh at every step."""
        raise NotImplementedError

    def parameters(self):
        return [self.W, self.R, self.b, self.rb]

    def config(self):
        return {"units": self.units, "return_sequences": self.return_sequences}


class SimpleRNN(Recurrent):
    """``h_t = tanh(x_t W + b + h_{t-1} R + rb)``; backward: ``da = dh (1 - h_t^2)`` and
    ``dh_{t-1} = da R^T`` (plus the loss's own gradient at step t-1)."""

    gates = 1
    onnx_op = "RNN"

    def _run(self, xw):
        h, R, rb = self._h, self.R.value, self.rb.value
        for t in range(xw.shape[1]):
            h[:, t + 1] = np.tanh(xw[:, t] + h[:, t] @ R + rb)

    def _through_time(self, grad_states):
        h, R = self._h, self.R.value
        d_pre = np.empty_like(grad_states)
        dh = np.zeros_like(grad_states[:, 0])
        for t in reversed(range(grad_states.shape[1])):
            dh = dh + grad_states[:, t]
            d_pre[:, t] = dh * (1 - h[:, t + 1] ** 2)
            dh = d_pre[:, t] @ R.T
        return d_pre, d_pre


class LSTM(Recurrent):
    """Long short-term memory (Hochreiter & Schmidhuber 1997) with a forget gate, gates
    i, f, g, o. Backward, with ``dc`` the carried cell gradient:
    ``dc += dh o (1 - tanh(c_t)^2)``, ``do = dh tanh(c_t)``, ``di = dc g``, ``dg = dc i``,
    ``df = dc c_{t-1}``, then ``dc_{t-1} = dc f`` and ``dh_{t-1} = da R^T``."""

    gates = 4
    onnx_op = "LSTM"

    def _initial_bias(self, b):
        b[self.units : 2 * self.units] = 1.0  # the forget gate starts open (Keras)

    def _run(self, xw):
        n, steps, width = xw.shape
        h, R, rb = self._h, self.R.value, self.rb.value
        self._c = np.zeros_like(h)
        self._acts = np.empty((n, steps, width), dtype=xw.dtype)  # i, f, g, o after σ/tanh
        for t in range(steps):
            a = xw[:, t] + h[:, t] @ R + rb
            acts = self._acts[:, t]
            acts[...] = stable_sigmoid(a)
            acts[:, 2 * self.units : 3 * self.units] = np.tanh(self.gate(a, 2))
            i, f, g, o = (self.gate(acts, k) for k in range(4))
            self._c[:, t + 1] = f * self._c[:, t] + i * g
            h[:, t + 1] = o * np.tanh(self._c[:, t + 1])

    def _through_time(self, grad_states):
        c, R = self._c, self.R.value
        d_pre = np.empty_like(self._acts)
        dh = np.zeros_like(grad_states[:, 0])
        dc = np.zeros_like(dh)
        for t in reversed(range(grad_states.shape[1])):
            dh = dh + grad_states[:, t]
            i, f, g, o = (self.gate(self._acts[:, t], k) for k in range(4))
            tanh_c = np.tanh(c[:, t + 1])
            dc = dc + dh * o * (1 - tanh_c**2)
            d = d_pre[:, t]
            self.gate(d, 0)[...] = dc * g * i * (1 - i)
            self.gate(d, 1)[...] = dc * c[:, t] * f * (1 - f)
            self.gate(d, 2)[...] = dc * i * (1 - g**2)
            self.gate(d, 3)[...] = dh * tanh_c * o * (1 - o)
            dc = dc * f
            dh = d @ R.T
        return d_pre, d_pre


class GRU(Recurrent):
    """Gated recurrent unit (Cho et al. 2014), gates r, z, n, in PyTorch's form (the reset
    gate scales ``h R_n + rb_n``). Backward: ``dn = dh (1 - z)``, ``dz = dh (h_{t-1} - n)``,
    ``dr = dn (1 - n^2) (h R_n + rb_n)``; the n-gate's recurrent pre-activation receives
    ``dn (1 - n^2) r``, its input one ``dn (1 - n^2)``; ``dh_{t-1} = dh z + da_h R^T``."""

    gates = 3
    onnx_op = "GRU"

    def _run(self, xw):
        n, steps, width = xw.shape
        h, R, rb = self._h, self.R.value, self.rb.value
        self._rz = np.empty((n, steps, 2 * self.units), dtype=xw.dtype)
        self._n = np.empty((n, steps, self.units), dtype=xw.dtype)
        self._hn = np.empty_like(self._n)  # h_{t-1} R_n + rb_n, before the reset gate
        for t in range(steps):
            ah = h[:, t] @ R + rb
            rz = self._rz[:, t]
            rz[...] = stable_sigmoid(xw[:, t, : 2 * self.units] + ah[:, : 2 * self.units])
            r, z = self.gate(rz, 0), self.gate(rz, 1)
            self._hn[:, t] = self.gate(ah, 2)
            self._n[:, t] = np.tanh(self.gate(xw[:, t], 2) + r * self._hn[:, t])
            h[:, t + 1] = (1 - z) * self._n[:, t] + z * h[:, t]

    def _through_time(self, grad_states):
        h, R = self._h, self.R.value
        d_input = np.empty((*grad_states.shape[:2], 3 * self.units), dtype=grad_states.dtype)
        d_recurrent = np.empty_like(d_input)
        dh = np.zeros_like(grad_states[:, 0])
        for t in reversed(range(grad_states.shape[1])):
            dh = dh + grad_states[:, t]
            r, z = self.gate(self._rz[:, t], 0), self.gate(self._rz[:, t], 1)
            new = self._n[:, t]
            dn_pre = dh * (1 - z) * (1 - new**2)
            dr_pre = dn_pre * self._hn[:, t] * r * (1 - r)
            dz_pre = dh * (h[:, t] - new) * z * (1 - z)
            for d in (d_input[:, t], d_recurrent[:, t]):
                self.gate(d, 0)[...] = dr_pre
                self.gate(d, 1)[...] = dz_pre
            self.gate(d_input[:, t], 2)[...] = dn_pre
            self.gate(d_recurrent[:, t], 2)[...] = dn_pre * r
            dh = dh * z + d_recurrent[:, t] @ R.T
        return d_input, d_recurrent
