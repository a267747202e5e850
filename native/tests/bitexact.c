/*
 * Bit-exactness driver for the C kernel, independent of Python, so that it can be cross-built
 * for arm64 and run under qemu-aarch64-static (tests/integration/test_kernel_arm64.py does
 * both, and runs a host build as the x86 reference).
 *
 * For every layout (RGB, BGR, RGBA, BGRA) it writes all 2^24 colours as a 4096 x 4096 image
 * (pixel i has colour i; random 4th byte, which must be ignored), converts it on every path this
 * CPU runs (scalar, and avx2/avx512 or neon), and compares each output byte with OpenCV's formula
 * evaluated here from the colour code. It also checks every row width from 1 to 200 (vector
 * bodies and tails) with padded and flipped strides, that no path reads or writes a byte past
 * a row (rows that end at an unmapped page), and that the bandwidth floor keeps to its rows.
 *
 * Output, one fact a line (the test parses it):
 *     arch <x86_64|aarch64|other>
 *     best <isa>
 *     isas <isa> <isa> ...
 *     colours fnv1a64 <hash of the formula's 2^24 outputs, in colour order>
 *     layout <RGB|BGR|RGBA|BGRA> isa <isa> mismatches <n> fnv1a64 <hash of that path's output>
 *     widths isa <isa> mismatches <n>
 *     bounds isa <isa> ok                 (an out-of-row access would crash the driver instead)
 *     floor mismatches <n>
 *     result <OK|FAIL>
 * Exit status 0 only when every comparison matched.
 *
 * Build (the same sources as setup.py, without OpenMP; threads=1):
 *     cc -O3 -std=gnu11 -Inative/include -Inative/src native/tests/bitexact.c \
 *        native/src/grayscale.c native/src/gray_rows_*.c -o bitexact
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gray_rows.h"
#include "grayscale.h"

#define SIDE 4096u
#define COLOURS (SIDE * SIDE)

/* OpenCV's 8-bit RGB2GRAY, written out here rather than taken from the library's header. */
static uint8_t formula(uint32_t r, uint32_t g, uint32_t b)
{
    return (uint8_t)((9798u * r + 19235u * g + 3735u * b + 16384u) >> 15);
}

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; ++i)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static uint32_t xorshift32(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

/* Colour channel values of pixel bytes p[0..2] in `order`. */
static void rgb_of(const uint8_t *p, gray_order order, uint32_t *r, uint32_t *g, uint32_t *b)
{
    *r = order == GRAY_ORDER_RGB ? p[0] : p[2];
    *g = p[1];
    *b = order == GRAY_ORDER_RGB ? p[2] : p[0];
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        exit(2);
    }
    return p;
}

static const gray_isa ALL_ISAS[] = {GRAY_ISA_SCALAR, GRAY_ISA_AVX2, GRAY_ISA_AVX512,
                                    GRAY_ISA_NEON};
#define N_ISAS (sizeof ALL_ISAS / sizeof ALL_ISAS[0])

static const struct layout {
    const char *name;
    int channels;
    gray_order order;
} LAYOUTS[] = {{"RGB", 3, GRAY_ORDER_RGB},
               {"BGR", 3, GRAY_ORDER_BGR},
               {"RGBA", 4, GRAY_ORDER_RGB},
               {"BGRA", 4, GRAY_ORDER_BGR}};

/* All 2^24 colours in one layout, on one path: returns the number of wrong bytes. */
static size_t check_colours(const struct layout *l, const uint8_t *image, const uint8_t *expected,
                            uint8_t *out, gray_isa isa)
{
    memset(out, 0xA5, COLOURS);
    const int status = gray_convert(image, (ptrdiff_t)(SIDE * (size_t)l->channels), l->channels,
                                    out, SIDE, SIDE, SIDE, l->order, 1, isa);
    if (status != GRAY_OK) {
        printf("error layout %s isa %s status %d\n", l->name, gray_isa_name(isa), status);
        return COLOURS;
    }
    size_t bad = 0;
    for (size_t i = 0; i < COLOURS; ++i) {
        if (out[i] != expected[i] && bad++ == 0)
            printf("first-mismatch layout %s isa %s colour 0x%06zx got %u want %u\n", l->name,
                   gray_isa_name(isa), i, out[i], expected[i]);
    }
    printf("layout %s isa %s mismatches %zu fnv1a64 %016" PRIx64 "\n", l->name, gray_isa_name(isa),
           bad, fnv1a64(out, COLOURS));
    return bad;
}

