"""C extension build: -O3 and OpenMP, no -march (AVX2/AVX-512/NEON are picked at run time)."""

from __future__ import annotations

import os

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = [
    "module.c",
    "grayscale.c",
    "gray_rows_scalar.c",
    "gray_rows_avx2.c",
    "gray_rows_avx512.c",
    "gray_rows_neon.c",
]

setup(
    ext_modules=[
        Extension(
            "grayscale_kernel._native",
            sources=[os.path.join("src", name) for name in SOURCES],
            include_dirs=[os.path.join(HERE, "include")],
            extra_compile_args=["-O3", "-fopenmp", "-std=gnu11", "-Wall", "-Wextra"],
            extra_link_args=["-fopenmp"],
        )
    ],
)
