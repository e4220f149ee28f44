"""The HLS emitter of a binary Dense or Conv (kernels ``nnfx::dense_binary`` and
``nnfx::conv2d_binary`` in templates/nnfx_binary.h; docs/semantics.md, "QONNX BipolarQuant"):
the XNOR-popcount form of a layer whose input codes are ``+-a`` and whose weight codes of output
``j`` are ``+-c_j`` (:func:`nnfx.compiler.binary.binary_form`).

Its constants: each output's weight sign bits (bit ``b`` set where weight ``b`` of the output
is negative, ``b`` the input index of a Dense, the window position of a Conv) as words of
:data:`WORD_BITS` bits, least significant first, which the kernel joins into one ``bits_t``;
and ``units[j] = a c_j`` in value terms (``a 2^-F_x`` times ``c_j 2^-F_w``, exact in
``unit_t``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nnfx.backends.hls.render import BitsType, WideType
from nnfx.compiler.binary import BinaryForm
from nnfx.compiler.fixed import to_float
from nnfx.compiler.ir import Node

if TYPE_CHECKING:
    from nnfx.backends.hls.writer import HlsWriter

WORD_BITS = 16  # sign bits per word of the sign ROM (an int constant, exact as a double)


def sign_words(negative: np.ndarray) -> np.ndarray:
    """``negative`` (n, outputs) bools as ``(outputs, ceil(n / WORD_BITS))`` words."""
    n, outputs = negative.shape
    words = -(-n // WORD_BITS)
    bits = np.zeros((outputs, words * WORD_BITS), np.int64)
    bits[:, :n] = negative.T
    weights = np.left_shift(1, np.arange(WORD_BITS, dtype=np.int64))
    return (bits.reshape(outputs, words, WORD_BITS) * weights).sum(axis=-1)


def emit_binary(
    w: HlsWriter, node: Node, form: BinaryForm, kernel: str, fields, types, extra, args
) -> str:
    """The binary kernel's call: ``kernel`` (``dense`` or ``conv2d``) with the multiply-add
    kernel's ``fields``, ``types`` (accumulator, bias) and ``extra`` members (the fused slope);
    ``args`` = (ins, out, in_t, out_t). Returns the sign ROM's name (for the layer's
    pragmas)."""
    ins, out, in_t, out_t = args
    negative = form.negative.reshape(-1, form.negative.shape[-1])
    n_bits = negative.shape[0]
    frac = w.graph.tensors[node.inputs[0]].dtype.frac + node.layer_precision.type_of("weight").frac
    units = form.input_code * form.magnitudes
    width = int(units.max()).bit_length() + 1  # signed, positive values
    unit_t = w.types.add(w.node_name("unittype", node), WideType(width, width - frac))
    bits_t = w.types.add(w.node_name("bitstype", node), BitsType(n_bits))
    words = sign_words(negative)
    cfg = w.config(
        node,
        {**fields, "n_words": words.shape[1]},
        {**types, "unit_t": unit_t, "bits_t": bits_t},
        extra,
    )
    signs = w.constant(node, "signs", "int", words)
    unit = w.constant(node, "units", unit_t, to_float(units, frac))
    bias = node.param(w.graph, "bias") if "bias" in node.params else [0.0]
    b = w.constant(node, "biases", types["bias_t"], bias)
    call = f"nnfx::{kernel}_binary<{in_t[0]}, {out_t}, {cfg}>"
    w.body.append(f"    {call}({ins[0]}, {out}, {signs}, {unit}, {b});")
    return signs
