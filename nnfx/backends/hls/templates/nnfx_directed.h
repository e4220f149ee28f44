// nnfx's rounding modes that ap_fixed and ac_fixed lack, as a type (docs/semantics.md). Kept
// apart from nnfx_kernels.h: the tests' ap_fixed oracle compiles it alone.
#ifndef NNFX_DIRECTED_H_
#define NNFX_DIRECTED_H_

namespace nnfx {

// nnfx's own rounding modes CEIL (toward plus infinity) and UP (away from zero), which ap_fixed
// and ac_fixed lack (docs/semantics.md). A type with one of them is `directed<base_T, floor_T,
// any_sign>`: base_T is the type with TRN rounding and the type's own overflow, and every
// conversion into it (from a fixed-point value, a double or an int) rounds up by
// ceil(v) = -floor(-v): floor_T, two integer bits wider than base_T on the same LSB, takes
// floor(-v) with TRN; negating it is exact, and base_T then applies the overflow to that exact
// rounded integer. floor_T wraps when base_T wraps (congruent modulo 2^(W+2), so base_T's low W
// bits are right) and saturates otherwise (a clamped value lies beyond base_T's range on the
// same side, where SAT, SAT_SYM and SAT_ZERO give what the exact one gives). CEIL rounds up
// every value (any_sign); UP only v > 0, and floors the others (away from zero both ways).
template <class base_T, class floor_T, bool any_sign>
class directed : public base_T {
  public:
    directed() : base_T() {}
    directed(const directed& v) : base_T(v) {}
    template <class value_T>
    directed(const value_T& v) : base_T() {
        assign(v);
    }
    directed& operator=(const directed& v) {
        static_cast<base_T&>(*this) = static_cast<const base_T&>(v);
        return *this;
    }
    template <class value_T>
    directed& operator=(const value_T& v) {
        assign(v);
        return *this;
    }

  private:
    template <class value_T>
    void assign(const value_T& v) {
        base_T& self = *this;
        if (any_sign || v > 0) {
            const floor_T below = -v;  // floor(-v), exact or overflowed like base_T
            self = -below;
        } else {
            self = v;
        }
    }
};

}  // namespace nnfx

#endif  // NNFX_DIRECTED_H_
