"""2-D convolution and transposed convolution (NCHW, PyTorch weight layouts).

conv2d by im2col + one GEMM (im2col/col2im are the kernels package's: a Numba kernel on the
CPU, a CuPy kernel on the GPU, the array reference elsewhere). With K = C_in·kH·kW and
L = N·H_out·W_out,

    cols = im2col(x)                  (K, L)     column (n, ho, wo) holds the patch under it
    y    = W₂ cols                    (C_out, L) W₂ = w.reshape(C_out, K), then to NCHW

and the three adjoints are one GEMM each:

    ∂L/∂x = col2im(W₂ᵀ g₂)            = conv_transpose2d(g, w)          g₂ = g as (C_out, L)
    ∂L/∂w = g₂ colsᵀ                  = weight_grad(x, g)  (a Function of its own)
    ∂L/∂b = Σ_{n,h,w} g

conv_transpose2d(x, w) is the adjoint of conv2d(·, w) with respect to its input (same weight
array: (C_in, C_out, kH, kW) for the transpose is (C_out', C_in', kH, kW) for the conv), so

    conv_transpose2d:  y = col2im(W₂ᵀ x₂),  ∂L/∂x = conv2d(g, w),  ∂L/∂w = weight_grad(g, x).

On the CPU (Numba kernels) the GEMMs run on Winograd-transformed tiles where that measured
faster ("Winograd" below): a 3×3 stride-1 conv2d as F(4×4, 3×3) on outputs of 7+ per side
(tinygen.kernels.winograd4: 36 GEMMs on 6×6 tiles, 4× fewer multiply-adds), else as F(2×2, 3×3)
with 16+ channels (tinygen.kernels.winograd: 16 GEMMs on 4×4 tiles, 2.25× fewer); a 4×4
stride-2 conv2d or conv_transpose2d with 16+ channels as F(4×4, 2×2) on the space-to-depth input
(tinygen.kernels.winograd_s2). The rules and their measurements are with the code below.
Double backward still goes through the ops above.

Double backward (WGAN-GP penalties through convolutional critics): the three ops — Conv2d,
ConvTranspose2d, Conv2dWeightGrad — have backwards written with each other's ``apply``
(under create_graph) or array functions (fast path), so every derivative is again made of
convolutions. weight_grad(x, g) is bilinear; its adjoints are
    ∂/∂x ⟨G, weight_grad(x, g)⟩ = conv_transpose2d(g, G),   ∂/∂g = conv2d(x, G).

On the CPU (fast path, Numba kernels) the batch is processed in chunks of images on tinygen's
worker threads (see "batch chunks" below); chunks of 8+ images with 64+ column rows use the
batch-minor column order (column (ho, wo, n)), whose im2col/col2im kernels vectorise; the
GEMMs are unchanged and the NCHW ↔ column-order transposes (with the bias add) are single
passes. The weight-gradient GEMM is computed as cols · g₂ᵀ (K, C_out) when K ≥ C_out (the
faster orientation), and ConvTranspose2d's two gradients share one im2col(g).
"""
from __future__ import annotations

import threading

from .. import backend
from ..kernels import col2im, im2col, select_impl
from ..kernels import winograd, winograd4, winograd_s2
from ..parallel import map_chunks, matmul as _pmatmul, split_evenly
from . import grad_mode
from .dual import is_tensor
from .function import Function


