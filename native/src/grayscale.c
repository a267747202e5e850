/* Public API of grayscale.h: argument checks, CPU dispatch and the OpenMP split over rows. */
#include "grayscale.h"

#include <limits.h>
#include <stdint.h>

#include "gray_rows.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#if GRAY_HAVE_NEON && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1) /* <asm/hwcap.h> */
#endif
#endif

int gray_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int gray_isa_supported(gray_isa isa)
{
    switch (isa) {
    case GRAY_ISA_AUTO:
    case GRAY_ISA_SCALAR:
        return 1;
#if GRAY_HAVE_X86
    case GRAY_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2");
    case GRAY_ISA_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512vnni");
#endif
#if GRAY_HAVE_NEON
    case GRAY_ISA_NEON:
        /* Architecturally always there on AArch64; asked anyway, like the x86 features. */
#if defined(__linux__)
        return (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0;
#else
        return 1;
#endif
#endif
    default:
        return 0;
    }
}

gray_isa gray_best_isa(void)
{
    if (gray_isa_supported(GRAY_ISA_AVX512))
        return GRAY_ISA_AVX512;
    if (gray_isa_supported(GRAY_ISA_AVX2))
        return GRAY_ISA_AVX2;
    if (gray_isa_supported(GRAY_ISA_NEON))
        return GRAY_ISA_NEON;
    return GRAY_ISA_SCALAR;
}

const char *gray_isa_name(gray_isa isa)
{
    switch (isa) {
    case GRAY_ISA_AUTO:
        return "auto";
    case GRAY_ISA_SCALAR:
        return "scalar";
    case GRAY_ISA_AVX2:
        return "avx2";
    case GRAY_ISA_AVX512:
        return "avx512";
    case GRAY_ISA_NEON:
        return "neon";
    default:
        return NULL;
    }
}

int gray_effective_threads(size_t width, size_t height, int threads)
{
#ifdef _OPENMP
    size_t team = threads > 0 ? (size_t)threads : (size_t)omp_get_max_threads();
    const size_t by_work = width > SIZE_MAX / (height ? height : 1)
                               ? SIZE_MAX
                               : (width * height) / GRAY_MIN_PIXELS_PER_THREAD;
    if (team > height)
        team = height;
    if (team > by_work)
        team = by_work;
    return team < 1 ? 1 : (int)team;
#else
    (void)width;
    (void)height;
    (void)threads;
    return 1;
#endif
}

/* |stride| must cover a row (rows may not overlap) unless there is a single row. */
static int stride_ok(ptrdiff_t stride, size_t row_bytes, size_t height)
{
    if (height <= 1)
        return 1;
    const size_t magnitude = stride < 0 ? (size_t)0 - (size_t)stride : (size_t)stride;
    return magnitude >= row_bytes && magnitude <= (size_t)PTRDIFF_MAX / height;
}

static gray_row_fn pick_row(gray_isa isa, int channels)
{
    switch (isa) {
#if GRAY_HAVE_X86
    case GRAY_ISA_AVX512:
        return channels == 3 ? gray_row3_avx512 : gray_row4_avx512;
    case GRAY_ISA_AVX2:
        return channels == 3 ? gray_row3_avx2 : gray_row4_avx2;
#endif
#if GRAY_HAVE_NEON
    case GRAY_ISA_NEON:
        return channels == 3 ? gray_row3_neon : gray_row4_neon;
#endif
    default:
        return channels == 3 ? gray_row3_scalar : gray_row4_scalar;
    }
}

int gray_convert(const uint8_t *src, ptrdiff_t src_stride, int channels, uint8_t *dst,
                 ptrdiff_t dst_stride, size_t width, size_t height, gray_order order,
                 int threads, gray_isa isa)
{
    if (channels != 3 && channels != 4)
        return GRAY_ERR_CHANNELS;
    if (order != GRAY_ORDER_RGB && order != GRAY_ORDER_BGR)
        return GRAY_ERR_ORDER;
    if (!gray_isa_name(isa) || !gray_isa_supported(isa))
        return GRAY_ERR_ISA;
    if (width == 0 || height == 0)
        return GRAY_OK;
    if (!src || !dst)
        return GRAY_ERR_NULL;
    if (width > (size_t)PTRDIFF_MAX / 4)
        return GRAY_ERR_SIZE;
    if (!stride_ok(src_stride, width * (size_t)channels, height) ||
        !stride_ok(dst_stride, width, height))
        return GRAY_ERR_STRIDE;

    /* BGR is RGB with the outer coefficients swapped; the kernels only see byte positions. */
    const gray_coeffs k = order == GRAY_ORDER_RGB
                              ? (gray_coeffs){GRAY_COEFF_R, GRAY_COEFF_G, GRAY_COEFF_B}
                              : (gray_coeffs){GRAY_COEFF_B, GRAY_COEFF_G, GRAY_COEFF_R};
    const gray_row_fn row = pick_row(isa == GRAY_ISA_AUTO ? gray_best_isa() : isa, channels);
    const ptrdiff_t rows = (ptrdiff_t)height;
    const int team = gray_effective_threads(width, height, threads);
    (void)team;

#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(team) if (team > 1)
#endif
    for (ptrdiff_t y = 0; y < rows; ++y)
        row(src + y * src_stride, dst + y * dst_stride, width, &k);
    return GRAY_OK;
}

int gray_bandwidth_floor(const uint8_t *src, ptrdiff_t src_stride, uint8_t *dst,
                         ptrdiff_t dst_stride, size_t width, size_t height, int threads)
{
    if (width == 0 || height == 0)
        return GRAY_OK;
    if (!src || !dst)
        return GRAY_ERR_NULL;
    if (width > (size_t)PTRDIFF_MAX / 4)
        return GRAY_ERR_SIZE;
    if (!stride_ok(src_stride, width * 3, height) || !stride_ok(dst_stride, width, height))
        return GRAY_ERR_STRIDE;

    void (*row)(const uint8_t *, uint8_t *, size_t) = gray_floor_row_scalar;
#if GRAY_HAVE_X86
    if (gray_isa_supported(GRAY_ISA_AVX2))
        row = gray_floor_row_avx2;
#endif
#if GRAY_HAVE_NEON
    if (gray_isa_supported(GRAY_ISA_NEON))
        row = gray_floor_row_neon;
#endif
    const ptrdiff_t rows = (ptrdiff_t)height;
    const int team = gray_effective_threads(width, height, threads);
    (void)team;

#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(team) if (team > 1)
#endif
    for (ptrdiff_t y = 0; y < rows; ++y)
        row(src + y * src_stride, dst + y * dst_stride, width);
    return GRAY_OK;
}
