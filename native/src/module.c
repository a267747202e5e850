/*
 * CPython binding of grayscale.h (module grayscale_kernel._native). It takes any object with the
 * buffer protocol, so it needs no numpy headers to build; grayscale_kernel/__init__.py gives the
 * friendly numpy-level checks, and this file re-checks everything that memory safety rests on.
 * The GIL is released while the kernel runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "grayscale.h"

/* One 8-bit-per-item buffer: "B" (numpy uint8) with or without a byte-order prefix. */
static int is_uint8(const Py_buffer *view)
{
    if (view->itemsize != 1)
        return 0;
    const char *f = view->format ? view->format : "B";
    if (*f == '@' || *f == '=' || *f == '<' || *f == '>' || *f == '!')
        ++f;
    return strcmp(f, "B") == 0;
}

/* Byte range [lo, hi) covered by a buffer's items. */
static void extent(const Py_buffer *view, const char **lo, const char **hi)
{
    const char *start = view->buf, *end = view->buf;
    for (int d = 0; d < view->ndim; ++d) {
        if (view->shape[d] == 0) {
            *lo = *hi = view->buf;
            return;
        }
        const Py_ssize_t span = (view->shape[d] - 1) * view->strides[d];
        if (span < 0)
            start += span;
        else
            end += span;
    }
    *lo = start;
    *hi = end + view->itemsize;
}

static int check_image(const Py_buffer *src, int *channels)
{
    if (!is_uint8(src)) {
        PyErr_SetString(PyExc_TypeError, "image must hold uint8 items");
        return -1;
    }
    if (src->ndim != 3 || (src->shape[2] != 3 && src->shape[2] != 4)) {
        PyErr_SetString(PyExc_ValueError, "image must have shape (height, width, 3 or 4)");
        return -1;
    }
    *channels = (int)src->shape[2];
    if (src->shape[0] == 0 || src->shape[1] == 0)
        return 0; /* nothing is read; empty buffers may carry any strides */
    if (src->strides[2] != 1 || (src->shape[1] > 1 && src->strides[1] != *channels)) {
        PyErr_SetString(PyExc_ValueError,
                        "image pixels must be contiguous within a row (strides (any, C, 1))");
        return -1;
    }
    return 0;
}

static int check_output(const Py_buffer *dst, const Py_buffer *src, Py_ssize_t row_bytes)
{
    if (!is_uint8(dst)) {
        PyErr_SetString(PyExc_TypeError, "out must hold uint8 items");
        return -1;
    }
    if (dst->ndim != 2 || dst->shape[0] != src->shape[0] || dst->shape[1] != src->shape[1]) {
        PyErr_SetString(PyExc_ValueError, "out must have shape (height, width) of the image");
        return -1;
    }
    if (dst->shape[0] == 0 || dst->shape[1] == 0)
        return 0; /* nothing is written */
    if (dst->shape[1] > 1 && dst->strides[1] != 1) {
        PyErr_SetString(PyExc_ValueError, "out must be contiguous within a row (strides (any, 1))");
        return -1;
    }
    if (dst->shape[0] > 1 && (dst->strides[0] < 0 ? -dst->strides[0] : dst->strides[0]) <
                                 (dst->shape[1] > 0 ? dst->shape[1] : 0)) {
        PyErr_SetString(PyExc_ValueError, "out rows must not overlap");
        return -1;
    }
    if (src->shape[0] > 1 && (src->strides[0] < 0 ? -src->strides[0] : src->strides[0]) < row_bytes) {
        PyErr_SetString(PyExc_ValueError, "image rows must not overlap");
        return -1;
    }
    const char *slo, *shi, *dlo, *dhi;
    extent(src, &slo, &shi);
    extent(dst, &dlo, &dhi);
    if (slo < shi && dlo < dhi && slo < dhi && dlo < shi) {
        PyErr_SetString(PyExc_ValueError, "out must not share memory with image");
        return -1;
    }
    return 0;
}

static int parse_isa(const char *name, gray_isa *isa)
{
    for (int i = GRAY_ISA_AUTO; i <= GRAY_ISA_NEON; ++i) {
        if (strcmp(name, gray_isa_name((gray_isa)i)) == 0) {
            *isa = (gray_isa)i;
            if (!gray_isa_supported(*isa)) {
                PyErr_Format(PyExc_ValueError, "isa %s is not supported by this CPU", name);
                return -1;
            }
            return 0;
        }
    }
    PyErr_Format(PyExc_ValueError, "isa must be auto, scalar, avx2, avx512 or neon, not %s", name);
    return -1;
}