# --------------------------------------------------------------------------- arguments
def pair(v, name, op, minimum=0):
    """An int or a pair of ints → (h, w), checked to be ≥ ``minimum``."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
        h, w = v
    else:
        h = w = v
    try:
        h, w = int(h), int(w)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}") from None
    if h < minimum or w < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {v!r}")
    return h, w


def conv_out_size(size, k, s, p):
    return (size + 2 * p - k) // s + 1


# --------------------------------------------------------------------------- batch chunks
# On the CPU the batch is processed in chunks of images and the chunks run side by side on
# tinygen's worker threads (tinygen.parallel: one BLAS thread and serial Numba kernels per chunk,
# so no two thread pools spin against each other). A chunk has a power of two of images, at most
# _CHUNK_IMAGES, halved until its columns take at most _CHUNK_BYTES (they then stay in the
# caches between im2col and the GEMMs), and the batch is cut into an even number of chunks (two
# or four threads get equal shares). The chunks depend on the shapes only, never on the thread
# count, and weight-gradient partial sums are added in chunk order: results are the same for any
# number of threads. Measured on 2 cores, fwd+bwd on 64 images: conv2d 64→64 3×3 on 14×14 22.8 ms
# as one chunk with 2-thread BLAS, 13.6 ms in chunks of 16 on 2 workers, ~11.9 → ~10.9 ms in
# chunks of 8 (3.6 MB of columns instead of 7.2 MB); chunks of 9-10 images (7 chunks, 4 + 3 per
# thread) gave no gain. Elsewhere (CuPy, the reference kernels) the whole batch is one chunk.
_CHUNK_IMAGES = 16
_CHUNK_BYTES = 4 << 20
_MIN_CHUNK_COLS = 256
_KEEP_COLS_BYTES = 64 << 20      # Conv2d keeps its forward columns for backward up to this size


def _chunks(n, per_image, l, itemsize, impl, budget_scale=1, images=None):
    """[(n0, n1), ...] covering range(n) (at least one, possibly empty, chunk), sizes within one."""
    if impl != "numba" or n <= 1:
        return [(0, n)]
    nb = images or _CHUNK_IMAGES
    while nb > 1 and nb * per_image * itemsize > budget_scale * _CHUNK_BYTES:
        nb //= 2
    nb = max(nb, -(-_MIN_CHUNK_COLS // max(l, 1)))
    if nb >= n:
        return [(0, n)]
    k = n // nb                              # chunks of at least nb images each...
    if k % 2 and k < n:
        k += 1                               # ...or one more, for an even count
    return split_evenly(n, k)


# Chunks of at least this many images use the batch-minor column order (image index last) on
# the CPU: its im2col/col2im kernels copy long runs and vectorise (1.5-4x faster, see
# tinygen.kernels.conv); the GEMMs are the same, only the NCHW ↔ columns transposes change.
# Those transposes gather with a stride of the chunk's image count, so for thin column matrices
# (fewer than _BATCH_MINOR_MIN_ROWS rows K = C·kH·kW: the im2col/col2im is small) they cost more
# than the faster im2col saves, and the (n, h, w) order is used. Measured fwd+bwd on 64 images,
# 2 threads, interleaved (batch-minor → (n, h, w) order): conv2d 1→64 4/2/1 on 28×28 (K = 16)
# 1.40 → 1.06 ms, conv_transpose2d 64→1 4/2/1 on 14×14 (K = 16) 2.41 → 1.62 ms; but conv2d
# 64→128 4/2/1 (K = 1024) 9.88 → 10.73, conv_transpose2d 128→64 (K = 1024) 9.81 → 10.66.
_BATCH_MINOR_MIN = 8
_BATCH_MINOR_MIN_ROWS = 64


def _batch_minor(nb, impl, k):
    return impl == "numba" and nb >= _BATCH_MINOR_MIN and k >= _BATCH_MINOR_MIN_ROWS


_scratch_local = threading.local()
_SCRATCH_MAX_BYTES = 32 << 20          # (a chunk of one large image can exceed _CHUNK_BYTES)


def _scratch(xp, shape, dtype, role):
    """A per-thread reusable host buffer for a chunk's temporaries (columns, GEMM outputs): a fresh
    multi-MB array on every call costs its page faults again. Device arrays and very large ones
    are allocated normally."""
    size = 1
    for d in shape:
        size *= d
    dtype = backend.numpy.dtype(dtype)
    if xp is not backend.numpy or size * dtype.itemsize > _SCRATCH_MAX_BYTES:
        return xp.empty(shape, dtype=dtype)
    bufs = getattr(_scratch_local, "bufs", None)
    if bufs is None:
        bufs = _scratch_local.bufs = {}
    buf = bufs.get((role, dtype))
    if buf is None or buf.size < size:
        buf = bufs[(role, dtype)] = xp.empty(size, dtype=dtype)
    return buf[:size].reshape(shape)


# Columns a Conv2d forward keeps for its backward come from this pool and go back to it when the
# engine releases the node after backward, so the next step reuses them instead of page-faulting
# fresh tens of MB (a 64-image 3×3 conv: im2col 5.8 → ~2.5 ms per step on one thread).
_POOL_MAX_BYTES = 256 << 20
_pool = {"bufs": {}, "bytes": 0}
_pool_lock = threading.Lock()


def _pooled_cols(xp, shape, dtype):
    size = shape[0] * shape[1]
    dtype = backend.numpy.dtype(dtype)
    if xp is backend.numpy:
        with _pool_lock:
            free = _pool["bufs"].get((size, dtype))
            if free:
                _pool["bytes"] -= size * dtype.itemsize
                return free.pop().reshape(shape)
    return xp.empty(shape, dtype=dtype)


def _recycle_cols(kept):
    """Give the columns (or kept Winograd V) of a released Conv2d node back to the pool (host
    arrays only)."""
    for c in (kept.flats if isinstance(kept, _KeptV) else kept[1]):
        if type(c) is not backend.numpy.ndarray:
            return
        root = c if c.base is None else c.base
        if type(root) is not backend.numpy.ndarray or root.size != c.size or not c.flags.c_contiguous:
            continue
        with _pool_lock:
            if _pool["bytes"] + root.nbytes > _POOL_MAX_BYTES:
                return
            _pool["bufs"].setdefault((root.size, root.dtype), []).append(root.reshape(-1))
            _pool["bytes"] += root.nbytes


def _to_cols_order(a, bm, xp, out=None):
    """(nb, C, H, W) → (C, nb·H·W) contiguous, columns in (n, h, w) order, or (h, w, n) if ``bm``."""
    nb, c, h, w = a.shape
    a3 = a.reshape(nb, c, h * w)
    src = a3.transpose(1, 2, 0) if bm else a3.transpose(1, 0, 2)
    if out is None:
        return xp.ascontiguousarray(src).reshape(c, nb * h * w)
    out.reshape(src.shape)[...] = src
    return out


def _from_cols_order(y2, dst, bias, bm, xp):
    """dst (nb, R, L) ← y2 (R, nb·L) in (n, l) order, or (l, n) if ``bm``; plus ``bias`` (R,)."""
    nb, r, l = dst.shape
    src = y2.reshape(r, l, nb).transpose(2, 0, 1) if bm else y2.reshape(r, nb, l).transpose(1, 0, 2)
    if bias is None:
        dst[...] = src
    else:
        xp.add(src, bias.reshape(1, r, 1), out=dst)


def _weight_gemm(cols, o2):
    """cols · o2ᵀ (K, S), faster with the larger of K and S as its output rows (measured: 6.4 vs
    8.4 ms for K=576, S=64; 0.25 vs 0.45 ms for K=16, S=64)."""
    return cols @ o2.T if cols.shape[0] >= o2.shape[0] else (o2 @ cols.T).T


def _sum_in_order(parts):
    """Σ parts in their order (the chunks' weight-gradient GEMM outputs, fresh arrays of this
    module: added in place into the first; a copy and a new array per addition cost 0.5 ms
    for two 3.3 MB parts)."""
    acc = None
    for p in parts:
        if p is not None:
            if acc is None:
                acc = p
            else:
                acc += p
    return acc


def _unfold_pass(src, kernel_size, stride, padding, w2=None, bias=None, other=None, kept=None,
                 keep_cols=False):
    """One pass of im2col(src) over batch chunks, feeding up to two GEMMs per chunk:

    * ``w2`` (R, K): y = w2 · cols, laid out as NCHW (N, R, OH, OW), plus ``bias`` (R,);
    * ``other`` (N, S, OH, OW): accT = Σ_chunks cols · other₂ᵀ, shape (K, S) (a weight gradient,
      transposed; possibly a transposed view).

    ``kept``: ``(chunks, [columns of each chunk])`` that a forward kept (then no im2col).
    Returns (y, accT, kept) with kept = that pair for this pass if ``keep_cols``, else None.
    """
    xp = backend.get_array_module(src)
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    n, c, h, wd = src.shape
    ho, wo = conv_out_size(h, kh, sh, ph), conv_out_size(wd, kw, sw, pw)
    l, k = ho * wo, c * kh * kw
    impl = select_impl(src)[0]
    chunks = kept[0] if kept is not None else _chunks(n, k * l, l, src.dtype.itemsize, impl)
    y = None
    if w2 is not None:
        y = xp.empty((n, w2.shape[0], ho, wo), dtype=xp.result_type(w2.dtype, src.dtype))

    def one(i):
        n0, n1 = chunks[i]
        nb = n1 - n0
        bm = _batch_minor(nb, impl, k)
        if kept is not None:
            cols = kept[1][i]
        else:
            if impl != "numba":
                out = None
            elif keep_cols:
                out = _pooled_cols(xp, (k, nb * l), src.dtype)
            else:
                out = _scratch(xp, (k, nb * l), src.dtype, "cols")
            cols = im2col(src[n0:n1], kh, kw, (sh, sw), (ph, pw), out=out, batch_minor=bm)
        if w2 is not None:
            y2 = w2 @ cols
            _from_cols_order(y2, y[n0:n1].reshape(nb, w2.shape[0], l), bias, bm, xp)
        part = None
        if other is not None:
            part = _weight_gemm(cols, _to_cols_order(other[n0:n1], bm, xp))
        return part, (cols if keep_cols else None)

    results = map_chunks(one, range(len(chunks)))
    acc = _sum_in_order([r[0] for r in results]) if other is not None else None
    return y, acc, ((chunks, [r[1] for r in results]) if keep_cols else None)


def _fold_pass(src, w2t, out_shape, kernel_size, stride, padding, bias=None):
    """y = col2im(w2t · src₂) + bias over batch chunks: src (N, S, H, W) with (H, W) the column
    grid, w2t (K, S) with K = C·kh·kw, y of ``out_shape`` (N, C, OH, OW)."""
    xp = backend.get_array_module(src)
    n, _, h, wd = src.shape
    l, k = h * wd, w2t.shape[0]
    impl = select_impl(src)[0]
    chunks = _chunks(n, k * l, l, src.dtype.itemsize, impl)
    y = xp.empty(tuple(out_shape), dtype=xp.result_type(w2t.dtype, src.dtype))

    def one(bounds):
        n0, n1 = bounds
        _fold_chunk(src[n0:n1], w2t, y[n0:n1], kernel_size, stride, padding, impl, xp)
        if bias is not None:
            y[n0:n1] += bias.reshape(1, -1, 1, 1)

    map_chunks(one, chunks)
    return y


def _fold_chunk(src, w2t, dst, kernel_size, stride, padding, impl, xp, src2=None):
    """dst ← col2im(w2t · src₂) for one chunk (src₂: src in column order, computed if not given)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    nb, _, h, wd = src.shape
    bm = _batch_minor(nb, impl, w2t.shape[0])
    if src2 is None:
        src2 = _to_cols_order(src, bm, xp)
    if impl == "numba":
        cg = xp.matmul(w2t, src2, out=_scratch(xp, (w2t.shape[0], src2.shape[1]), dst.dtype, "fold"))
    else:
        cg = w2t @ src2
    col2im(cg, tuple(dst.shape), kh, kw, (sh, sw), (ph, pw), out=dst, batch_minor=bm)


