// nnfx HLS kernels: one template per IR op, configured by a per-layer struct.
//
// Every kernel is written once and instantiated with ap_fixed (Vitis HLS, csim-ap) or
// ac_fixed (the fast C-simulation). Kernels use only arithmetic, comparison, assignment and
// to_int(), which both number types share; the assignment to the result type is the one
// quantization of docs/semantics.md. Arrays are flat, per sample, channels-last.
#ifndef NNFX_KERNELS_H_
#define NNFX_KERNELS_H_

namespace nnfx {

// Dense: res[j] = Q(bias[j] + sum_i data[i] * weights[i][j]) accumulated in accum_t.
template <class data_T, class res_T, typename CONFIG_T>
void dense(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
           const typename CONFIG_T::weight_t weights[CONFIG_T::n_in * CONFIG_T::n_out],
           const typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    typedef typename CONFIG_T::accum_t accum_t;
    for (int j = 0; j < CONFIG_T::n_out; j++) {
        accum_t acc = 0;
        if (CONFIG_T::has_bias) acc = biases[j];
        for (int i = 0; i < CONFIG_T::n_in; i++) {
            accum_t product = data[i] * weights[i * CONFIG_T::n_out + j];
            acc = acc + product;
        }
        if (CONFIG_T::relu && acc < 0) acc = 0;
        res[j] = acc;
    }
}

// Conv (1-D as height 1): windows over the padded input, channel-major then taps row by row.
template <class data_T, class res_T, typename CONFIG_T>
void conv2d(const data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
            res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt],
            const typename CONFIG_T::weight_t
                weights[CONFIG_T::filt_height * CONFIG_T::filt_width * CONFIG_T::n_chan *
                        CONFIG_T::n_filt],
            const typename CONFIG_T::bias_t biases[CONFIG_T::n_filt]) {
    typedef typename CONFIG_T::accum_t accum_t;
    for (int oh = 0; oh < CONFIG_T::out_height; oh++) {
        for (int ow = 0; ow < CONFIG_T::out_width; ow++) {
            for (int f = 0; f < CONFIG_T::n_filt; f++) {
                accum_t acc = 0;
                if (CONFIG_T::has_bias) acc = biases[f];
                for (int c = 0; c < CONFIG_T::n_chan; c++) {
                    for (int i = 0; i < CONFIG_T::filt_height; i++) {
                        for (int k = 0; k < CONFIG_T::filt_width; k++) {
                            const int ih = oh * CONFIG_T::stride_height +
                                           i * CONFIG_T::dilation_height - CONFIG_T::pad_top;
                            const int iw = ow * CONFIG_T::stride_width +
                                           k * CONFIG_T::dilation_width - CONFIG_T::pad_left;
                            if (ih < 0 || ih >= CONFIG_T::in_height || iw < 0 ||
                                iw >= CONFIG_T::in_width)
                                continue;  // zero padding adds nothing
                            accum_t product =
                                data[(ih * CONFIG_T::in_width + iw) * CONFIG_T::n_chan + c] *
                                weights[((i * CONFIG_T::filt_width + k) * CONFIG_T::n_chan + c) *
                                            CONFIG_T::n_filt +
                                        f];
                            acc = acc + product;
                        }
                    }
                }
                if (CONFIG_T::relu && acc < 0) acc = 0;
                res[(oh * CONFIG_T::out_width + ow) * CONFIG_T::n_filt + f] = acc;
            }
        }
    }
}

// Max and average pooling (1-D as height 1). Padding never wins a maximum and adds 0 to a sum.
template <class data_T, class res_T, typename CONFIG_T>
void pool2d(const data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
            res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_chan],
            const typename CONFIG_T::recip_t reciprocal[CONFIG_T::n_reciprocal]) {
    typedef typename CONFIG_T::sum_t sum_t;
    for (int oh = 0; oh < CONFIG_T::out_height; oh++) {
        for (int ow = 0; ow < CONFIG_T::out_width; ow++) {
            for (int c = 0; c < CONFIG_T::n_chan; c++) {
                data_T best = 0;
                bool first = true;
                sum_t total = 0;
                for (int i = 0; i < CONFIG_T::pool_height; i++) {
                    for (int k = 0; k < CONFIG_T::pool_width; k++) {
                        const int ih = oh * CONFIG_T::stride_height + i - CONFIG_T::pad_top;
                        const int iw = ow * CONFIG_T::stride_width + k - CONFIG_T::pad_left;
                        if (ih < 0 || ih >= CONFIG_T::in_height || iw < 0 ||
                            iw >= CONFIG_T::in_width)
                            continue;
                        const data_T v = data[(ih * CONFIG_T::in_width + iw) * CONFIG_T::n_chan + c];
                        if (CONFIG_T::is_max) {
                            if (first || v > best) best = v;
                            first = false;
                        } else {
                            total = total + v;
                        }
                    }
                }
                const int out = (oh * CONFIG_T::out_width + ow) * CONFIG_T::n_chan + c;
                if (CONFIG_T::is_max) {
                    res[out] = best;
                } else {
                    const int r = CONFIG_T::n_reciprocal == 1 ? 0 : oh * CONFIG_T::out_width + ow;
                    res[out] = total * reciprocal[r];
                }
            }
        }
    }
}