/* Shared by convert() and bandwidth_floor(): acquire, check, run without the GIL, release. */
static PyObject *run(PyObject *src_obj, PyObject *dst_obj, int order, int threads,
                     const char *isa_name, int floor_only)
{
    gray_isa isa = GRAY_ISA_AUTO;
    if (parse_isa(isa_name, &isa) < 0)
        return NULL;
    Py_buffer src, dst;
    if (PyObject_GetBuffer(src_obj, &src, PyBUF_STRIDES | PyBUF_FORMAT) < 0)
        return NULL;
    if (PyObject_GetBuffer(dst_obj, &dst, PyBUF_STRIDES | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&src);
        return NULL;
    }
    int channels = 0, status = GRAY_OK;
    if (check_image(&src, &channels) < 0 ||
        check_output(&dst, &src, src.shape[1] * (Py_ssize_t)channels) < 0) {
        status = 1;
    } else if (floor_only && channels != 3) {
        PyErr_SetString(PyExc_ValueError, "bandwidth_floor needs a 3-channel image");
        status = 1;
    } else {
        const size_t width = (size_t)src.shape[1], height = (size_t)src.shape[0];
        Py_BEGIN_ALLOW_THREADS;
        status = floor_only
                     ? gray_bandwidth_floor(src.buf, src.strides[0], dst.buf, dst.strides[0],
                                            width, height, threads)
                     : gray_convert(src.buf, src.strides[0], channels, dst.buf, dst.strides[0],
                                    width, height, (gray_order)order, threads, isa);
        Py_END_ALLOW_THREADS;
        if (status < 0)
            PyErr_Format(PyExc_ValueError, "grayscale kernel rejected its arguments (status %d)",
                         status);
    }
    PyBuffer_Release(&dst);
    PyBuffer_Release(&src);
    if (status != GRAY_OK)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *py_convert(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"image", "out", "order", "threads", "isa", NULL};
    PyObject *src, *dst;
    int order = GRAY_ORDER_RGB, threads = 0;
    const char *isa = "auto";
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$iis", keywords, &src, &dst, &order,
                                     &threads, &isa))
        return NULL;
    if (order != GRAY_ORDER_RGB && order != GRAY_ORDER_BGR) {
        PyErr_SetString(PyExc_ValueError, "order must be 0 (RGB) or 1 (BGR)");
        return NULL;
    }
    return run(src, dst, order, threads, isa, 0);
}

static PyObject *py_bandwidth_floor(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"image", "out", "threads", NULL};
    PyObject *src, *dst;
    int threads = 0;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$i", keywords, &src, &dst, &threads))
        return NULL;
    return run(src, dst, GRAY_ORDER_RGB, threads, "auto", 1);
}

static PyObject *py_max_threads(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyLong_FromLong(gray_max_threads());
}

static PyObject *py_effective_threads(PyObject *self, PyObject *args)
{
    Py_ssize_t height, width;
    int threads;
    (void)self;
    if (!PyArg_ParseTuple(args, "nni", &height, &width, &threads))
        return NULL;
    if (height < 0 || width < 0) {
        PyErr_SetString(PyExc_ValueError, "height and width must be >= 0");
        return NULL;
    }
    return PyLong_FromLong(gray_effective_threads((size_t)width, (size_t)height, threads));
}

static PyObject *py_best_isa(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyUnicode_FromString(gray_isa_name(gray_best_isa()));
}

static PyObject *py_supported_isas(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    PyObject *names = PyList_New(0);
    for (int i = GRAY_ISA_SCALAR; names && i <= GRAY_ISA_NEON; ++i) {
        if (!gray_isa_supported((gray_isa)i))
            continue;
        PyObject *name = PyUnicode_FromString(gray_isa_name((gray_isa)i));
        if (!name || PyList_Append(names, name) < 0) {
            Py_XDECREF(name);
            Py_CLEAR(names);
            break;
        }
        Py_DECREF(name);
    }
    return names;
}

static PyMethodDef methods[] = {
    {"convert", (PyCFunction)(void (*)(void))py_convert, METH_VARARGS | METH_KEYWORDS,
     "convert(image, out, *, order=0, threads=0, isa='auto'): uint8 (H, W, 3|4) -> (H, W)."},
    {"bandwidth_floor", (PyCFunction)(void (*)(void))py_bandwidth_floor,
     METH_VARARGS | METH_KEYWORDS,
     "bandwidth_floor(image, out, *, threads=0): read 3N bytes, write N, no colour arithmetic."},
    {"max_threads", py_max_threads, METH_NOARGS, "OpenMP's default team size."},
    {"effective_threads", py_effective_threads, METH_VARARGS,
     "effective_threads(height, width, threads): team size convert() uses (0 = default)."},
    {"best_isa", py_best_isa, METH_NOARGS, "The instruction-set path 'auto' uses on this CPU."},
    {"supported_isas", py_supported_isas, METH_NOARGS, "Paths this CPU can run."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "grayscale_kernel._native",
    .m_doc = "Native RGB(A)/BGR(A) -> gray kernel (see grayscale.h).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__native(void)
{
    return PyModule_Create(&module);
}