# --------------------------------------------------------------------------- Winograd
# F(2×2, 3×3): a 3×3 stride-1 convolution on the CPU (Numba kernels) as 16 GEMMs on transformed
# tiles (tinygen.kernels.winograd): 2.25× fewer multiply-adds than im2col's GEMM, for transforms
# that write 4 values per input value (im2col writes 9). Same batch chunks and worker threads
# as im2col; weight-gradient partial sums are added in chunk order. Measured fwd+bwd on 64
# images, 2 threads, interleaved (ms, im2col → Winograd): 64→64 on 14×14 13.9 → 13.4 (on a
# quieter machine 11.0 → 10.3, and 17.6 → 15.0 on one thread), 32→32 14×14 5.3 → 4.6,
# 16→16 28×28 7.7 → 7.2, 64→64 8×8 5.6 → 5.2, 10×10 8.1 → 7.4, 128→128 14×14 46.9 → 34.6,
# 256→256 8×8 (32 images) 25.7 → 17.1; but 64→64 7×7 3.8 → 4.6 (the 8×8 of tiles computes
# 31 % more outputs than it keeps), 1→32 28×28 3.4 → 10.7, 3→32 4.7 → 7.3 (thin GEMMs). Hence:
# at least _WINOGRAD_MIN_CHANNELS input and output channels and at most _WINOGRAD_MAX_WASTE more
# tile outputs than real ones (F(4×4, 3×3) below now takes most of these layers).
_WINOGRAD_MIN_CHANNELS = 16
_WINOGRAD_MAX_WASTE = 1.25
# ...and at least 3×3 of its tiles per image: on a 4×4 output (2×2 tiles) F(2×2, 3×3) took
# 2.3 ms against im2col's 1.2 (64→64, 64 images, 2 threads), on 6×6 (3×3 tiles) 1.9 vs 2.1.
_WINOGRAD_MIN_TILES = 9
# F(4×4, 3×3) (tinygen.kernels.winograd4: 36 GEMMs on 6×6 tiles, 4× fewer multiply-adds than
# im2col) where each image has at least 2×2 of its tiles, and they waste at most 50 % (a 7×7
# output under 8×8 of tiles wastes 31 %). Measured fwd+bwd on 64 images, 2 threads, in turns
# (benchmarks/conv_algorithms.py; ms, im2col / F(2×2) / F(4×4)): 64→64 14×14 11.8 / 10.8 / 8.7,
# 32→32 28×28 19.3 / 14.4 / 8.1, 64→64 16×16 18.5 / 13.6 / 8.4, 128→128 14×14 41.6 / 28.9 /
# 21.8, 64→64 10×10 5.7 / 4.7 / 4.1, 8×8 4.0 / 3.5 / 2.5, 7×7 2.7 / 3.0 / 2.2, 128→128 7×7
# 9.6 / 9.6 / 7.2; but 64→64 6×6 2.1 / 1.9 / 2.1 (2×2 tiles wasting 78 %), 5×5 1.7 / 1.8 / 2.0
# and 4×4 1.2 / 2.3 / 1.6 (one tile per image: GEMMs too narrow).
_WINOGRAD4_MIN_TILES = 2
_WINOGRAD4_MAX_WASTE = 1.5
# Unlike F(2×2, 3×3) it pays with few channels too, from 2 input channels and 64 input
# channel-tiles per image (ms, im2col / F(4×4)): 32→1 on 28×28 17.8 / 5.2 (a decoder's last
# layer: im2col's one-row GEMM is slow), 32→3 13.5 / 4.1, 8→8 2.5 / 1.3, 4→4 2.6 / 1.1, 2→16
# 2.0 / 1.4, 3→32 4.2 / 3.4, 16→4 on 14×14 1.0 / 0.9, 16→16 on 8×8 0.85 / 0.79; but 1→32 on
# 28×28 2.5 / 4.5, and 8→8 on 14×14 0.73 / 0.77 (about even).
_WINOGRAD4_MIN_CHANNELS = 2
_WINOGRAD4_MIN_WORK = 64
# 4×4 stride-2 layers (DCGAN's) as F(4×4, 2×2) on the space-to-depth input
# (tinygen.kernels.winograd_s2): 25 GEMMs over 4·C_in phase channels, 25/64 of im2col's
# multiply-adds on whole tiles (51 % on a 7×7 output, whose 8×8 of tiles wastes 31 %); a
# conv_transpose2d, the adjoint of a conv2d, runs on the same transforms with their roles
# swapped. Measured fwd+bwd on 64 images, in turns (ms, im2col → Winograd): conv2d 64→128 on
# 14×14, one thread 18.5 → 14.6, two 8.5 → 8.2 (its serial weight transforms and
# weight-gradient sum take ~0.7 ms more); conv_transpose2d 128→64 on 7×7 (keeping dM of its
# input for the weight gradient), one thread 14.6 → 12.0, two 8.7 → 8.2; the DCGAN step 49.7 →
# 46.8 and 49.4 → 45.9 with the conv2d (two threads), 79.0 → 71.4 (one), then 46.3 → 46.1
# with the transposed one too. Small outputs keep im2col: below 2×2 tiles per image, or 256
# input channel-tiles per image, the GEMMs are too narrow (2 threads, 64 images, ms, im2col →
# Winograd: 32→64 8×8 → 4×4 1.3 → 2.0, 32→64 16×16 → 8×8 3.8 → 4.3; but 64→128 16×16 → 8×8
# 11.6 → 10.9, 16→32 28×28 → 14×14 4.0 → 3.3, 32→64 28×28 11.1 → 10.2, 64→64 32×32 → 16×16
# 33.0 → 22.7).
_WINOGRAD_S2_MAX_WASTE = 1.35
_WINOGRAD_S2_MIN_TILES = 4
_WINOGRAD_S2_MIN_WORK = 256
_WINOGRAD_KEEP_V = (winograd_s2, winograd4)


