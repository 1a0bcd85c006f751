"""Score LightGBM boosters as native code: the trees become C, compiled once by the system compiler.

:class:`CompiledModel` turns a trained ``lightgbm.Booster`` into one C function per tree
(branch-free QuickScorer bitvectors over blocks of rows, see :func:`_bitvector_tree`, with the
thresholds, missing-value rules and category bitsets folded in as constants; nested
``if``/``else`` for trees of over 64 leaves), compiles it with ``cc -O3`` (and the CPU's x86-64
level) into a shared library cached under the hash of source and flags, and calls it through
:mod:`ctypes` on column arrays, over 2 threads for large batches. Scores equal
``Booster.predict`` bit for bit: the same decisions (see :func:`_numeric_test`), the trees summed
in the same order, the same ``1 / (1 + exp(-s * raw))`` from the C library.

Why our own generator: ``lleaves`` 1.3 fails on the current llvmlite (no ``PassManagerBuilder``),
and treelite + tl2cgen compiled a 200-tree model in minutes and scored no faster than LightGBM
here (see BENCHMARKS.md, "Scoring speed"). Without a compiler, or if compiling fails, the model
falls back to ``Booster.predict`` with a logged warning: slower, never wrong.

>>> import lightgbm as lgb, numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"x": rng.normal(size=500), "k": pd.Categorical(rng.choice(list("abc"), 500))})
>>> y = (X["x"] > 0).astype(int)
>>> booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(X, y), 5)
>>> model = CompiledModel.from_booster(booster)
>>> bool(np.array_equal(model.predict(X), booster.predict(X)))
True
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import math
import os
import platform
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import lightgbm as lgb
    import pandas as pd

logger = logging.getLogger(__name__)

#: Bumped whenever the generated code changes meaning, so old cached libraries are not reused.
GENERATOR_VERSION = "2"
#: LightGBM's ``kZeroThreshold`` (the float ``1e-35f`` widened to double): its "is zero" band.
K_ZERO = 1.0000000180025095e-35
#: Below this many rows one thread is quicker than handing work to a second.
PARALLEL_MIN_ROWS = 20_000
#: Rows scored together, tree by tree: small enough that their values stay in the L2 cache.
BLOCK_ROWS = 128
#: Categorical features past this many 64-bit words of categories (1024) keep their trees as
#: ``if``/``else``: their one-hot words per block would crowd the cache and the stack.
MAX_HOT_WORDS = 16

FloatArray = npt.NDArray[np.float64]


class CompileError(RuntimeError):
    """The C compiler is missing or failed; the model scores through LightGBM instead."""


# -- C generation -------------------------------------------------------------------------------
def _c_double(value: float) -> str:
    # repr round-trips a double exactly; C reads the same digits back to the same bits.
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INFINITY" if value > 0 else "(-INFINITY)"
    return repr(float(value))


def _threshold(node: Mapping[str, Any]) -> float:
    """A numeric split's threshold as ``Booster.predict`` uses it.

    ``dump_model`` writes infinite thresholds as +-1e300 (LightGBM's ``AvoidInf``), where the
    model itself holds inf: a value past 1e300 goes left of the real split, right of the dump's.
    """
    threshold = float(node["threshold"])
    if abs(threshold) == 1e300:
        return math.copysign(math.inf, threshold)
    return threshold


def _numeric_test(node: Mapping[str, Any], value: str) -> str:
    """A C expression, true when LightGBM's ``NumericalDecision`` sends ``value`` left.

    LightGBM: a NaN becomes 0.0 unless the missing type is NaN; then the missing type Zero sends
    values in [-kZero, kZero] (so also NaN) and the type NaN sends NaN to the default side;
    everything else goes left when ``value <= threshold``. Its dense input also reads every value
    within kZero of zero as exactly 0.0, which changes a comparison only when the threshold itself
    lies in that band.
    """
    threshold = _threshold(node)
    t = _c_double(threshold)
    default_left = "1" if node["default_left"] else "0"
    missing = node["missing_type"]
    zero = f"fabs({value}) <= {_c_double(K_ZERO)}"
    if missing == "Zero":
        return f"(({value} != {value} || {zero}) ? {default_left} : ({value} <= {t}))"
    if missing == "NaN":
        in_band = abs(threshold) <= K_ZERO
        compare = (
            f"(({zero}) ? (0.0 <= {t}) : ({value} <= {t}))" if in_band else f"({value} <= {t})"
        )
        return f"(({value} != {value}) ? {default_left} : {compare})"
    if missing != "None":
        raise ValueError(f"unknown missing_type {missing!r} in the LightGBM model")
    nan_left = "1" if threshold >= 0.0 else "0"
    if abs(threshold) <= K_ZERO:
        return f"(({value} != {value} || {zero}) ? {nan_left} : ({value} <= {t}))"
    # NaN compares false: `!(v > t)` sends it left, `v <= t` right, as 0.0 would go.
    return f"(!({value} > {t}))" if nan_left == "1" else f"({value} <= {t})"


def _categorical_test(node: Mapping[str, Any], value: str, bitsets: list[str]) -> str:
    """A C expression, true when LightGBM's ``CategoricalDecision`` sends ``value`` left.

    LightGBM truncates the value to int and sends negatives, NaN (whose cast is INT_MIN on x86)
    and values past int range right; the rest go left when their bit is set. The range test
    below gives the same answers without the undefined cast.
    """
    categories = sorted({int(c) for c in str(node["threshold"]).split("||")})
    words = [0] * (categories[-1] // 32 + 1)
    for c in categories:
        words[c // 32] |= 1 << (c % 32)
    name = f"cats_{len(bitsets)}"
    bitsets.append(
        f"static const uint32_t {name}[{len(words)}] = {{{', '.join(map(str, words))}}};"
    )
    inside = f"({value} > -1.0 && {value} < 2147483648.0)"
    lookup = f"((int){value} < {32 * len(words)} && (({name}[(int){value} >> 5] >> ((int){value} & 31)) & 1u))"
    return f"({inside} && {lookup})"


def _tree_body(node: Mapping[str, Any], bitsets: list[str], indent: str) -> list[str]:
    """Nested ``if``/``else`` for one tree: the fallback for trees of more than 64 leaves."""
    if "split_index" not in node:
        return [f"{indent}o = {_c_double(float(node['leaf_value']))};"]
    value = f"c{int(node['split_feature'])}[r]"
    if node["decision_type"] == "==":
        test = _categorical_test(node, value, bitsets)
    elif node["decision_type"] == "<=":
        test = _numeric_test(node, value)
    else:
        raise ValueError(f"unknown decision_type {node['decision_type']!r} in the LightGBM model")
    return [
        f"{indent}if {test} {{",
        *_tree_body(node["left_child"], bitsets, indent + "    "),
        f"{indent}}} else {{",
        *_tree_body(node["right_child"], bitsets, indent + "    "),
        f"{indent}}}",
    ]


def _used_features(node: Mapping[str, Any], out: set[int]) -> set[int]:
    if "split_index" in node:
        out.add(int(node["split_feature"]))
        _used_features(node["left_child"], out)
        _used_features(node["right_child"], out)
    return out


def _branch_free_numeric(node: Mapping[str, Any], value: str) -> str:
    """:func:`_numeric_test` as one comparison where the missing rules allow (nearly always).

    Every missing type sends NaN one fixed way (``nan_left``) and values within kZero of zero
    another (``zero_left``); the rest go left when ``value <= threshold``. Outside the zero band
    a zero-ish value compares like 0.0, so when ``zero_left`` is ``0.0 <= threshold`` only NaN
    is special, and ``!(v > t)`` (NaN left) or ``v <= t`` (NaN right) says it all.
    """
    threshold = _threshold(node)
    missing = node["missing_type"]
    if missing not in ("None", "Zero", "NaN"):
        raise ValueError(f"unknown missing_type {missing!r} in the LightGBM model")
    default_left = bool(node["default_left"])
    zero_compare = threshold >= 0.0
    nan_left = zero_compare if missing == "None" else default_left
    zero_left = default_left if missing == "Zero" else zero_compare
    t = _c_double(threshold)
    if abs(threshold) > K_ZERO and zero_left == zero_compare:
        return f"!({value} > {t})" if nan_left else f"({value} <= {t})"
    zero = f"(fabs({value}) <= {_c_double(K_ZERO)})"
    plain = f"(({value} <= {t}) & !{zero})"  # false for NaN too
    terms = [plain]
    if nan_left:
        terms.append(f"({value} != {value})")
    if zero_left:
        terms.append(zero)
    return f"({' | '.join(terms)})"


def _leaves(node: Mapping[str, Any], out: list[float]) -> list[float]:
    if "split_index" not in node:
        out.append(float(node["leaf_value"]))
    else:
        _leaves(node["left_child"], out)
        _leaves(node["right_child"], out)
    return out


def _bitvector_nodes(
    node: Mapping[str, Any], first_leaf: int, out: list[tuple[Mapping[str, Any], int, int]]
) -> int:
    """Collect (node, first leaf, end of its left subtree's leaves); return the leaf count."""
    if "split_index" not in node:
        return 1
    left = _bitvector_nodes(node["left_child"], first_leaf, out)
    out.append((node, first_leaf, first_leaf + left))
    return left + _bitvector_nodes(node["right_child"], first_leaf + left, out)


def _bitvector_tree(
    i: int, structure: Mapping[str, Any], cat_words: Mapping[int, int], bitsets: list[str]
) -> str:
    """One tree as QuickScorer bitvectors: every row's mask starts with all leaves alive, each
    false test clears the leaves of its left subtree, and the exit leaf is the lowest bit left.

    No data-dependent branches and no lookups: one loop over the block that the compiler
    vectorises, numeric tests as comparisons, categorical ones as ANDs of the node's category
    bitset with the row's one-hot category words (made once per block).
    """
    leaves = _leaves(structure, [])
    nodes: list[tuple[Mapping[str, Any], int, int]] = []
    _bitvector_nodes(structure, 0, nodes)
    numeric: list[str] = []
    for node, low, high in nodes:
        f = int(node["split_feature"])
        keep = ((1 << 64) - 1) ^ (((1 << (high - low)) - 1) << low)
        if node["decision_type"] == "<=":
            test = _branch_free_numeric(node, f"c{f}[r]")
            numeric.append(f"        m[r] &= ({test}) ? ~0ull : {keep}ull;")
        elif node["decision_type"] == "==":
            # Codes run 0..64*words-1; the spare last code never has its bit set.
            words = [0] * cat_words[f]
            for c in sorted({int(c) for c in str(node["threshold"]).split("||")}):
                words[c // 64] |= 1 << (c % 64)
            hits = [f"(h{f}_{w}[r] & {bits}ull)" for w, bits in enumerate(words) if bits]
            test = f"({' | '.join(hits)}) != 0" if hits else "0"
            numeric.append(f"        m[r] &= ({test}) ? ~0ull : {keep}ull;")
        else:
            raise ValueError(
                f"unknown decision_type {node['decision_type']!r} in the LightGBM model"
            )
    leaf_table = ", ".join(_c_double(v) for v in leaves)
    used = sorted(_used_features(structure, set()))
    loads = [f"    const double* c{f} = cols[{f}];" for f in used]
    loads += [
        f"    const uint64_t* h{f}_{w} = hots[{f}] + {w} * BLOCK;"
        for f in used
        if f in cat_words
        for w in range(cat_words[f])
    ]
    body = [
        f"static void tree_{i}(const double* const* cols, const uint64_t* const* hots,",
        "                   int64_t n, double* acc) {",
        f"    static const double leaves[{len(leaves)}] = {{{leaf_table}}};",
        *loads,
        "    uint64_t m[BLOCK];",
        "    for (int64_t r = 0; r < n; ++r) m[r] = ~0ull;",
    ]
    if numeric:
        body += ["    for (int64_t r = 0; r < n; ++r) {", *numeric, "    }"]
    body += [
        "    for (int64_t r = 0; r < n; ++r) acc[r] += leaves[__builtin_ctzll(m[r])];",
        "    (void)hots;",
        "}",
    ]
    return "\n".join(body)


def _categorical_words(trees: Sequence[Mapping[str, Any]]) -> dict[int, int]:
    """Per categorical feature: 64-bit words enough for every category its splits name, plus
    one spare bit, the code of NaN, negatives and values past the largest named category."""
    top: dict[int, int] = {}

    def walk(node: Mapping[str, Any]) -> None:
        if "split_index" not in node:
            return
        if node["decision_type"] == "==":
            f = int(node["split_feature"])
            largest = max(int(c) for c in str(node["threshold"]).split("||"))
            top[f] = max(top.get(f, 0), largest)
        walk(node["left_child"])
        walk(node["right_child"])

    for tree in trees:
        walk(tree["tree_structure"])
    return {f: (largest + 1) // 64 + 1 for f, largest in top.items()}


def generate_c(model: Mapping[str, Any], n_trees: int) -> str:
    """C source scoring the first ``n_trees`` trees of a ``Booster.dump_model()`` dict.

    It exports ``score_columns(cols, n, out, transform)`` (feature ``f`` of row ``r`` at
    ``cols[f][r]``) and ``score_matrix(x, n, out, transform)`` (a row-major matrix); ``transform``
    applies the objective's sigmoid. Rows go through the trees in blocks of ``BLOCK_ROWS``, one
    tree at a time; trees of up to 64 leaves as bitvectors (:func:`_bitvector_tree`), bigger ones
    (and those splitting on a feature of over ``64 * MAX_HOT_WORDS`` categories) as nested
    ``if``/``else``.
    """
    trees = model["tree_info"][:n_trees]
    cat_words = _categorical_words(trees)
    wide = {f for f, words in cat_words.items() if words > MAX_HOT_WORDS}
    cat_words = {f: words for f, words in cat_words.items() if f not in wide}
    bitsets: list[str] = []
    functions: list[str] = []
    calls: list[str] = []
    for i, tree in enumerate(trees):
        structure = tree["tree_structure"]
        used = sorted(_used_features(structure, set()))
        if len(_leaves(structure, [])) <= 64 and not wide.intersection(used):
            functions.append(_bitvector_tree(i, structure, cat_words, bitsets))
            calls.append(f"            tree_{i}(cols, hots, m, acc);")
            continue
        loads = [f"    const double* c{f} = cols[{f}];" for f in used]
        body = _tree_body(structure, bitsets, "        ")
        functions.append(
            "\n".join(
                [
                    f"static void tree_{i}(const double* const* cols, int64_t n, double* acc) {{",
                    *loads,
                    "    for (int64_t r = 0; r < n; ++r) {",
                    "        double o;",
                    *body,
                    "        acc[r] += o;",
                    "    }",
                    "}",
                ]
            )
        )
        calls.append(f"            tree_{i}(cols, m, acc);")
    # Category codes as LightGBM reads them, one-hot over a feature's words (h[w][r] has bit
    # code % 64 set in word code / 64): NaN, negatives (past -1) and values past every named
    # category get the spare last code, whose bit no split sets.
    code_lines = []
    for f, words in sorted(cat_words.items()):
        spare = 64 * words - 1
        code_lines += [
            "        for (int64_t r = 0; r < m; ++r) {",
            f"            const double v = cols[{f}][r];",
            f"            const uint32_t k = (v > -1.0 && v < {spare}.0) ? (uint32_t)(int32_t)v : "
            f"{spare}u;",
            *[
                f"            hot_{f}[{w} * BLOCK + r] = (k >> 6) == {w} ? 1ull << (k & 63) : 0;"
                for w in range(words)
            ],
            "        }",
            f"        hots[{f}] = hot_{f};",
        ]
    code_arrays = [f"    uint64_t hot_{f}[{w} * BLOCK];" for f, w in sorted(cat_words.items())]
    sigmoid = _sigmoid_scale(str(model.get("objective", "")))
    average = bool(model.get("average_output", False))
    finish = f"acc[i] / {len(trees)}.0" if average else "acc[i]"
    transform = f"1.0 / (1.0 + exp(-{_c_double(sigmoid)} * v))" if sigmoid is not None else "v"
    # Columns are read in place (cols[f] + start); a row-major matrix is copied block by block
    # into columns first, so that every tree reads contiguous values.
    return "\n".join(
        [
            f"/* Generated by lodestar.modeling.compiled_scoring v{GENERATOR_VERSION}. */",
            "#include <math.h>",
            "#include <stdint.h>",
            f"#define N_FEATURES {int(model['max_feature_idx']) + 1}",
            f"#define BLOCK {BLOCK_ROWS}",
            *bitsets,
            *functions,
            "static void score(const double* const* in, int64_t stride, int64_t n,",
            "                  double* out, int transform) {",
            "    const double* cols[N_FEATURES];",
            "    const uint64_t* hots[N_FEATURES] = {0};",
            *code_arrays,
            "    double copy[stride == 1 ? 1 : N_FEATURES * BLOCK];",
            "    for (int64_t start = 0; start < n; start += BLOCK) {",
            "        const int64_t m = n - start < BLOCK ? n - start : BLOCK;",
            "        double acc[BLOCK] = {0};",
            "        for (int f = 0; f < N_FEATURES; ++f) {",
            "            if (stride == 1) {",
            "                cols[f] = in[f] + start;",
            "            } else {",
            "                double* column = copy + f * BLOCK;",
            "                for (int64_t r = 0; r < m; ++r) column[r] = in[f][(start + r) * stride];",
            "                cols[f] = column;",
            "            }",
            "        }",
            *code_lines,
            "        {",
            *calls,
            "        }",
            "        for (int64_t i = 0; i < m; ++i) {",
            f"            const double v = {finish};",
            f"            out[start + i] = transform ? {transform} : v;",
            "        }",
            "    }",
            "}",
            "/* Column arrays: feature f of row r is cols[f][r]. */",
            "void score_columns(const double* const* cols, int64_t n, double* out, int transform) {",
            "    score(cols, 1, n, out, transform);",
            "}",
            "/* A row-major matrix: feature f of row r is x[r * N_FEATURES + f]. */",
            "void score_matrix(const double* x, int64_t n, double* out, int transform) {",
            "    const double* cols[N_FEATURES];",
            "    for (int f = 0; f < N_FEATURES; ++f) cols[f] = x + f;",
            "    score(cols, N_FEATURES, n, out, transform);",
            "}",
            "int n_features(void) { return N_FEATURES; }",
            "",
        ]
    )


def _sigmoid_scale(objective: str) -> float | None:
    """The ``s`` of ``binary sigmoid:s`` (and the other logistic objectives), else None."""
    name = objective.split(" ", maxsplit=1)[0]
    if name not in ("binary", "cross_entropy", "xentropy"):
        if name in ("regression", "regression_l2", "regression_l1", "huber", "fair", "quantile"):
            return None
        raise ValueError(f"CompiledModel scores binary and regression models, not {objective!r}")
    if name != "binary":
        return 1.0
    match = re.search(r"sigmoid:([^\s]+)", objective)
    return float(match.group(1)) if match else 1.0


# -- compiling and loading ------------------------------------------------------------------------
def default_cache_dir() -> Path:
    """Where compiled models are kept: ``$LODESTAR_CACHE_DIR`` or ``~/.cache/lodestar``."""
    root = os.environ.get("LODESTAR_CACHE_DIR") or Path.home() / ".cache" / "lodestar"
    return Path(root) / "compiled_models"


#: CPU flags of the x86-64 micro-architecture levels (as Linux names them in /proc/cpuinfo).
_X86_LEVELS = (
    ("x86-64-v3", {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}),
    ("x86-64-v2", {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"}),
)


def target_flags() -> list[str]:
    """``-march`` for the best x86-64 level this CPU runs, else nothing (the compiler's default).

    The bitvector loops vectorise only with 64-bit lane compares (SSE4.1; AVX2 doubles the
    lanes). A level, not ``-march=native``: the flags are part of the cache key, so a library
    is reused only on a CPU that picks the same level, and always runs there.
    """
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return []
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    match = re.search(r"^flags\s*:(.*)$", text, flags=re.MULTILINE)
    flags = set(match.group(1).split()) if match else set()
    for level, needed in _X86_LEVELS:
        if needed <= flags:
            return [f"-march={level}"]
    return []


def compile_library(source: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Compile ``source`` into a shared library named by its hash; reuse one already built."""
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise CompileError("no C compiler found (set CC or install gcc)")
    # -O3 vectorises the bitvector loops (-O2's cost model does not). No -ffast-math, and no
    # fused multiply-adds (-march levels with FMA would contract by default): either would
    # change the last bits.
    flags = ["-O3", *target_flags(), "-ffp-contract=off"]
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    digest = hashlib.sha256(f"{compiler}\n{' '.join(flags)}\n{source}".encode()).hexdigest()[:32]
    library = folder / f"model_{digest}.so"
    if library.exists():
        return library
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as work:
        c_file = Path(work) / "model.c"
        c_file.write_text(source)
        built = Path(work) / "model.so"
        command = [compiler, *flags, "-shared", "-fPIC", "-o", str(built), str(c_file), "-lm"]
        try:
            done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise CompileError(f"{compiler} could not run: {error}") from error
        if done.returncode != 0:
            raise CompileError(f"{compiler} failed ({done.returncode}): {done.stderr[-2000:]}")
        # Atomic rename: a process reading the cache never sees a half-written library.
        os.replace(built, library)
    return library


def _categorical_indices(model_text: str) -> list[int]:
    """Feature indices LightGBM treats as categorical, from the model's saved parameters."""
    match = re.search(r"^\[categorical_feature: ([^\]]*)\]$", model_text, flags=re.MULTILINE)
    if not match or not match.group(1).strip():
        return []
    return [int(part) for part in match.group(1).split(",")]


class CompiledModel:
    """A LightGBM booster compiled to native code; scores equal ``Booster.predict``.

    Build with :meth:`from_booster`. ``predict`` takes what ``Booster.predict`` takes from a
    pandas frame (columns by name, categoricals as ``category`` with any categories: those unseen
    in training score as missing) and returns the same numbers; ``predict_raw`` takes the numeric
    matrix LightGBM works on; ``predict_row`` scores one customer from a numpy vector without
    pandas. ``compiled`` is False when the model fell back to ``Booster.predict``.
    """

    def __init__(
        self,
        booster: lgb.Booster,
        feature_names: Sequence[str],
        categories: Mapping[str, Sequence[Any]],
        num_iteration: int,
        library: ctypes.CDLL | None,
        n_threads: int,
    ) -> None:
        self.booster = booster
        self.feature_names = list(feature_names)
        self.categories = {name: list(values) for name, values in categories.items()}
        self.num_iteration = num_iteration
        self.n_threads = max(1, n_threads)
        self._library = library
        self._positions = {
            name: {value: float(code) for code, value in enumerate(values)}
            for name, values in self.categories.items()
        }
        if library is not None:
            signature: list[Any] = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int]
            for function in (library.score_columns, library.score_matrix):
                function.restype = None
                function.argtypes = signature
            self._columns_fn = library.score_columns
            self._matrix_fn = library.score_matrix

    @classmethod
    def from_booster(
        cls,
        booster: lgb.Booster,
        feature_names: Sequence[str] | None = None,
        categories: Mapping[str, Sequence[Any]] | None = None,
        *,
        num_iteration: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        n_threads: int = 2,
    ) -> CompiledModel:
        """Compile ``booster`` (its first ``num_iteration`` trees; all by default, or its best).

        ``feature_names`` defaults to the booster's; ``categories`` (column -> the categories in
        training order, whose positions are the codes LightGBM saw) defaults to the booster's
        ``pandas_categorical``, matched in order to its categorical features, as LightGBM does.
        """
        model = booster.dump_model(num_iteration=num_iteration)
        names = list(feature_names) if feature_names is not None else list(model["feature_names"])
        if len(names) != int(model["max_feature_idx"]) + 1:
            raise ValueError(
                f"the booster has {model['max_feature_idx'] + 1} features, not {len(names)}"
            )
        if categories is None:
            indices = _categorical_indices(booster.model_to_string(num_iteration=num_iteration))
            levels = model.get("pandas_categorical") or []
            categories = {names[i]: list(cats) for i, cats in zip(indices, levels, strict=False)}
        if model.get("num_tree_per_iteration", 1) != 1:
            raise ValueError("CompiledModel scores binary and regression models, one tree a round")
        n_trees = len(model["tree_info"])
        library: ctypes.CDLL | None = None
        try:
            if any(tree.get("tree_structure", {}).get("leaf_coeff") for tree in model["tree_info"]):
                raise CompileError("linear trees are not compiled")
            source = generate_c(model, n_trees)
            library = ctypes.CDLL(str(compile_library(source, cache_dir)))
        except (CompileError, OSError) as error:
            logger.warning("Scoring through LightGBM, not compiled code: %s", error)
        return cls(booster, names, categories, n_trees, library, n_threads)

    @property
    def compiled(self) -> bool:
        """Whether scores come from the compiled library (else from ``Booster.predict``)."""
        return self._library is not None

    # -- inputs -------------------------------------------------------------------------------
    def columns(self, frame: pd.DataFrame) -> list[FloatArray]:
        """One float64 array per feature, as LightGBM reads ``frame``: categories as codes."""
        import pandas as pd

        missing = [name for name in self.feature_names if name not in frame.columns]
        if missing:
            raise ValueError(f"the frame lacks the columns {missing} the model was trained on")
        out: list[FloatArray] = []
        for name in self.feature_names:
            series = frame[name]
            if name in self.categories:
                # Codes against the training categories; unseen values and NaN become NaN.
                trained = pd.Index(self.categories[name])
                if isinstance(series.dtype, pd.CategoricalDtype):
                    own = series.cat.codes.to_numpy()
                    lookup = np.append(trained.get_indexer(series.cat.categories), -1)
                    codes = lookup[own]  # own code -1 (missing) picks the appended -1
                else:
                    codes = trained.get_indexer(series)
                column = codes.astype(np.float64)
                column[codes < 0] = np.nan
            else:
                column = np.ascontiguousarray(series.to_numpy(dtype=np.float64, na_value=np.nan))
            out.append(column)
        return out

    def encode_row(self, values: Mapping[str, Any]) -> FloatArray:
        """One customer's features (name -> value; a category as its label) as a numeric row."""
        row = np.empty(len(self.feature_names), dtype=np.float64)
        for i, name in enumerate(self.feature_names):
            value = values.get(name)
            positions = self._positions.get(name)
            if positions is not None:
                row[i] = positions.get(value, math.nan)
            else:
                row[i] = math.nan if value is None else float(value)
        return row

    # -- scoring ------------------------------------------------------------------------------
    def _run(self, call: Any, n: int) -> FloatArray:
        """``call(start, count, out_address)`` over the rows, on up to ``n_threads`` threads."""
        out = np.empty(n, dtype=np.float64)
        base = out.ctypes.data
        threads = min(self.n_threads, max(1, n // PARALLEL_MIN_ROWS))
        if threads == 1:
            call(0, n, base)
            return out
        # ctypes drops the GIL during the call, so plain threads score their slices in parallel.
        chunk = -(-n // threads)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            jobs = [
                pool.submit(call, start, min(chunk, n - start), base + 8 * start)
                for start in range(0, n, chunk)
            ]
            for job in jobs:
                job.result()
        return out

    def _score_columns(self, columns: Sequence[FloatArray], transform: bool) -> FloatArray:
        n = len(columns[0])
        addresses = [column.ctypes.data for column in columns]
        kind = ctypes.c_void_p * len(addresses)

        def call(start: int, count: int, out: int) -> None:
            pointers = kind(*[address + 8 * start for address in addresses])
            self._columns_fn(pointers, count, out, int(transform))

        return self._run(call, n)

    def _score_matrix(self, matrix: npt.ArrayLike, transform: bool) -> FloatArray:
        array = np.ascontiguousarray(matrix, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != len(self.feature_names):
            raise ValueError(
                f"expected a matrix of {len(self.feature_names)} columns, got shape {array.shape}"
            )
        if self._library is None:
            scores = self.booster.predict(
                array, num_iteration=self.num_iteration, raw_score=not transform
            )
            return np.asarray(scores, dtype=np.float64)
        base, row_bytes = array.ctypes.data, 8 * array.shape[1]

        def call(start: int, count: int, out: int) -> None:
            self._matrix_fn(base + row_bytes * start, count, out, int(transform))

        return self._run(call, array.shape[0])

    def predict_raw(self, matrix: npt.ArrayLike) -> FloatArray:
        """Raw scores (log-odds for binary) of a numeric matrix in ``feature_names`` order."""
        return self._score_matrix(matrix, transform=False)

    def predict_matrix(self, matrix: npt.ArrayLike) -> FloatArray:
        """Scores (probabilities for binary) of a numeric matrix in ``feature_names`` order."""
        return self._score_matrix(matrix, transform=True)

    def predict(self, frame: pd.DataFrame) -> FloatArray:
        """What ``Booster.predict(frame)`` returns: the probability of class 1 for binary."""
        if self._library is None:
            ordered = frame[self.feature_names]
            return np.asarray(
                self.booster.predict(ordered, num_iteration=self.num_iteration), dtype=np.float64
            )
        columns = self.columns(frame)
        if not len(frame):
            return np.empty(0, dtype=np.float64)
        return self._score_columns(columns, transform=True)

    def predict_proba(self, frame: pd.DataFrame) -> FloatArray:
        """Probabilities of class 0 and class 1, as scikit-learn classifiers return them."""
        positive = self.predict(frame)
        return np.column_stack([1.0 - positive, positive])

    def predict_row(self, row: FloatArray) -> float:
        """The score of one numeric row (see :meth:`encode_row`): no pandas, no threads."""
        if row.dtype != np.float64 or not row.flags.c_contiguous:
            row = np.ascontiguousarray(row, dtype=np.float64)
        if row.size != len(self.feature_names):
            raise ValueError(f"expected {len(self.feature_names)} values, got {row.size}")
        if self._library is None:
            return float(
                self.booster.predict(row.reshape(1, -1), num_iteration=self.num_iteration)[0]
            )
        out = np.empty(1, dtype=np.float64)
        self._matrix_fn(row.ctypes.data, 1, out.ctypes.data, 1)
        return float(out[0])