// Global max / average over every position of a (positions, channels) tensor.
template <class data_T, class res_T, typename CONFIG_T>
void global_pool(const data_T data[CONFIG_T::n_positions * CONFIG_T::n_chan],
                 res_T res[CONFIG_T::n_chan],
                 const typename CONFIG_T::recip_t reciprocal[1]) {
    typedef typename CONFIG_T::sum_t sum_t;
    for (int c = 0; c < CONFIG_T::n_chan; c++) {
        data_T best = data[c];
        sum_t total = 0;
        for (int p = 0; p < CONFIG_T::n_positions; p++) {
            const data_T v = data[p * CONFIG_T::n_chan + c];
            if (v > best) best = v;
            total = total + v;
        }
        if (CONFIG_T::is_max)
            res[c] = best;
        else
            res[c] = total * reciprocal[0];
    }
}

// BatchNorm: res = Q(data * scale + bias), constants per channel (last axis) or per element.
template <class data_T, class res_T, typename CONFIG_T>
void batchnorm(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
               const typename CONFIG_T::scale_t scale[CONFIG_T::n_scale],
               const typename CONFIG_T::bias_t bias[CONFIG_T::n_scale]) {
    for (int i = 0; i < CONFIG_T::n_in; i++) {
        const int k = CONFIG_T::n_scale == CONFIG_T::n_in ? i : i % CONFIG_T::n_scale;
        res[i] = data[i] * scale[k] + bias[k];
    }
}

template <class a_T, class b_T, class res_T, typename CONFIG_T>
void add(const a_T a[CONFIG_T::n_in], const b_T b[CONFIG_T::n_in], res_T res[CONFIG_T::n_in]) {
    for (int i = 0; i < CONFIG_T::n_in; i++) res[i] = a[i] + b[i];
}

template <class a_T, class b_T, class res_T, typename CONFIG_T>
void subtract(const a_T a[CONFIG_T::n_in], const b_T b[CONFIG_T::n_in],
              res_T res[CONFIG_T::n_in]) {
    for (int i = 0; i < CONFIG_T::n_in; i++) res[i] = a[i] - b[i];
}

template <class a_T, class b_T, class res_T, typename CONFIG_T>
void multiply(const a_T a[CONFIG_T::n_in], const b_T b[CONFIG_T::n_in],
              res_T res[CONFIG_T::n_in]) {
    for (int i = 0; i < CONFIG_T::n_in; i++) res[i] = a[i] * b[i];
}

// One input's share of a concatenation: rows of `inner` values placed at `offset` in rows of
// `inner_out`.
template <class data_T, class res_T, typename CONFIG_T>
void concat_part(const data_T data[CONFIG_T::outer * CONFIG_T::inner],
                 res_T res[CONFIG_T::outer * CONFIG_T::inner_out]) {
    for (int o = 0; o < CONFIG_T::outer; o++)
        for (int i = 0; i < CONFIG_T::inner; i++)
            res[o * CONFIG_T::inner_out + CONFIG_T::offset + i] = data[o * CONFIG_T::inner + i];
}

// A layout change: res[k] = data[index[k]].
template <class data_T, class res_T, typename CONFIG_T>
void permute(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
             const int index[CONFIG_T::n_in]) {
    for (int k = 0; k < CONFIG_T::n_in; k++) res[k] = data[index[k]];
}

template <class data_T, class res_T, typename CONFIG_T>
void copy(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in]) {
    for (int k = 0; k < CONFIG_T::n_in; k++) res[k] = data[k];
}