def _transformed_bytes(wg, channels, n, conv_in_hw, padding, dtype):
    """Bytes of a transformed array (V, or dM) of ``n`` images for a convolution whose input is
    ``conv_in_hw`` (H, W): planes × channels × tiles."""
    _, _, th, tw = wg.tiles(conv_in_hw[0], conv_in_hw[1], *padding)
    return wg.PLANES * channels * th * tw * n * backend.numpy.dtype(dtype).itemsize


def _winograd_module(hw, c_in, c_out, kernel_hw, stride, padding, impl, same_dtype=True):
    """The Winograd module for a convolution of an input of size ``hw`` (H, W) from ``c_in`` to
    ``c_out`` channels with this kernel size, stride and padding, or None for im2col."""
    if not (impl == "numba" and same_dtype):
        return None
    (kh, kw), (sh, sw) = tuple(kernel_hw), tuple(stride)
    oh, ow = conv_out_size(hw[0], kh, sh, padding[0]), conv_out_size(hw[1], kw, sw, padding[1])
    if oh < 1 or ow < 1:
        return None
    wide = min(c_in, c_out) >= _WINOGRAD_MIN_CHANNELS
    if kh == kw == 3 and sh == sw == 1:
        th4, tw4 = -(-oh // 4), -(-ow // 4)
        if (c_in >= _WINOGRAD4_MIN_CHANNELS and c_in * th4 * tw4 >= _WINOGRAD4_MIN_WORK
                and min(th4, tw4) >= _WINOGRAD4_MIN_TILES and 16 * th4 * tw4 <= _WINOGRAD4_MAX_WASTE * oh * ow):
            return winograd4
        if (wide and -(-oh // 2) * -(-ow // 2) >= _WINOGRAD_MIN_TILES
                and (oh + oh % 2) * (ow + ow % 2) <= _WINOGRAD_MAX_WASTE * oh * ow):
            return winograd
    elif kh == kw == 4 and sh == sw == 2 and wide:
        tiles = -(-oh // 4) * -(-ow // 4)
        if (tiles >= _WINOGRAD_S2_MIN_TILES and c_in * tiles >= _WINOGRAD_S2_MIN_WORK
                and 16 * tiles <= _WINOGRAD_S2_MAX_WASTE * oh * ow):
            return winograd_s2
    return None


def _use_winograd(x, w, stride, padding, impl):
    """The Winograd module conv2d(x, w) runs on (winograd4, winograd or winograd_s2), or None."""
    return _winograd_module(x.shape[2:], w.shape[1], w.shape[0], w.shape[2:], stride, padding, impl,
                            x.dtype == w.dtype)


def _winograd_chunks(n, c, th, tw, dtype, wg):
    """Batch chunks for a Winograd pass whose convolution input has ``c`` channels.

    F(4×4, 3×3) and the stride-2 F(4×4, 2×2) keep chunks of 16 (stride 2: 32) images up to twice
    the bytes: their GEMMs are narrower per image (fwd+bwd, 2 threads, 64 images: 3×3 on 14×14,
    chunks of 8 → 16 images, 128 channels 28.6 → 25.6 ms, 64 channels 8.8 → 8.3 ms; 64→128
    4/2/1 on 14×14, chunks of 8 / 16 / 32 images, 9.7 / 8.2 / 7.3 ms). The minimum counts
    outputs, a 4×4 tile being worth four 2×2 ones (counting tiles made a 7×7 output's batch one
    chunk, on one thread)."""
    per_image = wg.PLANES * wg.PHASES * c * th * tw
    per_tile = wg.TILE * wg.TILE // 4
    if wg is winograd:
        return _chunks(n, per_image, th * tw, dtype.itemsize, "numba")
    return _chunks(n, per_image, th * tw * per_tile, dtype.itemsize, "numba", budget_scale=2,
                   images=32 if wg is winograd_s2 else 16)


def _transformed_scratch(wg, c, t, dtype, role):
    return wg.transformed_empty(c, t, dtype, alloc=lambda size: _scratch(backend.numpy, (size,), dtype, role))


def _transformed_pooled(wg, c, t, dtype):
    """(a transformed array to keep for the backward, the flat pooled buffer behind it)."""
    flat = []

    def alloc(size):
        flat.append(_pooled_cols(backend.numpy, (1, size), dtype).reshape(size))
        return flat[0]
    return wg.transformed_empty(c, t, dtype, alloc=alloc), flat[0]


def _transformed_kept(wg, c, t, dtype, flat):
    """The transformed array a forward kept in the flat buffer ``flat``."""
    return wg.transformed_empty(c, t, dtype, alloc=lambda size: flat[:size])


class _KeptV:
    """What a Winograd forward keeps for its weight gradient, so that backward does not transform
    its input again: per batch chunk one flat pooled buffer holding V (conv2d; dU = dM Vᵀ) or
    dM of x (conv_transpose2d), plus the chunks, the module and the weights' transform U."""
    __slots__ = ("chunks", "flats", "wg", "u")

    def __init__(self, chunks, flats, wg, u):
        self.chunks, self.flats, self.wg, self.u = chunks, flats, wg, u      # (u: the weights' U)


def _keeps_v(wg):
    """Whether a Winograd forward keeps V for backward rather than transforming x again: yes for
    the stride-2 layers, whose input transform costs the most (64→128 4/2/1 on 14×14, 64 images,
    one thread: 1.5 ms of ~14), and for F(4×4, 3×3) (64→64 on 14×14, fwd+bwd, in turns: 2 threads
    10.4 → 9.4 and 8.1 → 7.3 ms, one thread 14.8 → 14.0); not for F(2×2, 3×3), whose 4× larger
    V costs more to write and read back than to recompute (14.5 ms transformed again, 14.7 kept)."""
    return wg in _WINOGRAD_KEEP_V


def _winograd_forward(x, w, b, padding, wg=winograd, keep=False):
    """y = conv2d(x, w, padding) + b: per chunk V = input transform, M[p] = U[p] V[p], y = output
    transform of M. With ``keep``, (y, :class:`_KeptV`)."""
    xp = backend.numpy
    n, c, h, wd = x.shape
    k = w.shape[0]
    ph, pw = padding
    oh, ow, th, tw = wg.tiles(h, wd, ph, pw)
    u = wg.weight_transform(w)
    y = xp.empty((n, k, oh, ow), dtype=x.dtype)
    chunks = _winograd_chunks(n, c, th, tw, x.dtype, wg)

    def one(bounds):
        n0, n1 = bounds
        t = (n1 - n0) * th * tw
        if keep:
            v, flat = _transformed_pooled(wg, wg.PHASES * c, t, x.dtype)
        else:
            v, flat = _transformed_scratch(wg, wg.PHASES * c, t, x.dtype, "wino_v"), None
        wg.input_transform(x[n0:n1], ph, pw, out=v)
        m = xp.matmul(u, v, out=_transformed_scratch(wg, k, t, x.dtype, "wino_m"))
        wg.output_transform(m, y[n0:n1], b)
        return flat

    flats = map_chunks(one, chunks)
    return (y, _KeptV(chunks, flats, wg, u)) if keep else y


def _winograd_backward(x, w, g, padding, need_x, need_w, wg=winograd, kept=None):
    """(∂L/∂x, ∂L/∂w) of the Winograd convolution: per chunk dM = output-gradient transform of g,
    ∂L/∂x = input-gradient transform of Uᵀ dM, and dU = Σ_chunks dM Vᵀ (V as the forward kept it,
    or transformed again from x), ∂L/∂w = Gᵀ dU G."""
    xp = backend.numpy
    n, c, h, wd = x.shape
    k = w.shape[0]
    ph, pw = padding
    _, _, th, tw = wg.tiles(h, wd, ph, pw)
    ut = (kept.u if kept is not None else wg.weight_transform(w)).transpose(0, 2, 1) if need_x else None
    gx = xp.empty(x.shape, dtype=x.dtype) if need_x else None
    chunks = kept.chunks if kept is not None else _winograd_chunks(n, c, th, tw, x.dtype, wg)
    cv = wg.PHASES * c

    def one(i):
        n0, n1 = chunks[i]
        t = (n1 - n0) * th * tw
        dm = wg.grad_output_transform(g[n0:n1], out=_transformed_scratch(wg, k, t, x.dtype, "wino_m"))
        if need_x:
            dv = xp.matmul(ut, dm, out=_transformed_scratch(wg, cv, t, x.dtype, "wino_dv"))
            wg.grad_input_transform(dv, gx[n0:n1], ph, pw)
        if not need_w:
            return None
        if kept is not None:
            v = _transformed_kept(wg, cv, t, x.dtype, kept.flats[i])
        else:
            v = wg.input_transform(x[n0:n1], ph, pw, out=_transformed_scratch(wg, cv, t, x.dtype, "wino_v"))
        return xp.matmul(dm, v.transpose(0, 2, 1))

    parts = map_chunks(one, range(len(chunks)))
    gw = wg.weight_grad_transform(_sum_in_order(parts)) if need_w else None
    return gx, gw


_WINOGRAD_T = True              # (a switch for the benchmarks and tests)


def _use_winograd_t(x, w, stride, padding, out_hw, impl):
    """The Winograd module conv_transpose2d(x, w) runs on, as the adjoint of conv2d(·, w) on its
    output size ``out_hw`` (4×4 stride-2 layers only: the 3×3 stride-1 ones were not measured),
    or None."""
    if not _WINOGRAD_T or tuple(stride) != (2, 2):
        return None
    return _winograd_module(out_hw, w.shape[1], w.shape[0], w.shape[2:], stride, padding, impl, x.dtype == w.dtype)


def _winograd_t_forward(x, w, b, padding, out_hw, wg):
    """(y, kept): y = conv_transpose2d(x, w) + b, the input gradient of conv2d(·, w) at output
    gradient x: per chunk dM = output-gradient transform of x, y = input-gradient transform of
    Uᵀ dM; kept = a :class:`_KeptV` of dM (pooled buffers) and U for the backward."""
    xp = backend.numpy
    n, k = x.shape[:2]
    c = w.shape[1]
    ph, pw = padding
    _, _, th, tw = wg.tiles(out_hw[0], out_hw[1], ph, pw)
    u = wg.weight_transform(w)
    ut = u.transpose(0, 2, 1)
    y = xp.empty((n, c) + tuple(out_hw), dtype=x.dtype)
    chunks = _winograd_chunks(n, c, th, tw, x.dtype, wg)

    def one(bounds):
        n0, n1 = bounds
        t = (n1 - n0) * th * tw
        dm, flat = _transformed_pooled(wg, k, t, x.dtype)
        wg.grad_output_transform(x[n0:n1], out=dm)
        dv = xp.matmul(ut, dm, out=_transformed_scratch(wg, wg.PHASES * c, t, x.dtype, "wino_dv"))
        wg.grad_input_transform(dv, y[n0:n1], ph, pw)
        if b is not None:
            y[n0:n1] += b.reshape(1, -1, 1, 1)
        return flat

    flats = map_chunks(one, chunks)
    return y, _KeptV(chunks, flats, wg, u)


def _winograd_t_backward(x, w, g, padding, need_x, need_w, kept):
    """(∂L/∂x, ∂L/∂w) of y = conv_transpose2d(x, w): ∂L/∂x = conv2d(g, w) (output transform of
    U V), ∂L/∂w from dU = Σ_chunks dM(x) Vᵀ, both from one input transform V of g per chunk,
    with dM(x) and U as the forward kept them."""
    xp = backend.numpy
    n, k = x.shape[:2]
    c = w.shape[1]
    ph, pw = padding
    wg, chunks = kept.wg, kept.chunks
    _, _, th, tw = wg.tiles(g.shape[2], g.shape[3], ph, pw)
    gx = xp.empty(x.shape, dtype=x.dtype) if need_x else None
    cv = wg.PHASES * c

    def one(i):
        n0, n1 = chunks[i]
        t = (n1 - n0) * th * tw
        v = wg.input_transform(g[n0:n1], ph, pw, out=_transformed_scratch(wg, cv, t, x.dtype, "wino_v"))
        if need_x:
            m = xp.matmul(kept.u, v, out=_transformed_scratch(wg, k, t, x.dtype, "wino_m"))
            wg.output_transform(m, gx[n0:n1])
        if not need_w:
            return None
        dm = _transformed_kept(wg, k, t, x.dtype, kept.flats[i])
        return xp.matmul(dm, v.transpose(0, 2, 1))

    parts = map_chunks(one, range(len(chunks)))
    gw = wg.weight_grad_transform(_sum_in_order(parts)) if need_w else None
    return gx, gw


# --------------------------------------------------------------------------- array versions
def conv2d_array(x, w, b, stride, padding, return_cols=False):
    """y = conv2d(x, w) + b; with ``return_cols``, (y, the (chunks, columns) it unfolded)."""
    wg = None if return_cols else _use_winograd(x, w, stride, padding, select_impl(x)[0])
    if wg is not None:
        return _winograd_forward(x, w, b, padding, wg)
    c_out = w.shape[0]
    y, _, cols = _unfold_pass(x, tuple(w.shape[2:]), stride, padding, w2=w.reshape(c_out, -1), bias=b,
                              keep_cols=return_cols)
    return (y, cols) if return_cols else y


def _stamp(x, w, padding, out_hw):
    """True when conv_transpose2d(x, w) is a plain product: a 1×1 input without padding stamps
    each image's weighted kernel once (DCGAN's first generator layer, z → 7×7), so
    y = x₂ · W₂ with no col2im (measured 2.0 → ~1 ms fwd+bwd for 100 → 128, 7×7, 64 images)."""
    return (x.shape[2] == 1 and x.shape[3] == 1 and tuple(padding) == (0, 0)
            and tuple(out_hw) == tuple(w.shape[2:]))


def conv_transpose2d_array(x, w, b, stride, padding, out_hw):
    n, c_in = x.shape[:2]
    _, c_out, kh, kw = w.shape
    if _stamp(x, w, padding, out_hw):
        y = _pmatmul(x.reshape(n, c_in), w.reshape(c_in, -1)).reshape(n, c_out, kh, kw)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        return y
    return _fold_pass(x, w.reshape(c_in, -1).T, (n, c_out) + tuple(out_hw), (kh, kw), stride, padding, bias=b)


def conv2d_weight_grad_array(x, g, kernel_size, stride, padding, kept=None):
    _, acc, _ = _unfold_pass(x, kernel_size, stride, padding, other=g, kept=kept)
    xp = backend.get_array_module(acc)
    return xp.ascontiguousarray(acc.T).reshape((g.shape[1], x.shape[1]) + tuple(kernel_size))


def conv_transpose2d_backward_array(x, w, g, stride, padding, need_x, need_w):
    """(∂L/∂x, ∂L/∂w) of y = conv_transpose2d(x, w): conv2d(g, w) and weight_grad(g, x), from ONE
    im2col of g per chunk."""
    c_in = w.shape[0]
    if _stamp(x, w, padding, g.shape[2:]):
        n = x.shape[0]
        g2 = g.reshape(n, -1)
        gx = _pmatmul(g2, w.reshape(c_in, -1).T).reshape(x.shape) if need_x else None
        gw = _pmatmul(x.reshape(n, c_in).T, g2).reshape(w.shape) if need_w else None
        return gx, gw
    gx, acc, _ = _unfold_pass(g, tuple(w.shape[2:]), stride, padding,
                              w2=w.reshape(c_in, -1) if need_x else None, other=x if need_w else None)
    gw = None
    if need_w:
        xp = backend.get_array_module(acc)
        gw = xp.ascontiguousarray(acc.T).reshape(w.shape)
    return gx, gw


def conv2d_backward_array(x, w, g, stride, padding, kept, need_x, need_w):
    """(∂L/∂x, ∂L/∂w) of y = conv2d(x, w) in one pass over the batch chunks: per chunk, g in
    column order once feeds both GEMMs (col2im(W₂ᵀ g₂) and cols · g₂ᵀ). ``kept``: the
    ``(chunks, columns)`` the forward kept, or None to unfold x again chunk by chunk."""
    if isinstance(kept, _KeptV):
        if g.dtype == x.dtype:
            return _winograd_backward(x, w, g, padding, need_x, need_w, kept.wg, kept=kept)
        kept = None
    wg = _use_winograd(x, w, stride, padding, select_impl(g)[0]) if kept is None and g.dtype == x.dtype else None
    if wg is not None:
        return _winograd_backward(x, w, g, padding, need_x, need_w, wg)
    xp = backend.get_array_module(g)
    impl = select_impl(g)[0]
    ksize = tuple(w.shape[2:])
    (kh, kw) = ksize
    n, c = x.shape[:2]
    l, k = g.shape[2] * g.shape[3], c * kh * kw
    chunks = kept[0] if kept is not None else _chunks(n, k * l, l, x.dtype.itemsize, impl)
    w2t = w.reshape(w.shape[0], -1).T
    gx = xp.empty(x.shape, dtype=xp.result_type(w.dtype, g.dtype)) if need_x else None

    def one(i):
        n0, n1 = chunks[i]
        bm = _batch_minor(n1 - n0, impl, k)
        g2 = _to_cols_order(g[n0:n1], bm, xp)
        if need_x:
            _fold_chunk(g[n0:n1], w2t, gx[n0:n1], ksize, stride, padding, impl, xp, src2=g2)
        if not need_w:
            return None
        if kept is not None:
            cols = kept[1][i]
        else:
            out = _scratch(xp, (k, (n1 - n0) * l), x.dtype, "cols") if impl == "numba" else None
            cols = im2col(x[n0:n1], kh, kw, stride, padding, out=out, batch_minor=bm)
        return _weight_gemm(cols, g2)

    parts = map_chunks(one, range(len(chunks)))
    gw = xp.ascontiguousarray(_sum_in_order(parts).T).reshape(w.shape) if need_w else None
    return gx, gw


# --------------------------------------------------------------------------- dispatch (array or Tensor)
def _conv2d_any(x, w, stride, padding):
    if is_tensor(x) or is_tensor(w):
        return Conv2d.apply(x, w, None, stride=stride, padding=padding)
    return conv2d_array(x, w, None, stride, padding)


def _conv_t_any(x, w, stride, padding, out_hw):
    if is_tensor(x) or is_tensor(w):
        return ConvTranspose2d.apply(x, w, None, stride=stride, padding=padding, output_size=out_hw)
    return conv_transpose2d_array(x, w, None, stride, padding, out_hw)


def _wgrad_any(x, g, kernel_size, stride, padding):
    if is_tensor(x) or is_tensor(g):
        return Conv2dWeightGrad.apply(x, g, kernel_size=kernel_size, stride=stride, padding=padding)
    return conv2d_weight_grad_array(x, g, kernel_size, stride, padding)


def _bias_grad(g):
    # batch axis first: adding whole contiguous planes is 3-6x faster than NumPy's (0, 2, 3) reduction
    n, c, h, w = g.shape
    return g.reshape((n, c, h * w)).sum(axis=0).sum(axis=1)


# --------------------------------------------------------------------------- checks
def _check_conv(op, x, w, b, stride, padding, transposed):
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {x.shape}")
    if w.ndim != 4:
        layout = "(C_in, C_out, kH, kW)" if transposed else "(C_out, C_in, kH, kW)"
        raise ValueError(f"{op}: weight must be 4-D {layout}, got shape {w.shape}")
    w_in = w.shape[0] if transposed else w.shape[1]
    if x.shape[1] != w_in:
        raise ValueError(f"{op}: input has {x.shape[1]} channels but weight expects {w_in} "
                         f"(input {x.shape}, weight {w.shape})")
    c_out = w.shape[1] if transposed else w.shape[0]
    if b is not None and tuple(b.shape) != (c_out,):
        raise ValueError(f"{op}: bias must have shape ({c_out},), got {b.shape} (weight {w.shape})")
    if not transposed:
        ph, pw = padding
        kh, kw = w.shape[2:]
        if x.shape[2] + 2 * ph < kh or x.shape[3] + 2 * pw < kw:
            raise ValueError(f"{op}: kernel ({kh}, {kw}) is larger than the padded input "
                             f"({x.shape[2] + 2 * ph}, {x.shape[3] + 2 * pw}) (input {x.shape}, padding {padding})")


# --------------------------------------------------------------------------- Functions
class _KeepsBuffers(Function):
    """A convolution node that may keep buffers of its forward for its backward (im2col columns,
    Winograd transforms) in ``self.cols``: they go back to the pool when the engine releases it."""
    cols = None
    releases_more = True

    def release(self):
        super().release()
        if self.cols is not None:
            _recycle_cols(self.cols)
        self.cols = None


class Conv2d(_KeepsBuffers):
    """y = conv2d(x, w) + b   (cross-correlation, as PyTorch).
    ∂L/∂x = conv_transpose2d(g, w),  ∂L/∂w = weight_grad(x, g),  ∂L/∂b = Σ_{n,h,w} g."""

    def forward(self, x, w, b=None, stride=(1, 1), padding=(0, 0)):
        _check_conv("conv2d", x, w, b, stride, padding, transposed=False)
        self.stride, self.padding = stride, padding
        # the columns are kept for the weight gradient (no second im2col) when grad is on and
        # they are at most _KEEP_COLS_BYTES; freed with the node, or right away when nothing
        # records it. Larger ones are unfolded again, chunk by chunk, in backward. So are those
        # of a stride-1 convolution on the CPU: its im2col copies long runs into a chunk's warm
        # scratch buffer, cheaper than writing kept columns to cold memory and reading them back
        # (3×3 on 64×64×14×14, fwd+bwd: 11.1 → 10.6 ms), where the short runs of a stride-2
        # im2col make the second unfolding cost more than it saves (4×4/2: 8.9 kept, 9.2 not).
        # A Winograd convolution has no columns; it keeps its transformed input V instead where
        # that measured faster than transforming x again (_keeps_v), within the same size limit.
        wg = _use_winograd(x, w, stride, padding, select_impl(x)[0])
        if wg is not None:
            if grad_mode.state.enabled and _keeps_v(wg) and _transformed_bytes(
                    wg, wg.PHASES * x.shape[1], x.shape[0], x.shape[2:], padding, x.dtype) <= _KEEP_COLS_BYTES:
                y, self.cols = _winograd_forward(x, w, b, padding, wg, True)
            else:
                y, self.cols = _winograd_forward(x, w, b, padding, wg), None
            return y
        kh, kw = w.shape[2:]
        n_cols = x.shape[1] * kh * kw * x.shape[0] * conv_out_size(x.shape[2], kh, stride[0], padding[0]) \
            * conv_out_size(x.shape[3], kw, stride[1], padding[1])
        keep = grad_mode.state.enabled and n_cols * x.dtype.itemsize <= _KEEP_COLS_BYTES \
            and (tuple(stride) != (1, 1) or select_impl(x)[0] != "numba")
        if keep:
            y, self.cols = conv2d_array(x, w, b, stride, padding, return_cols=True)
        else:
            y, self.cols = conv2d_array(x, w, b, stride, padding), None
        return y

    def backward(self, g, y, x, w, b=None):
        nx, nw, nb = (list(self.needs) + [False])[:3]
        if (nx or nw) and not (is_tensor(g) or is_tensor(x) or is_tensor(w)):
            # fast path: g in column order once per chunk, for both GEMMs
            gx, gw = conv2d_backward_array(x, w, g, self.stride, self.padding, self.cols, nx, nw)
            return gx, gw, _bias_grad(g) if nb else None
        gx = _conv_t_any(g, w, self.stride, self.padding, tuple(x.shape[2:])) if nx else None
        gw = None
        if nw:
            if not is_tensor(g) and not is_tensor(x):
                kept = None if isinstance(self.cols, _KeptV) else self.cols
                gw = conv2d_weight_grad_array(x, g, tuple(w.shape[2:]), self.stride, self.padding, kept=kept)
            else:
                gw = _wgrad_any(x, g, tuple(w.shape[2:]), self.stride, self.padding)
        gb = _bias_grad(g) if nb else None
        return gx, gw, gb


class ConvTranspose2d(_KeepsBuffers):
    """y = conv_transpose2d(x, w) + b: the adjoint of conv2d(·, w), scattered by col2im.
    ∂L/∂x = conv2d(g, w),  ∂L/∂w = weight_grad(g, x),  ∂L/∂b = Σ_{n,h,w} g.

    ``output_size`` (H_out, W_out) fixes the output; the public function derives it from
    ``output_padding``: H_out = (H − 1)·s − 2p + kH + output_padding."""

    def forward(self, x, w, b=None, stride=(1, 1), padding=(0, 0), output_size=None):
        _check_conv("conv_transpose2d", x, w, b, stride, padding, transposed=True)
        (sh, sw), (ph, pw) = stride, padding
        kh, kw = w.shape[2:]
        if output_size is None:
            output_size = ((x.shape[2] - 1) * sh - 2 * ph + kh, (x.shape[3] - 1) * sw - 2 * pw + kw)
        ho, wo = output_size
        if ho < 1 or wo < 1:
            raise ValueError(f"conv_transpose2d: the output would be {ho}x{wo} (input {x.shape}, weight {w.shape}, "
                             f"stride {stride}, padding {padding}); reduce the padding")
        if conv_out_size(ho, kh, sh, ph) != x.shape[2] or conv_out_size(wo, kw, sw, pw) != x.shape[3]:
            raise ValueError(f"conv_transpose2d: output size {output_size} does not match input {x.shape} with "
                             f"kernel ({kh}, {kw}), stride {stride}, padding {padding}")
        self.stride, self.padding, self.out_hw = stride, padding, (ho, wo)
        self.cols = None
        # the Winograd path only where it keeps dM of x for the backward (the configuration that
        # measured faster; the forward alone, or a backward transforming x again, did not)
        wg = None
        if grad_mode.state.enabled and not _stamp(x, w, padding, (ho, wo)):
            wg = _use_winograd_t(x, w, stride, padding, (ho, wo), select_impl(x)[0])
        if wg is not None and _transformed_bytes(wg, x.shape[1], x.shape[0], (ho, wo), padding,
                                                 x.dtype) <= _KEEP_COLS_BYTES:
            y, self.cols = _winograd_t_forward(x, w, b, padding, (ho, wo), wg)
            return y
        return conv_transpose2d_array(x, w, b, stride, padding, (ho, wo))

    def backward(self, g, y, x, w, b=None):
        nx, nw, nb = (list(self.needs) + [False])[:3]
        if (nx or nw) and not (is_tensor(g) or is_tensor(x) or is_tensor(w)):
            if self.cols is not None and g.dtype == x.dtype:
                gx, gw = _winograd_t_backward(x, w, g, self.padding, nx, nw, self.cols)
            else:
                gx, gw = conv_transpose2d_backward_array(x, w, g, self.stride, self.padding, nx, nw)
        else:
            gx = _conv2d_any(g, w, self.stride, self.padding) if nx else None
            gw = _wgrad_any(g, x, tuple(w.shape[2:]), self.stride, self.padding) if nw else None
        gb = _bias_grad(g) if nb else None
        return gx, gw, gb


class Conv2dWeightGrad(Function):
    """gw = ∂⟨g, conv2d(x, w)⟩/∂w = g₂ im2col(x)ᵀ   (bilinear in x and g).
    Adjoints for upstream G (shape of w):  ∂/∂x = conv_transpose2d(g, G),  ∂/∂g = conv2d(x, G)."""

    def forward(self, x, g, kernel_size, stride, padding):
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        return conv2d_weight_grad_array(x, g, kernel_size, stride, padding)

    def backward(self, gg, y, x, g):
        nx, ng = self.needs
        dx = _conv_t_any(g, gg, self.stride, self.padding, tuple(x.shape[2:])) if nx else None
        dg = _conv2d_any(x, gg, self.stride, self.padding) if ng else None
        return dx, dg
