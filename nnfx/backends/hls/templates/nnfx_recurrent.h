// nnfx HLS kernels of the recurrent layers (docs/semantics.md, "Recurrent layers"): RNN, LSTM
// and GRU, forward from a zero state, over `steps` inputs of n_in values. Per step every gate
// sum is exact in acc_t (and a GRU's q in q_t, its candidate sum in cand_t): products and sums
// of fixed-point values widen exactly, and these types hold every sum the operand types allow.
// Each gate is one table lookup (sigmoid_config, tanh_config: the activation tables' index
// rule); the new cell state and state are exact expressions assigned once, through
// nnfx::quantize, to cell_t and to the state type.
//
// Two forms, one datapath: recurrent_static keeps the step loop rolled (one step's hardware
// reused over time, reuse_factor multipliers' sharing inside a step); recurrent_unrolled
// unrolls the steps (the latency strategy). Both compute the same bits.
#ifndef NNFX_RECURRENT_H_
#define NNFX_RECURRENT_H_

namespace nnfx {

enum recurrent_cell { RNN_CELL, LSTM_CELL, GRU_CELL };

// One step: h (and c) updated in place from x (n_in values).
template <class data_T, class state_T, typename CONFIG_T>
void recurrent_step(const data_T x[CONFIG_T::n_in], state_T h[CONFIG_T::hidden],
                    typename CONFIG_T::cell_t c[CONFIG_T::hidden],
                    const typename CONFIG_T::weight_t w[CONFIG_T::n_in * CONFIG_T::n_gates],
                    const typename CONFIG_T::weight_t r[CONFIG_T::hidden * CONFIG_T::n_gates],
                    const typename CONFIG_T::bias_t b[CONFIG_T::n_gates],
                    const typename CONFIG_T::bias_t rb[CONFIG_T::hidden],
                    const typename CONFIG_T::sig_t sig[CONFIG_T::sigmoid_config::table_size],
                    const typename CONFIG_T::tanh_t tanh[CONFIG_T::tanh_config::table_size]) {
    typedef typename CONFIG_T::acc_t acc_t;
    typedef typename CONFIG_T::sig_t sig_t;
    typedef typename CONFIG_T::tanh_t tanh_t;
    static const int multiplier_limit =
        ((CONFIG_T::n_in + CONFIG_T::hidden) * CONFIG_T::n_gates + CONFIG_T::reuse_factor - 1) /
        CONFIG_T::reuse_factor;
#pragma HLS ALLOCATION operation instances=mul limit=multiplier_limit
    (void)multiplier_limit;  // read by the pragma only (Vitis); g++ ignores HLS pragmas
    const int n = CONFIG_T::hidden;
    acc_t acc[CONFIG_T::n_gates];
    typename CONFIG_T::q_t q[CONFIG_T::hidden];
    for (int j = 0; j < CONFIG_T::n_gates; j++) {
        const bool candidate = CONFIG_T::cell == GRU_CELL && j >= 2 * n;
        acc_t sum = b[j];  // b_g is a code of bias_t; acc_t holds it exactly
        for (int i = 0; i < CONFIG_T::n_in; i++) sum = sum + x[i] * w[i * CONFIG_T::n_gates + j];
        if (candidate) {  // the GRU's candidate: q = R_h h + b'_h apart
            typename CONFIG_T::q_t qs = rb[j - 2 * n];
            for (int k = 0; k < n; k++) qs = qs + h[k] * r[k * CONFIG_T::n_gates + j];
            q[j - 2 * n] = qs;
        } else {
            for (int k = 0; k < n; k++) sum = sum + h[k] * r[k * CONFIG_T::n_gates + j];
        }
        acc[j] = sum;
    }
    const state_T zero = 0.0;
    const typename CONFIG_T::cell_t cell_zero = 0.0;
    for (int j = 0; j < n; j++) {
        if (CONFIG_T::cell == RNN_CELL) {
            h[j] = tanh[table_index<typename CONFIG_T::tanh_config>(acc[j])];
        } else if (CONFIG_T::cell == LSTM_CELL) {  // gates i, o, f, c (ONNX's order)
            const sig_t i = sig[table_index<typename CONFIG_T::sigmoid_config>(acc[j])];
            const sig_t o = sig[table_index<typename CONFIG_T::sigmoid_config>(acc[n + j])];
            const sig_t f = sig[table_index<typename CONFIG_T::sigmoid_config>(acc[2 * n + j])];
            const tanh_t g = tanh[table_index<typename CONFIG_T::tanh_config>(acc[3 * n + j])];
            nnfx::quantize(c[j], f * c[j] + i * g, cell_zero);
            const tanh_t squashed = tanh[table_index<typename CONFIG_T::tanh_config>(c[j])];
            nnfx::quantize(h[j], o * squashed, zero);
        } else {  // gates z, r, h (ONNX's order); linear_before_reset: r * (R_h h + b'_h)
            const sig_t z = sig[table_index<typename CONFIG_T::sigmoid_config>(acc[j])];
            const sig_t rg = sig[table_index<typename CONFIG_T::sigmoid_config>(acc[n + j])];
            const typename CONFIG_T::cand_t cand = acc[2 * n + j] + rg * q[j];
            const tanh_t nv = tanh[table_index<typename CONFIG_T::tanh_config>(cand)];
            const sig_t one = 1.0;
            nnfx::quantize(h[j], (one - z) * nv + z * h[j], zero);
        }
    }
}

// The state before the first step: zero.
template <class res_T, typename CONFIG_T>
void recurrent_start(res_T h[CONFIG_T::hidden], typename CONFIG_T::cell_t c[CONFIG_T::hidden]) {
    for (int j = 0; j < CONFIG_T::hidden; j++) {
        h[j] = 0.0;
        c[j] = 0.0;
    }
}

// Step t of the sequence, and its state written out when the layer returns every step.
template <class data_T, class res_T, typename CONFIG_T>
void recurrent_time_step(int t, const data_T data[CONFIG_T::steps * CONFIG_T::n_in],
                         res_T res[CONFIG_T::n_out], res_T h[CONFIG_T::hidden],
                         typename CONFIG_T::cell_t c[CONFIG_T::hidden],
                         const typename CONFIG_T::weight_t w[CONFIG_T::n_in * CONFIG_T::n_gates],
                         const typename CONFIG_T::weight_t r[CONFIG_T::hidden * CONFIG_T::n_gates],
                         const typename CONFIG_T::bias_t b[CONFIG_T::n_gates],
                         const typename CONFIG_T::bias_t rb[CONFIG_T::hidden],
                         const typename CONFIG_T::sig_t sig[CONFIG_T::sigmoid_config::table_size],
                         const typename CONFIG_T::tanh_t tanh[CONFIG_T::tanh_config::table_size]) {
    nnfx::recurrent_step<data_T, res_T, CONFIG_T>(&data[t * CONFIG_T::n_in], h, c, w, r, b, rb,
                                                  sig, tanh);
    if (CONFIG_T::return_sequences)
        for (int j = 0; j < CONFIG_T::hidden; j++) res[t * CONFIG_T::hidden + j] = h[j];
}

// The last state out, when the layer returns only that.
template <class res_T, typename CONFIG_T>
void recurrent_finish(const res_T h[CONFIG_T::hidden], res_T res[CONFIG_T::n_out]) {
    if (!CONFIG_T::return_sequences)
        for (int j = 0; j < CONFIG_T::hidden; j++) res[j] = h[j];
}

// The two forms differ only in the pragma on the step loop.
template <class data_T, class res_T, typename CONFIG_T>
void recurrent_static(const data_T data[CONFIG_T::steps * CONFIG_T::n_in],
                      res_T res[CONFIG_T::n_out],
                      const typename CONFIG_T::weight_t w[CONFIG_T::n_in * CONFIG_T::n_gates],
                      const typename CONFIG_T::weight_t r[CONFIG_T::hidden * CONFIG_T::n_gates],
                      const typename CONFIG_T::bias_t b[CONFIG_T::n_gates],
                      const typename CONFIG_T::bias_t rb[CONFIG_T::hidden],
                      const typename CONFIG_T::sig_t sig[CONFIG_T::sigmoid_config::table_size],
                      const typename CONFIG_T::tanh_t tanh[CONFIG_T::tanh_config::table_size]) {
    res_T h[CONFIG_T::hidden];
    typename CONFIG_T::cell_t c[CONFIG_T::hidden];
    nnfx::recurrent_start<res_T, CONFIG_T>(h, c);
steps:
    for (int t = 0; t < CONFIG_T::steps; t++) {
#pragma HLS PIPELINE off
        nnfx::recurrent_time_step<data_T, res_T, CONFIG_T>(t, data, res, h, c, w, r, b, rb, sig,
                                                           tanh);
    }
    nnfx::recurrent_finish<res_T, CONFIG_T>(h, res);
}

template <class data_T, class res_T, typename CONFIG_T>
void recurrent_unrolled(const data_T data[CONFIG_T::steps * CONFIG_T::n_in],
                        res_T res[CONFIG_T::n_out],
                        const typename CONFIG_T::weight_t w[CONFIG_T::n_in * CONFIG_T::n_gates],
                        const typename CONFIG_T::weight_t r[CONFIG_T::hidden * CONFIG_T::n_gates],
                        const typename CONFIG_T::bias_t b[CONFIG_T::n_gates],
                        const typename CONFIG_T::bias_t rb[CONFIG_T::hidden],
                        const typename CONFIG_T::sig_t sig[CONFIG_T::sigmoid_config::table_size],
                        const typename CONFIG_T::tanh_t tanh[CONFIG_T::tanh_config::table_size]) {
    res_T h[CONFIG_T::hidden];
    typename CONFIG_T::cell_t c[CONFIG_T::hidden];
    nnfx::recurrent_start<res_T, CONFIG_T>(h, c);
    for (int t = 0; t < CONFIG_T::steps; t++) {
#pragma HLS UNROLL
        nnfx::recurrent_time_step<data_T, res_T, CONFIG_T>(t, data, res, h, c, w, r, b, rb, sig,
                                                           tanh);
    }
    nnfx::recurrent_finish<res_T, CONFIG_T>(h, res);
}

}  // namespace nnfx

#endif  // NNFX_RECURRENT_H_