// clip(floor(x * 2^shift) - start, 0, size - 1): the table index of docs/semantics.md.
template <typename CONFIG_T, class value_T>
int table_index(const value_T& x) {
    typename CONFIG_T::index_t k = x * CONFIG_T::scale();
    int i = k.to_int() - CONFIG_T::table_start;
    if (i < 0) i = 0;
    if (i > CONFIG_T::table_size - 1) i = CONFIG_T::table_size - 1;
    return i;
}

enum activation_kind { LINEAR, RELU, LEAKY_RELU, CLIP, HARD_SIGMOID, TABLE, ELU };

template <class data_T, class res_T, typename CONFIG_T>
void activation(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
                const typename CONFIG_T::param_t params[2], const res_T table[CONFIG_T::table_size]) {
    for (int i = 0; i < CONFIG_T::n_in; i++) {
        const data_T x = data[i];
        switch (CONFIG_T::kind) {
            case LINEAR:
                res[i] = x;
                break;
            case RELU:
                if (x > 0) res[i] = x; else res[i] = 0;
                break;
            case LEAKY_RELU:
                if (x > 0) res[i] = x; else res[i] = x * params[0];
                break;
            case CLIP: {
                res_T y = x;
                if (CONFIG_T::has_low && y < table[0]) y = table[0];
                if (CONFIG_T::has_high && y > table[1]) y = table[1];
                res[i] = y;
                break;
            }
            case HARD_SIGMOID: {
                typename CONFIG_T::wide_t v = x * params[0] + params[1];
                if (v < 0) v = 0;
                if (v > 1) v = 1;
                res[i] = v;
                break;
            }
            case ELU:
                if (x > 0) { res[i] = x; break; }
                res[i] = table[table_index<CONFIG_T>(x)];
                break;
            default:  // TABLE: sigmoid, tanh
                res[i] = table[table_index<CONFIG_T>(x)];
        }
    }
}

// Softmax / LogSoftmax along one axis (rows of n values, `inner` apart).
template <class data_T, class res_T, typename CONFIG_T>
void softmax(const data_T data[CONFIG_T::outer * CONFIG_T::n * CONFIG_T::inner],
             res_T res[CONFIG_T::outer * CONFIG_T::n * CONFIG_T::inner],
             const typename CONFIG_T::exp_t exp_table[CONFIG_T::exp_config::table_size],
             const typename CONFIG_T::inv_t inv_table[CONFIG_T::inv_config::table_size]) {
    typedef typename CONFIG_T::exp_t exp_t;
    typedef typename CONFIG_T::sum_t sum_t;
    for (int o = 0; o < CONFIG_T::outer; o++) {
        for (int in = 0; in < CONFIG_T::inner; in++) {
            const int base = o * CONFIG_T::n * CONFIG_T::inner + in;
            data_T top = data[base];
            for (int k = 1; k < CONFIG_T::n; k++)
                if (data[base + k * CONFIG_T::inner] > top) top = data[base + k * CONFIG_T::inner];
            exp_t e[CONFIG_T::n];
            sum_t total = 0;
            for (int k = 0; k < CONFIG_T::n; k++) {
                typename CONFIG_T::diff_t minus_d = top - data[base + k * CONFIG_T::inner];
                e[k] = exp_table[table_index<typename CONFIG_T::exp_config>(minus_d)];
                total = total + e[k];
            }
            const typename CONFIG_T::inv_t inv =
                inv_table[table_index<typename CONFIG_T::inv_config>(total)];
            for (int k = 0; k < CONFIG_T::n; k++) {
                const int at = base + k * CONFIG_T::inner;
                if (CONFIG_T::log)
                    res[at] = (data[at] - top) - inv;
                else
                    res[at] = e[k] * inv;
            }
        }
    }
}

// Index of the first maximum along one axis (mapped to class labels when given).
template <class data_T, typename CONFIG_T>
void argmax(const data_T data[CONFIG_T::outer * CONFIG_T::n * CONFIG_T::inner],
            int res[CONFIG_T::outer * CONFIG_T::inner], const int classes[CONFIG_T::n]) {
    for (int o = 0; o < CONFIG_T::outer; o++) {
        for (int in = 0; in < CONFIG_T::inner; in++) {
            const int base = o * CONFIG_T::n * CONFIG_T::inner + in;
            int best = 0;
            for (int k = 1; k < CONFIG_T::n; k++)
                if (data[base + k * CONFIG_T::inner] > data[base + best * CONFIG_T::inner]) best = k;
            res[o * CONFIG_T::inner + in] = CONFIG_T::has_classes ? classes[best] : best;
        }
    }
}

}  // namespace nnfx

#endif  // NNFX_KERNELS_H_