/*
 * Every width 1..200, 3 rows, random bytes, both orders and channel counts, with a padded
 * stride and with a flipped (negative) one: returns the number of wrong bytes on this path.
 */
static size_t check_widths(gray_isa isa, uint32_t *seed)
{
    enum { ROWS = 3, MAX_W = 200, PAD = 5 };
    uint8_t src[ROWS * (MAX_W * 4 + PAD)], dst[ROWS * (MAX_W + PAD)], want[ROWS * MAX_W];
    size_t bad = 0;
    for (size_t width = 1; width <= MAX_W; ++width) {
        for (int channels = 3; channels <= 4; ++channels) {
            for (int o = 0; o < 2; ++o) {
                const gray_order order = o ? GRAY_ORDER_BGR : GRAY_ORDER_RGB;
                const size_t sstride = width * (size_t)channels + PAD, dstride = width + PAD;
                for (size_t i = 0; i < sizeof src; ++i)
                    src[i] = (uint8_t)xorshift32(seed);
                for (size_t y = 0; y < ROWS; ++y)
                    for (size_t x = 0; x < width; ++x) {
                        uint32_t r, g, b;
                        rgb_of(src + y * sstride + x * (size_t)channels, order, &r, &g, &b);
                        want[y * MAX_W + x] = formula(r, g, b);
                    }
                for (int flipped = 0; flipped < 2; ++flipped) {
                    memset(dst, 0xA5, sizeof dst);
                    /* flipped: start at the last row and step back, writing rows top-down */
                    const uint8_t *s = flipped ? src + (ROWS - 1) * sstride : src;
                    const ptrdiff_t ss = flipped ? -(ptrdiff_t)sstride : (ptrdiff_t)sstride;
                    if (gray_convert(s, ss, channels, dst, (ptrdiff_t)dstride, width, ROWS, order,
                                     1, isa) != GRAY_OK)
                        return (size_t)-1;
                    for (size_t y = 0; y < ROWS; ++y) {
                        const size_t from = flipped ? ROWS - 1 - y : y;
                        for (size_t x = 0; x < width; ++x)
                            bad += dst[y * dstride + x] != want[from * MAX_W + x];
                        /* the padding after each row is never written */
                        for (size_t x = width; x < dstride && y + 1 < ROWS; ++x)
                            bad += dst[y * dstride + x] != 0xA5;
                    }
                }
            }
        }
    }
    printf("widths isa %s mismatches %zu\n", gray_isa_name(isa), bad);
    return bad;
}

/*
 * One row of every width 1..200 whose source and destination both end where an inaccessible
 * page begins: a path that reads or writes past its row crashes here. Returns wrong bytes.
 */
static size_t check_bounds(gray_isa isa, uint32_t *seed)
{
    enum { MAX_W = 200 };
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *src = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint8_t *dst = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (src == MAP_FAILED || dst == MAP_FAILED || mprotect(src + page, page, PROT_NONE) != 0 ||
        mprotect(dst + page, page, PROT_NONE) != 0) {
        puts("error mmap");
        return 1;
    }
    size_t bad = 0;
    for (size_t width = 1; width <= MAX_W; ++width) {
        for (int channels = 3; channels <= 4; ++channels) {
            uint8_t *s = src + page - width * (size_t)channels, *d = dst + page - width;
            for (size_t i = 0; i < width * (size_t)channels; ++i)
                s[i] = (uint8_t)xorshift32(seed);
            if (gray_convert(s, 0, channels, d, 0, width, 1, GRAY_ORDER_BGR, 1, isa) != GRAY_OK)
                return 1;
            for (size_t x = 0; x < width; ++x) {
                const uint8_t *p = s + x * (size_t)channels;
                bad += d[x] != formula(p[2], p[1], p[0]);
            }
            if (channels == 3 && gray_bandwidth_floor(s, 0, d, 0, width, 1, 1) != GRAY_OK)
                return 1;
        }
    }
    munmap(src, 2 * page);
    munmap(dst, 2 * page);
    printf("bounds isa %s %s\n", gray_isa_name(isa), bad ? "mismatches" : "ok");
    return bad;
}

