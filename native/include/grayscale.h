/*
 * grayscale.h - 8-bit RGB(A)/BGR(A) to 8-bit gray, bit-exact with OpenCV.
 *
 * Formula (OpenCV's 8-bit cvtColor RGB2GRAY, 15-bit fixed point, round half up):
 *
 *     Y = (9798 * R + 19235 * G + 3735 * B + 16384) >> 15
 *
 * Every code path (portable scalar, AVX2, AVX-512, NEON) evaluates exactly this integer
 * expression, so the output is identical on every CPU; the tests check all 2^24 colours on each
 * path (NEON and arm64's scalar path under qemu: native/tests/bitexact.c).
 *
 * Memory layout
 *   - src: `height` rows of `width` pixels; each pixel is `channels` (3 or 4) consecutive bytes,
 *     pixels of a row are consecutive (a row is `width * channels` contiguous bytes).
 *     Channel order is R,G,B[,A] (GRAY_ORDER_RGB) or B,G,R[,A] (GRAY_ORDER_BGR); the 4th
 *     channel (alpha or padding) is never read into the result.
 *   - dst: `height` rows of `width` bytes.
 *   - src_stride / dst_stride: bytes from the start of one row to the start of the next. Any value
 *     is allowed (padding, a cropped view, a negative stride for a vertically flipped view), as
 *     long as every row lies inside its buffer; dst rows must not overlap each other or src.
 *   - No alignment is required.
 *
 * Threading
 *   - Rows are shared among OpenMP threads (static schedule) when the library is built with
 *     OpenMP (-fopenmp); without it every call runs on the calling thread.
 *   - threads <= 0 means OpenMP's default (OMP_NUM_THREADS, else the number of CPUs). The team
 *     never exceeds the number of rows, nor one thread per GRAY_MIN_PIXELS_PER_THREAD pixels, so
 *     small images do not pay for waking threads.
 *   - Each output byte depends only on its own input pixel, so the result is identical for every
 *     thread count and schedule. The functions keep no global mutable state and may be called
 *     concurrently from several threads on distinct outputs.
 *
 * Errors: functions return GRAY_OK (0) or a negative gray_status; nothing is written on error.
 */
#ifndef GRAYSCALE_H
#define GRAYSCALE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* OpenCV's 15-bit fixed-point luma coefficients (ITU-R BT.601) and rounding. */
#define GRAY_COEFF_R 9798u
#define GRAY_COEFF_G 19235u
#define GRAY_COEFF_B 3735u
#define GRAY_SHIFT 15u
#define GRAY_ROUNDING (1u << (GRAY_SHIFT - 1u))

/* Below this many pixels per thread, waking another thread costs more than it saves. */
#define GRAY_MIN_PIXELS_PER_THREAD 32768u

typedef enum gray_order {
    GRAY_ORDER_RGB = 0, /* bytes R, G, B[, A] */
    GRAY_ORDER_BGR = 1  /* bytes B, G, R[, A] */
} gray_order;

/* Instruction-set paths; GRAY_ISA_AUTO picks the fastest one this CPU supports. */
typedef enum gray_isa {
    GRAY_ISA_AUTO = 0,
    GRAY_ISA_SCALAR = 1, /* portable C (compilers may auto-vectorise it) */
    GRAY_ISA_AVX2 = 2,   /* x86-64 AVX2 */
    GRAY_ISA_AVX512 = 3, /* x86-64 AVX-512 BW + VBMI + VNNI (Ice Lake, Zen 4 and later) */
    GRAY_ISA_NEON = 4    /* arm64 Advanced SIMD (every AArch64 CPU, e.g. AWS Graviton) */
} gray_isa;

typedef enum gray_status {
    GRAY_OK = 0,
    GRAY_ERR_NULL = -1,        /* src or dst is NULL while width * height > 0 */
    GRAY_ERR_CHANNELS = -2,    /* channels is not 3 or 4 */
    GRAY_ERR_ORDER = -3,       /* order is not a gray_order */
    GRAY_ERR_STRIDE = -4,      /* |stride| smaller than a row while height > 1 */
    GRAY_ERR_ISA = -5,         /* isa unknown or not supported by this CPU / build */
    GRAY_ERR_SIZE = -6         /* width * channels or height * stride overflows */
} gray_status;

/*
 * Convert `height` x `width` pixels of `channels` bytes from src to gray in dst.
 * Returns GRAY_OK or a negative gray_status. Blocks until done; threads as described above.
 */
int gray_convert(const uint8_t *src, ptrdiff_t src_stride, int channels, uint8_t *dst,
                 ptrdiff_t dst_stride, size_t width, size_t height, gray_order order,
                 int threads, gray_isa isa);

/*
 * Memory-bandwidth floor for benchmarks: reads the same 3 * width bytes per row, front to back,
 * as a 3-channel gray_convert and writes width bytes per row, with the same row split among
 * threads, but does no colour arithmetic (each output byte is the OR of three input bytes; the
 * values are meaningless). A conversion of that frame cannot be faster than this.
 */
int gray_bandwidth_floor(const uint8_t *src, ptrdiff_t src_stride, uint8_t *dst,
                         ptrdiff_t dst_stride, size_t width, size_t height, int threads);

/* Number of threads gray_convert would use for this size and request (1 without OpenMP). */
int gray_effective_threads(size_t width, size_t height, int threads);

/* OpenMP's default team size (omp_get_max_threads()), or 1 when built without OpenMP. */
int gray_max_threads(void);

/* The path GRAY_ISA_AUTO resolves to on this CPU, and whether a given path can run here. */
gray_isa gray_best_isa(void);
int gray_isa_supported(gray_isa isa);

/* "auto", "scalar", "avx2", "avx512", "neon", or NULL for an unknown value. */
const char *gray_isa_name(gray_isa isa);

#ifdef __cplusplus
}
#endif

#endif /* GRAYSCALE_H */
