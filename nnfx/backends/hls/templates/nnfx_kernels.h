// nnfx HLS kernels: one template per IR op, configured by a per-layer struct.
//
// Every kernel is written once and instantiated with ap_fixed (Vitis HLS, csim-ap) or
// ac_fixed (the fast C-simulation). Kernels use only arithmetic, comparison, assignment and
// to_int(), which both number types share; the assignment to the result type (through
// nnfx::quantize) is the one quantization of docs/semantics.md. Arrays are flat, per sample,
// channels-last.
#ifndef NNFX_KERNELS_H_
#define NNFX_KERNELS_H_

#include "nnfx_directed.h"

namespace nnfx {

// res = Q(v), v exact: the one quantization, and the only number-type-specific glue here.
// ap_fixed's conversion reads the bit below the result's LSB even where it lies above v's MSB
// (I_v + F_res <= -1), which fails an assertion in ap_private and aborts the C-simulation
// under a rounding mode other than TRN: ufixed<36,-1> into fixed<8,8,RND>, say. There, v is
// first added to a zero of the result type: an exact sum, the same value, whose type reaches
// the result's LSB (the condition is a compile-time constant; other conversions stay direct).
// `zero` is built once per call from 0.0, since an int constant takes the same faulty path
// into a type whose LSB is 2^33 or coarser. ac_fixed converts every value directly.
#ifdef NNFX_AC_TYPES
template <class res_T, class value_T>
inline void quantize(res_T& res, const value_T& v, const res_T&) {
    res = v;
}
#else
template <class res_T, class value_T>
inline void quantize(res_T& res, const value_T& v, const res_T& zero) {
    if (value_T::iwidth + (res_T::width - res_T::iwidth) <= 0)
        res = zero + v;
    else
        res = v;
}
#endif

// The same type: nothing to quantize.
template <class T>
inline void quantize(T& res, const T& v, const T&) {
    res = v;
}

// A Dense or Conv's fused activation on the exact accumulator, then the one quantization:
// relu: Q(max(acc, 0)); leaky_relu: Q(acc) for acc > 0, else Q(acc * alpha) (docs/semantics.md).
template <typename CONFIG_T, class accum_T, class res_T>
void fused_activation(const accum_T& acc, res_T& res, const res_T& zero) {
    if (CONFIG_T::relu && acc < 0)
        res = zero;
    else if (CONFIG_T::leaky && acc < 0)
        nnfx::quantize(res, acc * CONFIG_T::alpha(), zero);
    else
        nnfx::quantize(res, acc, zero);
}

// Dense: res[j] = Q(bias[j] + sum_i data[i] * weights[i][j]) accumulated in accum_t.
template <class data_T, class res_T, typename CONFIG_T>
void dense(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
           const typename CONFIG_T::weight_t weights[CONFIG_T::n_in * CONFIG_T::n_out],
           const typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    typedef typename CONFIG_T::accum_t accum_t;
    // Each multiplier serves reuse_factor products: ceil(n_in * n_out / reuse_factor) of them.
    static const int multiplier_limit =
        (CONFIG_T::n_in * CONFIG_T::n_out + CONFIG_T::reuse_factor - 1) / CONFIG_T::reuse_factor;
#pragma HLS ALLOCATION operation instances=mul limit=multiplier_limit
    (void)multiplier_limit;  // read by the pragma only (Vitis); g++ ignores HLS pragmas
    const accum_t accum_zero = 0.0;
    const res_T zero = 0.0;
    for (int j = 0; j < CONFIG_T::n_out; j++) {
        accum_t acc = accum_zero;
        if (CONFIG_T::has_bias) nnfx::quantize(acc, biases[j], accum_zero);
        for (int i = 0; i < CONFIG_T::n_in; i++) {
            accum_t product;
            nnfx::quantize(product, data[i] * weights[i * CONFIG_T::n_out + j], accum_zero);
            acc = acc + product;
        }
        nnfx::fused_activation<CONFIG_T>(acc, res[j], zero);
    }
}

// Conv (1-D as height 1): windows over the padded input, channel-major then taps row by row.
// The input row (column) that tap i (k) of output row oh (column ow) reads in a convolution:
// outside 0 .. in_height - 1 (in_width - 1) it lies in the zero padding.
template <typename CONFIG_T>
inline int tap_row(int oh, int i) {
    return oh * CONFIG_T::stride_height + i * CONFIG_T::dilation_height - CONFIG_T::pad_top;
}

template <typename CONFIG_T>
inline int tap_column(int ow, int k) {
    return ow * CONFIG_T::stride_width + k * CONFIG_T::dilation_width - CONFIG_T::pad_left;
}

template <typename CONFIG_T>
inline bool in_image(int ih, int iw) {
    return ih >= 0 && ih < CONFIG_T::in_height && iw >= 0 && iw < CONFIG_T::in_width;
}

template <class data_T, class res_T, typename CONFIG_T>
void conv2d(const data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
            res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt],
            const typename CONFIG_T::weight_t
                weights[CONFIG_T::filt_height * CONFIG_T::filt_width *
                        (CONFIG_T::n_chan / CONFIG_T::n_group) * CONFIG_T::n_filt],
            const typename CONFIG_T::bias_t biases[CONFIG_T::n_filt]) {
    typedef typename CONFIG_T::accum_t accum_t;
    // Grouped (depthwise when n_group == n_chan): filter f reads only the group_chan input
    // channels of its group f / group_filt, so no multiplier is spent on the other groups.
    static const int group_chan = CONFIG_T::n_chan / CONFIG_T::n_group;
    static const int group_filt = CONFIG_T::n_filt / CONFIG_T::n_group;
    // One window at a time; each multiplier serves reuse_factor of its products.
    static const int multiplier_limit =
        (CONFIG_T::filt_height * CONFIG_T::filt_width * group_chan * CONFIG_T::n_filt +
         CONFIG_T::reuse_factor - 1) /
        CONFIG_T::reuse_factor;
#pragma HLS ALLOCATION operation instances=mul limit=multiplier_limit
    (void)multiplier_limit;  // read by the pragma only (Vitis); g++ ignores HLS pragmas
    const accum_t accum_zero = 0.0;
    const res_T zero = 0.0;
    for (int oh = 0; oh < CONFIG_T::out_height; oh++) {
        for (int ow = 0; ow < CONFIG_T::out_width; ow++) {
            for (int f = 0; f < CONFIG_T::n_filt; f++) {
                accum_t acc = accum_zero;
                if (CONFIG_T::has_bias) nnfx::quantize(acc, biases[f], accum_zero);
                const int first_chan = (f / group_filt) * group_chan;
                for (int gc = 0; gc < group_chan; gc++) {
                    const int c = first_chan + gc;
                    for (int i = 0; i < CONFIG_T::filt_height; i++) {
                        for (int k = 0; k < CONFIG_T::filt_width; k++) {
                            const int ih = nnfx::tap_row<CONFIG_T>(oh, i);
                            const int iw = nnfx::tap_column<CONFIG_T>(ow, k);
                            if (!nnfx::in_image<CONFIG_T>(ih, iw))
                                continue;  // zero padding adds nothing
                            accum_t product;
                            nnfx::quantize(
                                product,
                                data[(ih * CONFIG_T::in_width + iw) * CONFIG_T::n_chan + c] *
                                    weights[((i * CONFIG_T::filt_width + k) * group_chan + gc) *
                                                CONFIG_T::n_filt +
                                            f],
                                accum_zero);
                            acc = acc + product;
                        }
                    }
                }
                nnfx::fused_activation<CONFIG_T>(
                    acc, res[(oh * CONFIG_T::out_width + ow) * CONFIG_T::n_filt + f], zero);
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
    const data_T data_zero = 0.0;
    const res_T zero = 0.0;
    for (int oh = 0; oh < CONFIG_T::out_height; oh++) {
        for (int ow = 0; ow < CONFIG_T::out_width; ow++) {
            for (int c = 0; c < CONFIG_T::n_chan; c++) {
                data_T best = data_zero;
                bool first = true;
                sum_t total = 0;  // sum_t truncates and wraps: 0 is converted exactly
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
                    nnfx::quantize(res[out], best, zero);
                } else {
                    const int r = CONFIG_T::n_reciprocal == 1 ? 0 : oh * CONFIG_T::out_width + ow;
                    nnfx::quantize(res[out], total * reciprocal[r], zero);
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
    const res_T zero = 0.0;
    for (int c = 0; c < CONFIG_T::n_chan; c++) {
        data_T best = data[c];
        sum_t total = 0;  // sum_t truncates and wraps: 0 is converted exactly
        for (int p = 0; p < CONFIG_T::n_positions; p++) {
            const data_T v = data[p * CONFIG_T::n_chan + c];
            if (v > best) best = v;
            total = total + v;
        }
        if (CONFIG_T::is_max)
            nnfx::quantize(res[c], best, zero);
        else
            nnfx::quantize(res[c], total * reciprocal[0], zero);
    }
}

// BatchNorm: res = Q(data * scale + bias), constants per channel (last axis) or per element.
template <class data_T, class res_T, typename CONFIG_T>
void batchnorm(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
               const typename CONFIG_T::scale_t scale[CONFIG_T::n_scale],
               const typename CONFIG_T::bias_t bias[CONFIG_T::n_scale]) {
    const res_T zero = 0.0;
    for (int i = 0; i < CONFIG_T::n_in; i++) {
        const int k = CONFIG_T::n_scale == CONFIG_T::n_in ? i : i % CONFIG_T::n_scale;
        nnfx::quantize(res[i], data[i] * scale[k] + bias[k], zero);
    }
}

template <class a_T, class b_T, class res_T, typename CONFIG_T>
void add(const a_T a[CONFIG_T::n_in], const b_T b[CONFIG_T::n_in], res_T res[CONFIG_T::n_in]) {
    const res_T zero = 0.0;
    for (int i = 0; i < CONFIG_T::n_in; i++) nnfx::quantize(res[i], a[i] + b[i], zero);
}

template <class a_T, class b_T, class res_T, typename CONFIG_T>
void subtract(const a_T a[CONFIG_T::n_in], const b_T b[CONFIG_T::n_in],
              res_T res[CONFIG_T::n_in]) {
    const res_T zero = 0.0;
    for (int i = 0; i < CONFIG_T::n_in; i++) nnfx::quantize(res[i], a[i] - b[i], zero);
}

template <class a_T, class b_T, class res_T, typename CONFIG_T>
void multiply(const a_T a[CONFIG_T::n_in], const b_T b[CONFIG_T::n_in],
              res_T res[CONFIG_T::n_in]) {
    const res_T zero = 0.0;
    for (int i = 0; i < CONFIG_T::n_in; i++) nnfx::quantize(res[i], a[i] * b[i], zero);
}

// One input's share of a concatenation: rows of `inner` values placed at `offset` in rows of
// `inner_out`.
template <class data_T, class res_T, typename CONFIG_T>
void concat_part(const data_T data[CONFIG_T::outer * CONFIG_T::inner],
                 res_T res[CONFIG_T::outer * CONFIG_T::inner_out]) {
    const res_T zero = 0.0;
    for (int o = 0; o < CONFIG_T::outer; o++)
        for (int i = 0; i < CONFIG_T::inner; i++)
            nnfx::quantize(res[o * CONFIG_T::inner_out + CONFIG_T::offset + i],
                           data[o * CONFIG_T::inner + i], zero);
}

// A layout change: res[k] = data[index[k]].
template <class data_T, class res_T, typename CONFIG_T>
void permute(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
             const int index[CONFIG_T::n_in]) {
    const res_T zero = 0.0;
    for (int k = 0; k < CONFIG_T::n_in; k++) nnfx::quantize(res[k], data[index[k]], zero);
}

template <class data_T, class res_T, typename CONFIG_T>
void copy(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in]) {
    const res_T zero = 0.0;
    for (int k = 0; k < CONFIG_T::n_in; k++) nnfx::quantize(res[k], data[k], zero);
}

// Slice along one axis: of each block of n_in rows of `inner` values (`outer` blocks), the
// n_out rows from `start`, the codes copied (the type is the input's).
template <class data_T, class res_T, typename CONFIG_T>
void slice(const data_T data[CONFIG_T::outer * CONFIG_T::n_in * CONFIG_T::inner],
           res_T res[CONFIG_T::outer * CONFIG_T::n_out * CONFIG_T::inner]) {
    const res_T zero = 0.0;
    for (int o = 0; o < CONFIG_T::outer; o++)
        for (int k = 0; k < CONFIG_T::n_out; k++)
            for (int i = 0; i < CONFIG_T::inner; i++)
                nnfx::quantize(res[(o * CONFIG_T::n_out + k) * CONFIG_T::inner + i],
                               data[(o * CONFIG_T::n_in + CONFIG_T::start + k) * CONFIG_T::inner + i],
                               zero);
}

// Nearest upsampling by whole numbers (1-D as height 1): res[oh][ow][c] =
// data[oh / scale_height][ow / scale_width][c], the codes copied.
template <class data_T, class res_T, typename CONFIG_T>
void upsample2d(const data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_chan]) {
    const res_T zero = 0.0;
    for (int oh = 0; oh < CONFIG_T::out_height; oh++) {
        const int ih = oh / CONFIG_T::scale_height;
        for (int ow = 0; ow < CONFIG_T::out_width; ow++) {
            const int iw = ow / CONFIG_T::scale_width;
            for (int c = 0; c < CONFIG_T::n_chan; c++)
                nnfx::quantize(res[(oh * CONFIG_T::out_width + ow) * CONFIG_T::n_chan + c],
                               data[(ih * CONFIG_T::in_width + iw) * CONFIG_T::n_chan + c], zero);
        }
    }
}

// Zero padding (1-D as height 1): the input placed at (pad_top, pad_left), the code 0 around.
template <class data_T, class res_T, typename CONFIG_T>
void pad2d(const data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
           res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_chan]) {
    const res_T zero = 0.0;
    for (int oh = 0; oh < CONFIG_T::out_height; oh++) {
        const int ih = oh - CONFIG_T::pad_top;
        for (int ow = 0; ow < CONFIG_T::out_width; ow++) {
            const int iw = ow - CONFIG_T::pad_left;
            const bool inside =
                ih >= 0 && ih < CONFIG_T::in_height && iw >= 0 && iw < CONFIG_T::in_width;
            for (int c = 0; c < CONFIG_T::n_chan; c++) {
                const int at = (oh * CONFIG_T::out_width + ow) * CONFIG_T::n_chan + c;
                if (inside)
                    nnfx::quantize(res[at], data[(ih * CONFIG_T::in_width + iw) * CONFIG_T::n_chan + c],
                                   zero);
                else
                    res[at] = zero;
            }
        }
    }
}

// clip(floor(x * 2^shift) - start, 0, size - 1): the table index of docs/semantics.md, for
// every input width. `scaled` = x * 2^shift is exact (a product of fixed-point types, any
// width) and is compared with the table's ends (long long constants) before anything is
// converted: floor(scaled) < start exactly when scaled < start, and floor(scaled) >= start +
// size exactly when scaled >= start + size. In between, scaled - start lies in [0, size) and
// the floor-rounding index type takes it exactly.
template <typename CONFIG_T, class scaled_T>
int table_index_of_scaled(const scaled_T& scaled) {
    if (scaled < CONFIG_T::table_start) return 0;
    if (scaled >= CONFIG_T::table_start + CONFIG_T::table_size) return CONFIG_T::table_size - 1;
    const typename CONFIG_T::index_t k = scaled - CONFIG_T::table_start;
    return k.to_int();
}

template <typename CONFIG_T, class value_T>
int table_index(const value_T& x) {
    return nnfx::table_index_of_scaled<CONFIG_T>(x * CONFIG_T::scale());
}

enum activation_kind { LINEAR, RELU, LEAKY_RELU, CLIP, HARD_SIGMOID, TABLE, LINEAR_ABOVE, BIPOLAR };

template <class data_T, class res_T, typename CONFIG_T>
void activation(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
                const typename CONFIG_T::param_t params[CONFIG_T::n_param],
                const res_T table[CONFIG_T::table_size]) {
    const res_T zero = 0.0;
    const res_T one = 1.0;
    for (int i = 0; i < CONFIG_T::n_in; i++) {
        const data_T x = data[i];
        switch (CONFIG_T::kind) {
            case LINEAR:
                nnfx::quantize(res[i], x, zero);
                break;
            case RELU:
                if (x > 0) nnfx::quantize(res[i], x, zero); else res[i] = zero;
                break;
            case LEAKY_RELU:  // one slope (n_alpha 1), or one per channel (the last axis)
                if (x > 0)
                    nnfx::quantize(res[i], x, zero);
                else
                    nnfx::quantize(res[i], x * params[i % CONFIG_T::n_alpha], zero);
                break;
            case CLIP: {
                res_T y;
                nnfx::quantize(y, x, zero);
                if (CONFIG_T::has_low && y < table[0]) y = table[0];
                if (CONFIG_T::has_high && y > table[1]) y = table[1];
                res[i] = y;
                break;
            }
            case BIPOLAR:  // QONNX's BipolarQuant: table[1] = Q(alpha) where x >= 0, else Q(-alpha)
                res[i] = x >= 0 ? table[1] : table[0];
                break;
            case HARD_SIGMOID: {  // wide_t holds x * alpha + beta exactly (and 1)
                const typename CONFIG_T::wide_t v = x * params[0] + params[1];
                if (v < 0)
                    res[i] = zero;
                else if (v > 1)
                    res[i] = one;
                else
                    nnfx::quantize(res[i], v, zero);
                break;
            }
            case LINEAR_ABOVE:  // elu, selu, softplus, ...: Q(x * slope) at or above the table
                if (x * CONFIG_T::scale() >= CONFIG_T::table_start + CONFIG_T::table_size) {
                    nnfx::quantize(res[i], x * params[0], zero);
                    break;
                }
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
    const res_T zero = 0.0;
    for (int o = 0; o < CONFIG_T::outer; o++) {
        for (int in = 0; in < CONFIG_T::inner; in++) {
            const int base = o * CONFIG_T::n * CONFIG_T::inner + in;
            data_T top = data[base];
            for (int k = 1; k < CONFIG_T::n; k++)
                if (data[base + k * CONFIG_T::inner] > top) top = data[base + k * CONFIG_T::inner];
            exp_t e[CONFIG_T::n];
            sum_t total = 0;  // sum_t truncates and wraps: 0 is converted exactly
            for (int k = 0; k < CONFIG_T::n; k++) {
                // diff_t holds max - x exactly (one bit wider than x)
                const typename CONFIG_T::diff_t minus_d = top - data[base + k * CONFIG_T::inner];
                e[k] = exp_table[table_index<typename CONFIG_T::exp_config>(minus_d)];
                total = total + e[k];
            }
            const typename CONFIG_T::inv_t inv =
                inv_table[table_index<typename CONFIG_T::inv_config>(total)];
            for (int k = 0; k < CONFIG_T::n; k++) {
                const int at = base + k * CONFIG_T::inner;
                if (CONFIG_T::log)
                    nnfx::quantize(res[at], (data[at] - top) - inv, zero);
                else
                    nnfx::quantize(res[at], e[k] * inv, zero);
            }
        }
    }
}

// LayerNorm over rows of n values (docs/semantics.md): S = sum x and d = n x - S exact (dev_t),
// U = sum d^2 + E exact (var_t); every threshold 2^(M + 2j) that U reaches halves p (= 2^-(s/2),
// exact in half_t); u = floor(U * p^2) on codes; z = Q_z(d * T[u] * p) on codes (code_scale()
// = 2^F turns d into its code); res = Q(z * scale + bias).
template <class data_T, class res_T, typename CONFIG_T>
void layernorm(const data_T data[CONFIG_T::n_rows * CONFIG_T::n],
               res_T res[CONFIG_T::n_rows * CONFIG_T::n],
               const typename CONFIG_T::table_t table[CONFIG_T::table_size],
               const typename CONFIG_T::var_t thresholds[CONFIG_T::n_thresholds],
               const typename CONFIG_T::scale_t scale[CONFIG_T::n],
               const typename CONFIG_T::bias_t bias[CONFIG_T::n]) {
    typedef typename CONFIG_T::dev_t dev_t;
    typedef typename CONFIG_T::var_t var_t;
    typedef typename CONFIG_T::half_t half_t;
    typedef typename CONFIG_T::norm_t norm_t;
    const res_T zero = 0.0;
    const norm_t norm_zero = 0.0;
    const half_t one = 1.0;
    const half_t half = 0.5;
    for (int r = 0; r < CONFIG_T::n_rows; r++) {
        const int base = r * CONFIG_T::n;
        typename CONFIG_T::sum_t total = 0;  // sum_t truncates and wraps: 0 is converted exactly
        for (int k = 0; k < CONFIG_T::n; k++) total = total + data[base + k];
        dev_t d[CONFIG_T::n];
        var_t squares = CONFIG_T::epsilon();
        for (int k = 0; k < CONFIG_T::n; k++) {
            d[k] = data[base + k] * CONFIG_T::n - total;
            squares = squares + d[k] * d[k];
        }
        half_t p = one;
        for (int j = 0; j < CONFIG_T::n_steps; j++)
            if (squares >= thresholds[j]) p = p * half;
        const typename CONFIG_T::table_t t = table[table_index<CONFIG_T>(squares * p * p)];
        for (int k = 0; k < CONFIG_T::n; k++) {
            norm_t z;
            nnfx::quantize(z, d[k] * CONFIG_T::code_scale() * t * p, norm_zero);
            nnfx::quantize(res[base + k], z * scale[k] + bias[k], zero);
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

// MultiThreshold: the count of a channel's thresholds x reaches (x >= t, exact: the thresholds
// are codes on x's grid, one integer bit wider), then the result for that count. The channel
// is the last axis (n_channels of them), or one row serves every channel (n_channels 1).
template <class data_T, class res_T, typename CONFIG_T>
void multi_threshold(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
                     const typename CONFIG_T::threshold_t thresholds[CONFIG_T::n_thresholds],
                     const res_T levels[CONFIG_T::n_steps + 1]) {
    for (int i = 0; i < CONFIG_T::n_in; i++) {
        const int row = (i % CONFIG_T::n_channels) * CONFIG_T::n_steps;
        int count = 0;
        for (int j = 0; j < CONFIG_T::n_steps; j++)
            if (data[i] >= thresholds[row + j]) count++;
        res[i] = levels[count];
    }
}

}  // namespace nnfx

#endif  // NNFX_KERNELS_H_
