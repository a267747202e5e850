/* Portable row kernels: the reference path, and the one used on CPUs without AVX2 (arm64
 * compilers auto-vectorise these loops with NEON structure loads). */
#include "gray_rows.h"

void gray_row3_scalar(const uint8_t *src, uint8_t *dst, size_t width, const gray_coeffs *k)
{
    for (size_t x = 0; x < width; ++x)
        dst[x] = gray_pixel(src + 3 * x, k);
}

void gray_row4_scalar(const uint8_t *src, uint8_t *dst, size_t width, const gray_coeffs *k)
{
    for (size_t x = 0; x < width; ++x)
        dst[x] = gray_pixel(src + 4 * x, k);
}

void gray_floor_row_scalar(const uint8_t *src, uint8_t *dst, size_t width)
{
    for (size_t x = 0; x < width; ++x)
        dst[x] = (uint8_t)(src[3 * x] | src[3 * x + 1] | src[3 * x + 2]);
}
