"""The C gray kernel as the arm64 (Graviton) tasks run it: cross-built with Debian's
gcc-aarch64-linux-gnu and run under qemu-aarch64-static, the NEON path and the portable path are
bit-exact on all 2^24 colours in every layout, and give the same bytes as the host's (x86) build.

The driver is native/tests/bitexact.c. `make integration` installs the two tools first
(`make arm64-tools`); without them this test fails rather than skips. qemu proves correctness
only: it says nothing about arm64 speed.
"""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NATIVE = ROOT / "native"
# The library's C sources (not module.c, the CPython binding) and the driver; -O3 as setup.py.
SOURCES = [
    NATIVE / "tests" / "bitexact.c",
    NATIVE / "src" / "grayscale.c",
    *sorted((NATIVE / "src").glob("gray_rows_*.c")),
]
FLAGS = ["-O3", "-std=gnu11", "-Wall", "-Wextra", "-Werror"]
INCLUDES = [f"-I{NATIVE / 'include'}", f"-I{NATIVE / 'src'}"]
CROSS_CC = "aarch64-linux-gnu-gcc"
QEMU = "qemu-aarch64-static"
LAYOUTS = ["RGB", "BGR", "RGBA", "BGRA"]


@dataclass
class Run:
    """What one run of the driver reported (see the comment at the top of bitexact.c)."""

    facts: dict[str, str] = field(default_factory=dict)
    layouts: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    widths: dict[str, int] = field(default_factory=dict)
    bounds: dict[str, str] = field(default_factory=dict)
    colours: str = ""  # hash of the formula's 2^24 outputs, computed by the driver itself
    output: str = ""


def parse(output: str) -> Run:
    run = Run(output=output)
    for line in output.splitlines():
        words = line.split()
        if words[:1] == ["layout"]:  # layout L isa I mismatches N fnv1a64 H
            run.layouts[(words[1], words[3])] = (int(words[5]), words[7])
        elif words[:2] == ["widths", "isa"]:  # widths isa I mismatches N
            run.widths[words[2]] = int(words[4])
        elif words[:2] == ["bounds", "isa"]:  # bounds isa I ok
            run.bounds[words[2]] = words[3]
        elif words[:2] == ["colours", "fnv1a64"]:  # colours fnv1a64 H
            run.colours = words[2]
        elif words:
            run.facts[words[0]] = " ".join(words[1:])
    return run


def build_and_run(compiler: list[str], runner: list[str], target: Path) -> Run:
    subprocess.run(
        [*compiler, *FLAGS, *INCLUDES, *map(str, SOURCES), "-o", str(target)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    done = subprocess.run(
        [*runner, str(target)], capture_output=True, text=True, timeout=180, check=False
    )
    run = parse(done.stdout)
    assert done.returncode == 0, f"{target.name} failed:\n{done.stdout}\n{done.stderr}"
    return run


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: run `make arm64-tools` (Debian packages)")
    return path


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The reference: the same driver built for this machine (x86-64 in CI and locally)."""
    cc = shutil.which("gcc") or tool("cc")
    return build_and_run([cc], [], tmp_path_factory.mktemp("host") / "bitexact-host")


@pytest.fixture(scope="module")
def arm64(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Static, so that qemu needs no arm64 sysroot."""
    compiler, emulator = tool(CROSS_CC), tool(QEMU)
    target = tmp_path_factory.mktemp("arm64") / "bitexact-aarch64"
    return build_and_run([compiler, "-static"], [emulator], target)


def test_the_arm64_build_picks_the_neon_path(arm64: Run) -> None:
    # Given the kernel cross-built for arm64, under qemu
    # When it reports its dispatch
    # Then it is an AArch64 build whose automatic choice is NEON, with the portable path beside it
    assert arm64.facts["arch"] == "aarch64"
    assert arm64.facts["best"] == "neon"
    assert arm64.facts["isas"].split() == ["scalar", "neon"]


@pytest.mark.parametrize("isa", ["neon", "scalar"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_colour_is_bit_exact_on_arm64(arm64: Run, host: Run, layout: str, isa: str) -> None:
    # Given all 2^24 colours in this layout, converted on this arm64 path
    mismatches, digest = arm64.layouts[(layout, isa)]

    # Then every byte equals the formula, and the whole output hashes like the host build's
    assert mismatches == 0, arm64.output
    assert digest == arm64.colours == host.colours


def test_every_row_width_and_stride_is_bit_exact_on_arm64(arm64: Run) -> None:
    # Given rows of every width 1..200 (vector bodies, overlapping last blocks, short rows),
    # padded and flipped strides, both orders and channel counts, on each arm64 path, and rows
    # that end where an unmapped page begins
    # Then none differs from the formula, padding is never written, nothing outside a row is
    # touched (the driver would have crashed), and the bandwidth floor stays inside its rows
    assert arm64.widths == {"scalar": 0, "neon": 0}, arm64.output
    assert arm64.bounds == {"scalar": "ok", "neon": "ok"}, arm64.output
    assert arm64.facts["floor"] == "mismatches 0"
    assert arm64.facts["result"] == "OK"


def test_the_host_build_agrees_on_its_own_paths(host: Run) -> None:
    # Given the reference build's own paths (scalar, and AVX2/AVX-512 where the CPU has them)
    # Then each is exact on every layout, so the shared hash is the formula's
    assert host.facts["result"] == "OK", host.output
    assert {layout for layout, _ in host.layouts} == set(LAYOUTS)
    assert all(mismatches == 0 for mismatches, _ in host.layouts.values())


def test_the_python_extension_compiles_for_arm64(tmp_path: Path) -> None:
    # Given every C source setup.py builds, the CPython binding included, with its flags (OpenMP
    # too; this machine's Python headers, which are the same on both 64-bit Linux targets)
    compiler = tool(CROSS_CC)
    include = sysconfig.get_paths()["include"]

    # When each is compiled for aarch64, warnings as errors
    flags = ["-O3", "-fopenmp", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-fPIC"]
    for source in sorted((NATIVE / "src").glob("*.c")):
        done = subprocess.run(
            [compiler, *flags, *INCLUDES, f"-I{include}", "-c", str(source), "-o", f"{tmp_path}/o"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

        # Then it compiles (the arm64 image's `pip install` builds the same files)
        assert done.returncode == 0, f"{source.name}:\n{done.stderr}"
