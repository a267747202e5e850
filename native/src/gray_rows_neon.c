/*
 * arm64 NEON (Advanced SIMD) row kernels. AdvSIMD is part of the AArch64 base ISA, so this file
 * needs no target attribute; grayscale.c still asks the kernel (HWCAP_ASIMD) before using it.
 *
 * vld3q_u8 / vld4q_u8 split 16 pixels into one register per channel. The 15-bit coefficients
 * do not fit umull's 8-bit operands, so each is split as c = 128 * hi + lo with hi < 256 and
 * lo < 128 (9798 = 128*76 + 70, 19235 = 128*150 + 35, 3735 = 128*29 + 23), and two 16-bit sums
 * are formed with umull/umlal, 8 pixels per register:
 *
 *     H = hi0*p0 + hi1*p1 + hi2*p2              (<= 255 * 255 = 65025)
 *     L = 16384 + lo0*p0 + lo1*p1 + lo2*p2       (<= 16384 + 128 * 255 = 49024)
 *
 * so that 128*H + L = c0*p0 + c1*p1 + c2*p2 + 16384 exactly, and
 *
 *     (128*H + L) >> 15  =  (H + (L >> 7)) >> 8          (floor division composes)
 *
 * which is one usra (H + (L >> 7) <= 65025 + 383, no overflow) and one shrn. The result is the
 * same integer as gray_pixel's for every input; the static asserts below keep the bounds honest
 * if the coefficients ever change, and native/tests/bitexact.c checks all 2^24 colours.
 */
#include "gray_rows.h"

#if GRAY_HAVE_NEON
#include <arm_neon.h>

#define HI(c) ((c) >> 7)
#define LO(c) ((c) & 127u)
/* The sums are permutation-invariant, so the bounds hold for RGB and BGR alike. */
_Static_assert((HI(GRAY_COEFF_R) + HI(GRAY_COEFF_G) + HI(GRAY_COEFF_B)) * 255u +
                       ((GRAY_ROUNDING + (LO(GRAY_COEFF_R) + LO(GRAY_COEFF_G) + LO(GRAY_COEFF_B)) *
                                             255u) >>
                        7) <=
                   65535u,
               "H + (L >> 7) must fit 16 bits");
_Static_assert(GRAY_ROUNDING + (LO(GRAY_COEFF_R) + LO(GRAY_COEFF_G) + LO(GRAY_COEFF_B)) * 255u <=
                   65535u,
               "L must fit 16 bits");
_Static_assert(GRAY_SHIFT == 15u, "the split below is 128 * 256 = 1 << 15");

typedef struct neon_consts {
    uint8x16_t hi0, hi1, hi2, lo0, lo1, lo2;
    uint16x8_t rounding;
} neon_consts;

static inline neon_consts consts_for(const gray_coeffs *k)
{
    return (neon_consts){
        vdupq_n_u8((uint8_t)HI(k->c0)), vdupq_n_u8((uint8_t)HI(k->c1)),
        vdupq_n_u8((uint8_t)HI(k->c2)), vdupq_n_u8((uint8_t)LO(k->c0)),
        vdupq_n_u8((uint8_t)LO(k->c1)), vdupq_n_u8((uint8_t)LO(k->c2)),
        vdupq_n_u16((uint16_t)GRAY_ROUNDING)};
}

/* (H + (L >> 7)) for the low 8 pixels and the high 8 pixels, then >> 8 into 16 bytes. */
static inline uint8x16_t gray16(uint8x16_t p0, uint8x16_t p1, uint8x16_t p2, const neon_consts *c)
{
    uint16x8_t h_lo = vmull_u8(vget_low_u8(p0), vget_low_u8(c->hi0));
    h_lo = vmlal_u8(h_lo, vget_low_u8(p1), vget_low_u8(c->hi1));
    h_lo = vmlal_u8(h_lo, vget_low_u8(p2), vget_low_u8(c->hi2));
    uint16x8_t l_lo = vmlal_u8(c->rounding, vget_low_u8(p0), vget_low_u8(c->lo0));
    l_lo = vmlal_u8(l_lo, vget_low_u8(p1), vget_low_u8(c->lo1));
    l_lo = vmlal_u8(l_lo, vget_low_u8(p2), vget_low_u8(c->lo2));

    uint16x8_t h_hi = vmull_high_u8(p0, c->hi0);
    h_hi = vmlal_high_u8(h_hi, p1, c->hi1);
    h_hi = vmlal_high_u8(h_hi, p2, c->hi2);
    uint16x8_t l_hi = vmlal_high_u8(c->rounding, p0, c->lo0);
    l_hi = vmlal_high_u8(l_hi, p1, c->lo1);
    l_hi = vmlal_high_u8(l_hi, p2, c->lo2);

    const uint8x8_t y_lo = vshrn_n_u16(vsraq_n_u16(h_lo, l_lo, 7), 8);
    return vshrn_high_n_u16(y_lo, vsraq_n_u16(h_hi, l_hi, 7), 8);
}

/*
 * Rows of 16 pixels or more end with one block that overlaps the previous one (it rewrites a
 * few bytes with the same values; dst never overlaps src), so no pixel takes a slower tail.
 */
void gray_row3_neon(const uint8_t *src, uint8_t *dst, size_t width, const gray_coeffs *k)
{
    if (width < 16) {
        for (size_t x = 0; x < width; ++x)
            dst[x] = gray_pixel(src + 3 * x, k);
        return;
    }
    const neon_consts c = consts_for(k);
    for (size_t x = 0;; x += 16) {
        if (x + 16 > width)
            x = width - 16;
        const uint8x16x3_t p = vld3q_u8(src + 3 * x);
        vst1q_u8(dst + x, gray16(p.val[0], p.val[1], p.val[2], &c));
        if (x + 16 == width)
            break;
    }
}

void gray_row4_neon(const uint8_t *src, uint8_t *dst, size_t width, const gray_coeffs *k)
{
    if (width < 16) {
        for (size_t x = 0; x < width; ++x)
            dst[x] = gray_pixel(src + 4 * x, k);
        return;
    }
    const neon_consts c = consts_for(k);
    for (size_t x = 0;; x += 16) {
        if (x + 16 > width)
            x = width - 16;
        const uint8x16x4_t p = vld4q_u8(src + 4 * x); /* val[3], the 4th byte, is ignored */
        vst1q_u8(dst + x, gray16(p.val[0], p.val[1], p.val[2], &c));
        if (x + 16 == width)
            break;
    }
}

/* Reads the row's 3 * width bytes front to back, like the kernels, and writes width bytes. */
void gray_floor_row_neon(const uint8_t *src, uint8_t *dst, size_t width)
{
    size_t x = 0;
    for (; x + 16 <= width; x += 16) {
        const uint8_t *p = src + 3 * x;
        const uint8x16_t a = vld1q_u8(p), b = vld1q_u8(p + 16), c = vld1q_u8(p + 32);
        vst1q_u8(dst + x, vorrq_u8(vorrq_u8(a, b), c));
    }
    for (; x < width; ++x)
        dst[x] = (uint8_t)(src[3 * x] | src[3 * x + 1] | src[3 * x + 2]);
}
#endif /* GRAY_HAVE_NEON */
