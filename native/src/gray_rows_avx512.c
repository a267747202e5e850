/*
 * AVX-512 row kernels for CPUs with BW + VBMI + VNNI (Ice Lake, Sapphire Rapids, Zen 4 and later).
 *
 * vpdpbusd multiplies 4 unsigned pixel bytes by 4 signed coefficient bytes and adds the products
 * to a 32-bit lane. The 15-bit coefficients do not fit a byte, so each is split as
 * c = 256 * hi + lo with hi, lo in [-128, 127] (9798 = 38*256 + 70, 19235 = 75*256 + 35,
 * 3735 = 15*256 - 105), and the lane computes, exactly, in two steps:
 *
 *     ((64 + sum(hi * p)) << 8) + sum(lo * p)  =  16384 + 9798*R + 19235*G + 3735*B
 *
 * then >> 15: the same integer as the scalar formula. A 4th byte (alpha) gets coefficient 0.
 * vpermb spreads sixteen 3-byte pixels over sixteen 4-byte lanes in one instruction; masked
 * loads and stores never touch memory outside the row, so the last partial block of a row goes
 * through the same code as the body.
 */
#include "gray_rows.h"

#if GRAY_HAVE_X86
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vbmi,avx512vnni")))

/* Lane j takes pixel j's three bytes; its 4th byte is don't-care (coefficient 0). */
#define LANE(j) 3 * (j), 3 * (j) + 1, 3 * (j) + 2, 3 * (j) + 2
static const uint8_t spread3_idx[64] = {
    LANE(0), LANE(1), LANE(2),  LANE(3),  LANE(4),  LANE(5),  LANE(6),  LANE(7),
    LANE(8), LANE(9), LANE(10), LANE(11), LANE(12), LANE(13), LANE(14), LANE(15)};

typedef struct consts512 {
    __m512i hi, lo, rounding, order;
} consts512;

static inline int8_t hi_part(uint32_t c)
{
    return (int8_t)((c + 128) >> 8);
}

static inline int8_t lo_part(uint32_t c)
{
    return (int8_t)((int32_t)c - 256 * (int32_t)hi_part(c));
}

static inline uint32_t pack_bytes(int8_t b0, int8_t b1, int8_t b2)
{
    return (uint32_t)(uint8_t)b0 | (uint32_t)(uint8_t)b1 << 8 | (uint32_t)(uint8_t)b2 << 16;
}

static inline AVX512 consts512 make_consts(const gray_coeffs *k)
{
    consts512 c;
    c.hi = _mm512_set1_epi32((int)pack_bytes(hi_part(k->c0), hi_part(k->c1), hi_part(k->c2)));
    c.lo = _mm512_set1_epi32((int)pack_bytes(lo_part(k->c0), lo_part(k->c1), lo_part(k->c2)));
    c.rounding = _mm512_set1_epi32((int)(GRAY_ROUNDING >> 8));
    /* Packs interleave per 128-bit lane; this puts the 4-pixel dwords back in pixel order. */
    c.order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return c;
}

/* Sixteen pixels, one per 32-bit lane (bytes 0..2), to sixteen gray values in 32-bit lanes. */
static inline AVX512 __m512i gray16(__m512i px, const consts512 *c)
{
    __m512i s = _mm512_dpbusd_epi32(c->rounding, px, c->hi);
    s = _mm512_slli_epi32(s, 8);
    s = _mm512_dpbusd_epi32(s, px, c->lo);
    return _mm512_srli_epi32(s, GRAY_SHIFT);
}

static inline AVX512 __m512i load3(const uint8_t *p, __mmask64 bytes, __m512i spread)
{
    return _mm512_permutexvar_epi8(spread, _mm512_maskz_loadu_epi8(bytes, p));
}

static inline AVX512 void store64(uint8_t *dst, __mmask64 mask, __m512i s0, __m512i s1,
                                  __m512i s2, __m512i s3, const consts512 *c)
{
    const __m512i b = _mm512_packus_epi16(_mm512_packus_epi32(s0, s1), _mm512_packus_epi32(s2, s3));
    _mm512_mask_storeu_epi8(dst, mask, _mm512_permutexvar_epi32(c->order, b));
}

/* Mask of the first n bytes, n in [0, 64]. */
static inline __mmask64 first_bytes(size_t n)
{
    return n >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << n) - 1);
}

/* Load mask for 16-pixel group g of a block of n pixels. */
static inline __mmask64 group_bytes(size_t n, size_t g, size_t bytes_per_pixel)
{
    const size_t left = n > 16 * g ? n - 16 * g : 0;
    return first_bytes((left < 16 ? left : 16) * bytes_per_pixel);
}

AVX512 void gray_row3_avx512(const uint8_t *src, uint8_t *dst, size_t width, const gray_coeffs *k)
{
    const consts512 c = make_consts(k);
    const __m512i spread = _mm512_loadu_si512(spread3_idx);
    const __mmask64 full = first_bytes(48);
    size_t x = 0;
    for (; x + 64 <= width; x += 64) {
        const uint8_t *p = src + 3 * x;
        store64(dst + x, ~(__mmask64)0, gray16(load3(p, full, spread), &c),
                gray16(load3(p + 48, full, spread), &c), gray16(load3(p + 96, full, spread), &c),
                gray16(load3(p + 144, full, spread), &c), &c);
    }
    if (x < width) {
        const size_t n = width - x;
        const uint8_t *p = src + 3 * x;
        store64(dst + x, first_bytes(n), gray16(load3(p, group_bytes(n, 0, 3), spread), &c),
                gray16(load3(p + 48, group_bytes(n, 1, 3), spread), &c),
                gray16(load3(p + 96, group_bytes(n, 2, 3), spread), &c),
                gray16(load3(p + 144, group_bytes(n, 3, 3), spread), &c), &c);
    }
}

AVX512 void gray_row4_avx512(const uint8_t *src, uint8_t *dst, size_t width, const gray_coeffs *k)
{
    /* Four-byte pixels already sit one per lane. */
    const consts512 c = make_consts(k);
    const __mmask64 full = ~(__mmask64)0;
    size_t x = 0;
    for (; x + 64 <= width; x += 64) {
        const uint8_t *p = src + 4 * x;
        store64(dst + x, full, gray16(_mm512_loadu_si512(p), &c),
                gray16(_mm512_loadu_si512(p + 64), &c), gray16(_mm512_loadu_si512(p + 128), &c),
                gray16(_mm512_loadu_si512(p + 192), &c), &c);
    }
    if (x < width) {
        const size_t n = width - x;
        const uint8_t *p = src + 4 * x;
        store64(dst + x, first_bytes(n), gray16(_mm512_maskz_loadu_epi8(group_bytes(n, 0, 4), p), &c),
                gray16(_mm512_maskz_loadu_epi8(group_bytes(n, 1, 4), p + 64), &c),
                gray16(_mm512_maskz_loadu_epi8(group_bytes(n, 2, 4), p + 128), &c),
                gray16(_mm512_maskz_loadu_epi8(group_bytes(n, 3, 4), p + 192), &c), &c);
    }
}
#endif /* GRAY_HAVE_X86 */
