/*
 * AVX2 row kernels, compiled for AVX2 by function attribute so the rest of the library stays
 * baseline x86-64; grayscale.c calls them only when the CPU reports AVX2.
 *
 * The sum 9798*R + 19235*G + 3735*B + 16384 needs 23 bits, so each pixel gets a 32-bit lane and
 * pmaddwd does the multiply-adds exactly: words (c0*p0 + c1*p1) and (c2*p2 + 16384*1).
 */
#include "gray_rows.h"

#if GRAY_HAVE_X86
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2")))

/* 32-bit lanes of eight sums >> 15 (four registers = 32 pixels) to 32 bytes in pixel order. */
static inline AVX2 void store32(uint8_t *dst, __m256i s0, __m256i s1, __m256i s2, __m256i s3)
{
    /* Packs work per 128-bit lane, so the dwords come out lane-interleaved; vpermd restores
     * the order: s0 lane0 | s0 lane1 | s1 lane0 | ... */
    const __m256i w01 = _mm256_packus_epi32(s0, s1);
    const __m256i w23 = _mm256_packus_epi32(s2, s3);
    const __m256i b = _mm256_packus_epi16(w01, w23);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    _mm256_storeu_si256((__m256i *)dst, _mm256_permutevar8x32_epi32(b, order));
}

/* Eight 3-byte pixels at p (reads 28 bytes: p[0..11] and p[12..27]) to eight sums >> 15. */
static inline AVX2 __m256i sums3(const uint8_t *p, __m256i pair_idx, __m256i third_idx,
                                  __m256i k01, __m256i k2r, __m256i one_hi)
{
    const __m256i v = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p)),
        _mm_loadu_si128((const __m128i *)(p + 12)), 1);
    const __m256i pair = _mm256_shuffle_epi8(v, pair_idx);                        /* p0, p1 */
    const __m256i third = _mm256_or_si256(_mm256_shuffle_epi8(v, third_idx), one_hi); /* p2, 1 */
    const __m256i s = _mm256_add_epi32(_mm256_madd_epi16(pair, k01), _mm256_madd_epi16(third, k2r));
    return _mm256_srli_epi32(s, GRAY_SHIFT);
}

AVX2 void gray_row3_avx2(const uint8_t *src, uint8_t *dst, size_t width, const gray_coeffs *k)
{
    const __m256i pair_idx = _mm256_setr_epi8(0, -1, 1, -1, 3, -1, 4, -1, 6, -1, 7, -1, 9, -1,
                                              10, -1, 0, -1, 1, -1, 3, -1, 4, -1, 6, -1, 7, -1,
                                              9, -1, 10, -1);
    const __m256i third_idx = _mm256_setr_epi8(2, -1, -1, -1, 5, -1, -1, -1, 8, -1, -1, -1, 11,
                                               -1, -1, -1, 2, -1, -1, -1, 5, -1, -1, -1, 8, -1,
                                               -1, -1, 11, -1, -1, -1);
    const __m256i k01 = _mm256_set1_epi32((int)(k->c0 | (k->c1 << 16)));
    const __m256i k2r = _mm256_set1_epi32((int)(k->c2 | (GRAY_ROUNDING << 16)));
    const __m256i one_hi = _mm256_set1_epi32(1 << 16);
    size_t x = 0;
    /* The last 16-byte load of a block reads 4 bytes past it: keep 2 pixels of slack. */
    for (; x + 34 <= width; x += 32) {
        const uint8_t *p = src + 3 * x;
        const __m256i s0 = sums3(p, pair_idx, third_idx, k01, k2r, one_hi);
        const __m256i s1 = sums3(p + 24, pair_idx, third_idx, k01, k2r, one_hi);
        const __m256i s2 = sums3(p + 48, pair_idx, third_idx, k01, k2r, one_hi);
        const __m256i s3 = sums3(p + 72, pair_idx, third_idx, k01, k2r, one_hi);
        store32(dst + x, s0, s1, s2, s3);
    }
    for (; x < width; ++x)
        dst[x] = gray_pixel(src + 3 * x, k);
}

/* Eight 4-byte pixels: the even bytes (p0, p2) already form a word pair; p1 is paired with a
 * constant 1 that carries the rounding term, and the 4th byte is dropped. */
static inline AVX2 __m256i sums4(const uint8_t *p, __m256i k02, __m256i k1r, __m256i even_bytes,
                                  __m256i low_byte, __m256i one_hi)
{
    const __m256i v = _mm256_loadu_si256((const __m256i *)p);
    const __m256i even = _mm256_and_si256(v, even_bytes);                              /* p0, p2 */
    const __m256i odd = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(v, 8), low_byte),
                                        one_hi);                                        /* p1, 1 */
    const __m256i s = _mm256_add_epi32(_mm256_madd_epi16(even, k02), _mm256_madd_epi16(odd, k1r));
    return _mm256_srli_epi32(s, GRAY_SHIFT);
}

AVX2 void gray_row4_avx2(const uint8_t *src, uint8_t *dst, size_t width, const gray_coeffs *k)
{
    const __m256i k02 = _mm256_set1_epi32((int)(k->c0 | (k->c2 << 16)));
    const __m256i k1r = _mm256_set1_epi32((int)(k->c1 | (GRAY_ROUNDING << 16)));
    const __m256i even_bytes = _mm256_set1_epi32(0x00FF00FF);
    const __m256i low_byte = _mm256_set1_epi32(0xFF);
    const __m256i one_hi = _mm256_set1_epi32(1 << 16);
    size_t x = 0;
    for (; x + 32 <= width; x += 32) {
        const uint8_t *p = src + 4 * x;
        const __m256i s0 = sums4(p, k02, k1r, even_bytes, low_byte, one_hi);
        const __m256i s1 = sums4(p + 32, k02, k1r, even_bytes, low_byte, one_hi);
        const __m256i s2 = sums4(p + 64, k02, k1r, even_bytes, low_byte, one_hi);
        const __m256i s3 = sums4(p + 96, k02, k1r, even_bytes, low_byte, one_hi);
        store32(dst + x, s0, s1, s2, s3);
    }
    for (; x < width; ++x)
        dst[x] = gray_pixel(src + 4 * x, k);
}

/* Reads the row's 3 * width bytes front to back, like the kernels, and writes width bytes. */
AVX2 void gray_floor_row_avx2(const uint8_t *src, uint8_t *dst, size_t width)
{
    size_t x = 0;
    for (; x + 32 <= width; x += 32) {
        const uint8_t *p = src + 3 * x;
        const __m256i a = _mm256_loadu_si256((const __m256i *)p);
        const __m256i b = _mm256_loadu_si256((const __m256i *)(p + 32));
        const __m256i c = _mm256_loadu_si256((const __m256i *)(p + 64));
        _mm256_storeu_si256((__m256i *)(dst + x), _mm256_or_si256(_mm256_or_si256(a, b), c));
    }
    for (; x < width; ++x)
        dst[x] = (uint8_t)(src[3 * x] | src[3 * x + 1] | src[3 * x + 2]);
}
#endif /* GRAY_HAVE_X86 */