/*
 * The bandwidth floor's bytes are meaningless (each path ORs whichever three bytes suit it), so
 * only its bounds are checked: it succeeds and writes nothing after each row's `width` bytes.
 */
static size_t check_floor(uint32_t *seed)
{
    enum { W = 1000, H = 7 };
    static uint8_t src[H * W * 3], dst[H * W];
    for (size_t i = 0; i < sizeof src; ++i)
        src[i] = (uint8_t)xorshift32(seed);
    size_t bad = 0;
    for (size_t width = 1; width < W; width += 37) {
        memset(dst, 0xA5, sizeof dst);
        if (gray_bandwidth_floor(src, W * 3, dst, W, width, H, 1) != GRAY_OK)
            return (size_t)-1;
        for (size_t y = 0; y < H; ++y)
            for (size_t x = width; x < W; ++x)
                bad += dst[y * W + x] != 0xA5;
    }
    printf("floor mismatches %zu\n", bad);
    return bad;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* a crash (out-of-row access) keeps the lines before it */
#if defined(__x86_64__)
    puts("arch x86_64");
#elif defined(__aarch64__)
    puts("arch aarch64");
#else
    puts("arch other");
#endif
    printf("best %s\nisas", gray_isa_name(gray_best_isa()));
    for (size_t i = 0; i < N_ISAS; ++i)
        if (gray_isa_supported(ALL_ISAS[i]))
            printf(" %s", gray_isa_name(ALL_ISAS[i]));
    putchar('\n');

    uint8_t *expected = xmalloc(COLOURS), *out = xmalloc(COLOURS), *image = xmalloc(COLOURS * 4);
    for (uint32_t i = 0; i < COLOURS; ++i)
        expected[i] = formula(i >> 16, (i >> 8) & 0xFF, i & 0xFF);
    printf("colours fnv1a64 %016" PRIx64 "\n", fnv1a64(expected, COLOURS));

    size_t bad = 0;
    uint32_t seed = 0x9E3779B9u;
    for (size_t l = 0; l < sizeof LAYOUTS / sizeof LAYOUTS[0]; ++l) {
        const struct layout *lay = &LAYOUTS[l];
        for (uint32_t i = 0; i < COLOURS; ++i) {
            uint8_t *p = image + (size_t)i * (size_t)lay->channels;
            const uint8_t r = (uint8_t)(i >> 16), g = (uint8_t)(i >> 8), b = (uint8_t)i;
            p[0] = lay->order == GRAY_ORDER_RGB ? r : b;
            p[1] = g;
            p[2] = lay->order == GRAY_ORDER_RGB ? b : r;
            if (lay->channels == 4)
                p[3] = (uint8_t)xorshift32(&seed);
        }
        for (size_t i = 0; i < N_ISAS; ++i)
            if (gray_isa_supported(ALL_ISAS[i]))
                bad += check_colours(lay, image, expected, out, ALL_ISAS[i]);
    }
    for (size_t i = 0; i < N_ISAS; ++i)
        if (gray_isa_supported(ALL_ISAS[i]))
            bad += check_widths(ALL_ISAS[i], &seed) + check_bounds(ALL_ISAS[i], &seed);
    bad += check_floor(&seed);

    free(image);
    free(out);
    free(expected);
    puts(bad ? "result FAIL" : "result OK");
    return bad ? 1 : 0;
}
