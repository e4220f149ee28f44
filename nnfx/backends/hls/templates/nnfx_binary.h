// nnfx HLS kernels of binary layers (docs/semantics.md, "QONNX BipolarQuant"): a Dense or Conv
// whose input codes are +-a (a bipolar activation's) and whose weight codes of output j are
// +-c_j, computed as XNOR and popcount. Bit i of a bit vector (bits_t: ap_uint<n> for Vitis,
// ac_int<n, false> for the fast C-simulation) is set where value i is negative; a product is
// +a c_j where the signs agree and -a c_j where they differ, so the exact sum over n inputs is
// a c_j (n - 2 popcount(x_bits ^ w_bits)): the units[j] = a c_j (in value terms, exact in
// unit_t) times that integer. The bias and the output's quantization and fused activation are
// the multiply-add kernels' (nnfx_kernels.h): acc = Q_A(bias) + Q_A(sum), every step exact in
// the compiler's exact accumulator, then Q(acc).
#ifndef NNFX_BINARY_H_
#define NNFX_BINARY_H_

namespace nnfx {

// The number of set bits among the N bits of v: one adder tree once unrolled (no builtin). Not
// inlined: a layer's ALLOCATION pragma bounds its instances by the reuse factor.
template <int N, class bits_T>
int popcount(const bits_T& v) {
    int ones = 0;
    for (int i = 0; i < N; i++) {
#pragma HLS UNROLL
        if (v[i]) ones++;
    }
    return ones;
}

// Output j's weight sign bits: n_words words of 16 bits (least significant word first) from
// `first` in the layer's sign ROM, joined into one bits_t.
template <typename CONFIG_T>
typename CONFIG_T::bits_t weight_bits(const int signs[], int first) {
    typedef typename CONFIG_T::bits_t bits_t;
    bits_t bits = 0;
    for (int k = CONFIG_T::n_words - 1; k >= 0; k--) {
#pragma HLS UNROLL
        const bits_t word = signs[first + k];
        bits = (bits << 16) | word;
    }
    return bits;
}

// acc = Q_A(bias) + Q_A(units[j] * count), then the fused activation and Q (as nnfx::dense).
template <typename CONFIG_T, class res_T>
void binary_output(int j, int count, res_T& res,
                   const typename CONFIG_T::unit_t units[],
                   const typename CONFIG_T::bias_t biases[]) {
#pragma HLS INLINE
    typedef typename CONFIG_T::accum_t accum_t;
    const accum_t accum_zero = 0.0;
    const res_T zero = 0.0;
    accum_t acc = accum_zero;
    if (CONFIG_T::has_bias) nnfx::quantize(acc, biases[j], accum_zero);
    accum_t sum;
    nnfx::quantize(sum, units[j] * count, accum_zero);
    acc = acc + sum;
    nnfx::fused_activation<CONFIG_T>(acc, res, zero);
}

// Binary Dense: res[j] = Q(bias[j] + units[j] * (n_in - 2 popcount(x_bits ^ w_bits[j]))).
// The popcounts of reuse_factor outputs share one XNOR-popcount tree.
template <class data_T, class res_T, typename CONFIG_T>
void dense_binary(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
                  const int signs[CONFIG_T::n_out * CONFIG_T::n_words],
                  const typename CONFIG_T::unit_t units[CONFIG_T::n_out],
                  const typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    typedef typename CONFIG_T::bits_t bits_t;
    static const int tree_limit =
        (CONFIG_T::n_out + CONFIG_T::reuse_factor - 1) / CONFIG_T::reuse_factor;
#pragma HLS ALLOCATION function instances=popcount limit=tree_limit
    (void)tree_limit;  // read by the pragma only (Vitis); g++ ignores HLS pragmas
    bits_t x_bits = 0;
    for (int i = 0; i < CONFIG_T::n_in; i++) x_bits[i] = data[i] < 0;
    for (int j = 0; j < CONFIG_T::n_out; j++) {
        const bits_t differ = x_bits ^ nnfx::weight_bits<CONFIG_T>(signs, j * CONFIG_T::n_words);
        const int count = CONFIG_T::n_in - 2 * nnfx::popcount<CONFIG_T::n_in>(differ);
        nnfx::binary_output<CONFIG_T>(j, count, res[j], units, biases);
    }
}

// Binary Conv (1-D as height 1), the windows of nnfx::conv2d: bit b = (i * filt_width + k) *
// group_chan + gc of a window is its tap (i, k) of the group's channel gc, as in the weights.
// Zero padding adds nothing: `inside` masks the taps in the input, n_inside of them, and
// res = Q(bias + units[f] * (n_inside - 2 popcount((x_bits ^ w_bits[f]) & inside))).
template <class data_T, class res_T, typename CONFIG_T>
void conv2d_binary(const data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                   res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt],
                   const int signs[CONFIG_T::n_filt * CONFIG_T::n_words],
                   const typename CONFIG_T::unit_t units[CONFIG_T::n_filt],
                   const typename CONFIG_T::bias_t biases[CONFIG_T::n_filt]) {
    typedef typename CONFIG_T::bits_t bits_t;
    static const int group_chan = CONFIG_T::n_chan / CONFIG_T::n_group;
    static const int group_filt = CONFIG_T::n_filt / CONFIG_T::n_group;
    static const int n_window = CONFIG_T::filt_height * CONFIG_T::filt_width * group_chan;
    static const int tree_limit =
        (CONFIG_T::n_filt + CONFIG_T::reuse_factor - 1) / CONFIG_T::reuse_factor;
#pragma HLS ALLOCATION function instances=popcount limit=tree_limit
    (void)tree_limit;  // read by the pragma only (Vitis); g++ ignores HLS pragmas
    for (int oh = 0; oh < CONFIG_T::out_height; oh++) {
        for (int ow = 0; ow < CONFIG_T::out_width; ow++) {
            for (int g = 0; g < CONFIG_T::n_group; g++) {
                bits_t x_bits = 0;
                bits_t inside = 0;
                for (int i = 0; i < CONFIG_T::filt_height; i++) {
                    for (int k = 0; k < CONFIG_T::filt_width; k++) {
                        const int ih = nnfx::tap_row<CONFIG_T>(oh, i);
                        const int iw = nnfx::tap_column<CONFIG_T>(ow, k);
                        if (!nnfx::in_image<CONFIG_T>(ih, iw))
                            continue;  // zero padding: the tap stays outside
                        for (int gc = 0; gc < group_chan; gc++) {
                            const int b = (i * CONFIG_T::filt_width + k) * group_chan + gc;
                            const int c = g * group_chan + gc;
                            inside[b] = 1;
                            x_bits[b] =
                                data[(ih * CONFIG_T::in_width + iw) * CONFIG_T::n_chan + c] < 0;
                        }
                    }
                }
                const int n_inside = nnfx::popcount<n_window>(inside);
                for (int gf = 0; gf < group_filt; gf++) {
                    const int f = g * group_filt + gf;
                    const bits_t differ =
                        (x_bits ^ nnfx::weight_bits<CONFIG_T>(signs, f * CONFIG_T::n_words)) &
                        inside;
                    const int count = n_inside - 2 * nnfx::popcount<n_window>(differ);
                    nnfx::binary_output<CONFIG_T>(
                        f, count, res[(oh * CONFIG_T::out_width + ow) * CONFIG_T::n_filt + f],
                        units, biases);
                }
            }
        }
    }
}

}  // namespace nnfx

#endif  // NNFX_BINARY_H_
