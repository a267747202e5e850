/*
 * Internal row kernels: one row of `width` pixels from src to dst. The public entry point
 * (grayscale.c) validates arguments, picks a kernel and shares rows among threads.
 */
#ifndef GRAY_ROWS_H
#define GRAY_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "grayscale.h"

/* Coefficients in source byte order: channel k is multiplied by c[k]. */
typedef struct gray_coeffs {
    uint32_t c0, c1, c2;
} gray_coeffs;

typedef void (*gray_row_fn)(const uint8_t *src, uint8_t *dst, size_t width,
                            const gray_coeffs *k);

/*
 * The one formula every path implements; SIMD paths use it for the pixels left over after the
 * vector body, so the body and the tail cannot disagree.
 */
static inline uint8_t gray_pixel(const uint8_t *p, const gray_coeffs *k)
{
    return (uint8_t)((k->c0 * p[0] + k->c1 * p[1] + k->c2 * p[2] + GRAY_ROUNDING) >> GRAY_SHIFT);
}

void gray_row3_scalar(const uint8_t *src, uint8_t *dst, size_t width, const gray_coeffs *k);
void gray_row4_scalar(const uint8_t *src, uint8_t *dst, size_t width, const gray_coeffs *k);
void gray_floor_row_scalar(const uint8_t *src, uint8_t *dst, size_t width);

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#define GRAY_HAVE_X86 1
void gray_row3_avx2(const uint8_t *src, uint8_t *dst, size_t width, const gray_coeffs *k);
void gray_row4_avx2(const uint8_t *src, uint8_t *dst, size_t width, const gray_coeffs *k);
void gray_floor_row_avx2(const uint8_t *src, uint8_t *dst, size_t width);
void gray_row3_avx512(const uint8_t *src, uint8_t *dst, size_t width, const gray_coeffs *k);
void gray_row4_avx512(const uint8_t *src, uint8_t *dst, size_t width, const gray_coeffs *k);
#else
#define GRAY_HAVE_X86 0
#endif

/* AdvSIMD is part of the AArch64 base ISA: every arm64 build has these kernels. */
#if defined(__aarch64__) && defined(__ARM_NEON)
#define GRAY_HAVE_NEON 1
void gray_row3_neon(const uint8_t *src, uint8_t *dst, size_t width, const gray_coeffs *k);
void gray_row4_neon(const uint8_t *src, uint8_t *dst, size_t width, const gray_coeffs *k);
void gray_floor_row_neon(const uint8_t *src, uint8_t *dst, size_t width);
#else
#define GRAY_HAVE_NEON 0
#endif

#endif /* GRAY_ROWS_H */
