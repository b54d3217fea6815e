"""PNG pictures of what a generative model is doing: sample grids, reconstructions, loss curves,
2-D scatters, latent spaces, interpolations and diffusion trajectories.

Every function takes plain arrays (NumPy, CuPy, or tinygen Tensors), writes one PNG and returns
its path. Writes are atomic: the picture is rendered to a temporary file beside ``path``, synced
and moved into place with ``os.replace``, so a crash never leaves half a PNG behind. Parent
folders are created as needed.

Image inputs are (N, H, W) or (N, C, H, W) with C = 1 or 3, values in ``value_range``
(default (0, 1)); they are drawn pixel for pixel, upscaled by an integer factor with nearest
neighbour so 8×8 digits stay crisp (a 10×10 grid of digits is about 420 px wide). Non-finite
pixels are painted magenta so a diverged model is obvious at a glance.

matplotlib is imported inside the functions (``import tinygen.train.plots`` stays cheap) and
only through ``matplotlib.figure.Figure``, never ``pyplot``: no global state, no display, the
Agg renderer writes the PNG.
"""

import math
import os
import uuid

import numpy as np

__all__ = [
    "save_image_grid", "save_reconstructions", "save_loss_curves", "save_scatter_2d",
    "save_latent_scatter", "save_interpolation_strip", "save_trajectory_strip",
]

_DPI = 100                 # pixel-exact image pictures are rendered at this dpi
_CHART_DPI = 110           # charts (scatter, curves)
_PAD = 2                   # pixels between image tiles
_BG = (255, 255, 255)
_NAN_RGB = (255, 0, 255)
_TEXT = "#222222"
_TARGET_WIDTH = 420        # image rows are upscaled to about this many pixels
_MAX_SCALE = 16
_TITLE_H = 30


# ---------------------------------------------------------------------------------------------
# plumbing
# ---------------------------------------------------------------------------------------------

def _to_numpy(x, name):
    """Host float64 array from NumPy / CuPy / tinygen Tensor / nested lists."""
    if not isinstance(x, np.ndarray):
        if hasattr(x, "numpy") and callable(x.numpy):
            x = x.numpy()
        elif hasattr(x, "get") and callable(x.get) and not isinstance(x, dict):
            x = x.get()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: cannot convert {type(x).__name__} to a float array") from exc


def _save_figure(fig, path, dpi):
    """Render ``fig`` to ``path`` atomically (temp file in the same folder + os.replace)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "xb") as fh:
            fig.savefig(fh, format="png", dpi=dpi, facecolor=fig.get_facecolor())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    return path


def _images(x, name):
    """Validate an image batch; returns (N, H, W, C) float64 with C in {1, 3}."""
    a = _to_numpy(x, name)
    if a.ndim in (3, 4) and 0 in a.shape:
        raise ValueError(f"{name} is empty: shape {a.shape}")
    if a.ndim == 3:
        a = a[..., None]
    elif a.ndim == 4 and a.shape[1] in (1, 3):
        a = np.transpose(a, (0, 2, 3, 1))
    else:
        hint = ""
        if a.ndim == 2:
            side = math.isqrt(a.shape[1]) if a.shape[1] > 0 else 0
            if side * side == a.shape[1] and side > 0:
                hint = f"; reshape flat vectors first, e.g. x.reshape(-1, {side}, {side})"
        raise ValueError(
            f"{name} must have shape (N, H, W) or (N, C, H, W) with C in (1, 3), "
            f"got shape {a.shape}{hint}")
    return a


def _to_rgb(imgs, value_range):
    """(N, H, W, C) floats → (N, H, W, 3) uint8; ``value_range`` None means the batch's min/max."""
    finite = np.isfinite(imgs)
    if value_range is None:
        vals = imgs[finite]
        lo, hi = (float(vals.min()), float(vals.max())) if vals.size else (0.0, 1.0)
    else:
        lo, hi = (float(v) for v in value_range)
    if not hi > lo:
        hi = lo + 1.0
    u = np.clip((np.where(finite, imgs, lo) - lo) / (hi - lo), 0.0, 1.0)
    u8 = np.round(u * 255.0).astype(np.uint8)
    if u8.shape[-1] == 1:
        u8 = np.repeat(u8, 3, axis=-1)
    bad = ~np.all(finite, axis=-1)
    u8[bad] = _NAN_RGB
    return u8


def _auto_scale(ncol, w):
    """Integer upscaling factor that makes ``ncol`` tiles of width ``w`` about 420 px wide."""
    return int(min(_MAX_SCALE, max(1, round(_TARGET_WIDTH / (ncol * w)))))


def _upscale(tile, s):
    return np.repeat(np.repeat(tile, s, axis=0), s, axis=1) if s > 1 else tile


class _Canvas:
    """An RGB pixel canvas with text labels, saved pixel for pixel (no resampling)."""

    def __init__(self, width, height):
        self.pixels = np.empty((int(height), int(width), 3), dtype=np.uint8)
        self.pixels[...] = _BG
        self.texts = []

    def paste(self, x0, y0, tile):
        h, w = tile.shape[:2]
        self.pixels[y0:y0 + h, x0:x0 + w] = tile

    def text(self, x, y, s, ha="center", va="center", size=11, weight="normal"):
        self.texts.append((x, y, s, ha, va, size, weight))

    def save(self, path):
        from matplotlib.figure import Figure
        h, w = self.pixels.shape[:2]
        fig = Figure(figsize=(w / _DPI, h / _DPI), dpi=_DPI, facecolor="white")
        fig.figimage(self.pixels, xo=0, yo=0, origin="upper", resize=False)
        for x, y, s, ha, va, size, weight in self.texts:
            fig.text(x / w, 1.0 - y / h, s, ha=ha, va=va, fontsize=size, color=_TEXT,
                     fontweight=weight)
        return _save_figure(fig, path, _DPI)


def _grid_geometry(n, ncol, h, w, s, pad=_PAD):
    nrows = int(math.ceil(n / ncol))
    width = ncol * w * s + (ncol + 1) * pad
    height = nrows * h * s + (nrows + 1) * pad
    return nrows, width, height


def _paste_grid(canvas, tiles, ncol, s, x0, y0, pad=_PAD, fill=None):
    """Paste (N, h, w, 3) tiles row-major into ``ncol`` columns starting at (x0, y0)."""
    h, w = tiles.shape[1] * s, tiles.shape[2] * s
    nrows = int(math.ceil(len(tiles) / ncol))
    if fill is not None:
        gw = ncol * w + (ncol + 1) * pad
        gh = nrows * h + (nrows + 1) * pad
        canvas.pixels[y0:y0 + gh, x0:x0 + gw] = fill
    for i, t in enumerate(tiles):
        r, c = divmod(i, ncol)
        canvas.paste(x0 + pad + c * (w + pad), y0 + pad + r * (h + pad), _upscale(t, s))


def _title_width(title, size=11, weight="bold"):
    """Pixels a caption needs (measured with matplotlib's font metrics) plus a margin."""
    if not title:
        return 0
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath
    prop = FontProperties(size=size, weight=weight)
    w, _, _ = TextToPath().get_text_width_height_descent(title, prop, ismath=False)
    return int(math.ceil(w * _DPI / 72.0)) + 24


# ---------------------------------------------------------------------------------------------
# image pictures
# ---------------------------------------------------------------------------------------------

def save_image_grid(images, path, nrow=None, title=None, value_range=(0, 1)):
    """Save a batch of images as one crisp grid picture.

    Args:
        images: (N, H, W) or (N, C, H, W), C in (1, 3).
        path: output PNG path.
        nrow: images per row, as in ``torchvision.utils.make_grid`` (default ceil(sqrt(N)),
            so 100 digits make a 10×10 grid).
        title: optional caption above the grid.
        value_range: (low, high) mapped to black and white; None stretches the batch's own
            min..max.

    Returns the path written.
    """
    imgs = _images(images, "images")
    n, h, w = imgs.shape[:3]
    ncol = int(nrow) if nrow else int(math.ceil(math.sqrt(n)))
    if ncol < 1:
        raise ValueError(f"nrow must be positive, got {nrow}")
    ncol = min(ncol, n)
    s = _auto_scale(ncol, w)
    _, gw, gh = _grid_geometry(n, ncol, h, w, s)
    top = _TITLE_H if title else 0
    width = max(gw, _title_width(title))
    canvas = _Canvas(width, gh + top)
    if title:
        canvas.text(width / 2, top / 2 + 1, title, size=11, weight="bold")
    _paste_grid(canvas, _to_rgb(imgs, value_range), ncol, s, (width - gw) // 2, top)
    return canvas.save(path)


def save_reconstructions(originals, reconstructions, path, noisy=None, n=None, title=None,
                         value_range=(0, 1)):
    """Originals above their reconstructions (and, for denoising models, the noisy inputs).

    Rows: original / [noisy] / reconstruction, labelled on the left; more than 10 examples wrap
    into further blocks. The default title reports the reconstruction MSE over all examples
    given (reconstruction vs. clean original).

    Args:
        originals, reconstructions: same shape, (N, H, W) or (N, C, H, W).
        noisy: optional corrupted inputs of the same shape (denoising autoencoders).
        n: how many examples to show (default min(N, 20)).
    """
    orig = _images(originals, "originals")
    rec = _images(reconstructions, "reconstructions")
    if rec.shape != orig.shape:
        raise ValueError(f"reconstructions shape {np.shape(reconstructions)} does not match "
                         f"originals shape {np.shape(originals)}")
    rows = [("original", orig)]
    if noisy is not None:
        nz = _images(noisy, "noisy")
        if nz.shape != orig.shape:
            raise ValueError(f"noisy shape {np.shape(noisy)} does not match originals shape "
                             f"{np.shape(originals)}")
        rows.append(("noisy", nz))
    rows.append(("reconstruction", rec))
    total, h, w = orig.shape[:3]
    n = min(total, 20) if n is None else max(1, min(int(n), total))
    if title is None:
        mse = float(np.mean((rec - orig) ** 2))
        title = f"Reconstructions (MSE {mse:.3g} per pixel, {total} examples)"
    nblocks = int(math.ceil(n / 10))
    ncol = int(math.ceil(n / nblocks))           # balanced blocks: 12 → 6 + 6, not 10 + 2
    s = _auto_scale(ncol, w)
    label_w = 124
    block_gap = 12
    gw = ncol * w * s + (ncol + 1) * _PAD
    bh = len(rows) * h * s + (len(rows) + 1) * _PAD
    top = _TITLE_H
    width = max(label_w + gw + 8, _title_width(title))
    height = top + nblocks * bh + (nblocks - 1) * block_gap + 4
    canvas = _Canvas(width, height)
    canvas.text(width / 2, top / 2 + 1, title, size=11, weight="bold")
    rgb = [(name, _to_rgb(a[:n], value_range)) for name, a in rows]
    for b in range(nblocks):
        y0 = top + b * (bh + block_gap)
        sl = slice(b * ncol, min(n, (b + 1) * ncol))
        for r, (name, arr) in enumerate(rgb):
            yr = y0 + r * (h * s + _PAD)
            _paste_grid(canvas, arr[sl], ncol, s, label_w, yr)
            canvas.text(label_w - 8, yr + _PAD + h * s / 2, name, ha="right", size=10)
    return canvas.save(path)


def save_interpolation_strip(images, path, title=None, value_range=(0, 1)):
    """One row of images, e.g. decoded points along a line between two latent codes.

    ``images``: (N, H, W) or (N, C, H, W), drawn left to right; the ends get small
    "start"/"end" captions underneath.
    """
    imgs = _images(images, "images")
    n, h, w = imgs.shape[:3]
    s = _auto_scale(max(n, 8), w)
    _, gw, gh = _grid_geometry(n, n, h, w, s)
    top = _TITLE_H if title else 0
    bottom = 18
    width = max(gw, _title_width(title))
    canvas = _Canvas(width, top + gh + bottom)
    x0 = (width - gw) // 2
    if title:
        canvas.text(width / 2, top / 2 + 1, title, size=11, weight="bold")
    _paste_grid(canvas, _to_rgb(imgs, value_range), n, s, x0, top)
    tile_mid = _PAD + w * s / 2
    yb = top + gh + bottom / 2
    canvas.text(x0 + tile_mid, yb, "start", size=9)
    if n > 1:
        canvas.text(x0 + gw - tile_mid, yb, "end", size=9)
    return canvas.save(path)


def _frames(frames, name):
    """A trajectory as a list of T arrays (list/tuple, or an array with time on axis 0)."""
    if isinstance(frames, (list, tuple)):
        out = [_to_numpy(f, f"{name}[{i}]") for i, f in enumerate(frames)]
    else:
        arr = _to_numpy(frames, name)
        if arr.ndim < 2:
            raise ValueError(f"{name} must hold T snapshots (time on axis 0), got shape {arr.shape}")
        out = list(arr)
    if not out:
        raise ValueError(f"{name} is empty: need at least one snapshot")
    shapes = {f.shape for f in out}
    if len(shapes) != 1:
        raise ValueError(f"all {name} snapshots must have the same shape, got {sorted(shapes)}")
    return out


def _time_labels(t, times):
    if times is not None:
        times = list(times)
        if len(times) != t:
            raise ValueError(f"times has {len(times)} entries for {t} snapshots")
        return [f"t={v}" if not isinstance(v, str) else v for v in times]
    if t == 1:
        return ["x_0"]
    return ["x_T"] + [f"step {i}" for i in range(1, t - 1)] + ["x_0"]


def save_trajectory_strip(frames, path, kind="images", data=None, times=None, title=None,
                          value_range=(0, 1)):
    """Snapshots of a reverse diffusion (x_T → x_0) side by side.

    Args:
        frames: T snapshots, first = pure noise, last = final samples; a list of arrays or one
            array with time on axis 0. ``kind="images"``: each snapshot (N, H, W) or
            (N, C, H, W); drawn as a grid with one row per sample and one column per time.
            ``kind="points"``: each snapshot (N, 2); drawn as a row of scatter panels sharing
            their axes, over ``data`` in grey.
        data: optional (M, 2) real points for the "points" panels.
        times: optional labels for the columns (numbers become "t=…"); default x_T … x_0.
        value_range: image value range mapped to black..white (use (-1, 1) for data scaled
            so); out-of-range noise is clipped.
    """
    snaps = _frames(frames, "frames")
    labels = _time_labels(len(snaps), times)
    if kind == "points":
        return _trajectory_points(snaps, path, data, labels, title)
    if kind != "images":
        raise ValueError(f"kind must be 'images' or 'points', got {kind!r}")
    imgs = [_images(f, f"frames[{i}]") for i, f in enumerate(snaps)]
    n, h, w = imgs[0].shape[:3]
    t = len(imgs)
    s = _auto_scale(max(t, 8), w)
    col_gap = 6
    head = 20
    top = (_TITLE_H if title else 0) + head
    cw = w * s + 2 * _PAD
    gw = t * cw + (t - 1) * col_gap
    gh = n * h * s + (n + 1) * _PAD
    width = max(gw, _title_width(title))
    canvas = _Canvas(width, top + gh + 4)
    x0 = (width - gw) // 2
    if title:
        canvas.text(width / 2, _TITLE_H / 2 + 1, title, size=11, weight="bold")
    for j, (frame, lab) in enumerate(zip(imgs, labels)):
        xj = x0 + j * (cw + col_gap)
        _paste_grid(canvas, _to_rgb(frame, value_range), 1, s, xj, top)
        canvas.text(xj + cw / 2, top - head / 2, lab, size=9)
    return canvas.save(path)


# ---------------------------------------------------------------------------------------------
# charts
# ---------------------------------------------------------------------------------------------

def _style(ax):
    ax.grid(True, alpha=0.25, linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8)


def _points(x, name):
    a = _to_numpy(x, name)
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"{name} must have shape (N, 2), got shape {a.shape}")
    return a


def _finite_rows(a):
    return a[np.all(np.isfinite(a), axis=1)]


def _view_box(anchor_sets, sample_sets, pad=0.12):
    """Axis limits: anchors (data, modes) fully, samples robustly (1–99 %), outliers capped."""
    anchors = [a for a in anchor_sets if a is not None and len(a)]
    samples = [a for a in sample_sets if a is not None and len(a)]
    boxes = [(a.min(axis=0), a.max(axis=0)) for a in anchors]
    robust = [(np.percentile(a, 1, axis=0), np.percentile(a, 99, axis=0)) for a in samples]
    if boxes:
        lo = np.min([b[0] for b in boxes], axis=0)
        hi = np.max([b[1] for b in boxes], axis=0)
        span = np.maximum(hi - lo, 1e-6)
        if robust:
            cap_lo, cap_hi = lo - 1.0 * span, hi + 1.0 * span
            lo = np.maximum(np.minimum(lo, np.min([r[0] for r in robust], axis=0)), cap_lo)
            hi = np.minimum(np.maximum(hi, np.max([r[1] for r in robust], axis=0)), cap_hi)
    elif robust:
        lo = np.min([r[0] for r in robust], axis=0)
        hi = np.max([r[1] for r in robust], axis=0)
    else:
        lo, hi = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    span = np.maximum(hi - lo, 1e-6)
    return lo - pad * span, hi + pad * span


def _marker_size(n):
    """Scatter marker area (pt²) that keeps a few hundred and a few ten thousand points legible."""
    return float(np.clip(120.0 / math.sqrt(max(n, 1)), 0.8, 8.0)) ** 1.3


def _outside(a, lo, hi):
    return int(np.sum(np.any((a < lo) | (a > hi), axis=1)))


def save_scatter_2d(samples, path, data=None, modes=None, title=None, mode_radius=None):
    """Generated 2-D points over the real data (grey), with mode centres marked.

    Args:
        samples: (N, 2) generated points (blue).
        data: optional (M, 2) real points, drawn light grey underneath.
        modes: optional (K, 2) mixture centres, drawn as black crosses.
        mode_radius: optional radius of a circle drawn around each centre (e.g. 3σ, the
            "high quality" zone of :func:`tinygen.metrics.mode_coverage`).

    The view fits the data and modes; far-off samples (a diverging GAN) are counted in the
    legend instead of squashing the picture, and so are non-finite ones.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle

    x = _points(samples, "samples")
    d = _points(data, "data") if data is not None else None
    m = _points(modes, "modes") if modes is not None else None
    xf = _finite_rows(x)
    nonfinite = len(x) - len(xf)
    df = _finite_rows(d) if d is not None else None
    lo, hi = _view_box([df, m], [xf])

    aspect = float((hi[1] - lo[1]) / (hi[0] - lo[0]))
    width = 5.8 if aspect <= 1 else float(np.clip(5.8 / aspect, 3.5, 5.8))
    height = float(np.clip(width * aspect, 2.6, 6.2)) + (0.45 if title else 0.15) + 0.4
    fig = Figure(figsize=(width, height), facecolor="white", layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    if df is not None and len(df):
        ax.scatter(df[:, 0], df[:, 1], s=_marker_size(len(df)) * 1.5, c="#b8b8b8", alpha=0.7,
                   linewidths=0, label=f"data (n={len(df)})", rasterized=True, zorder=1)
    out = _outside(xf, lo, hi)
    note = [f"n={len(x)}"]
    if out:
        note.append(f"{out} outside view")
    if nonfinite:
        note.append(f"{nonfinite} non-finite")
    ax.scatter(xf[:, 0], xf[:, 1], s=_marker_size(len(xf)), c="#1f6fd1", alpha=0.55,
               linewidths=0, label=f"samples ({', '.join(note)})", rasterized=True, zorder=2)
    if m is not None and len(m):
        if mode_radius:
            for cx, cy in m:
                ax.add_patch(Circle((cx, cy), float(mode_radius), fill=False, color="#d62728",
                                    linewidth=0.8, alpha=0.8, zorder=3))
        ax.scatter(m[:, 0], m[:, 1], marker="+", s=70, c="black", linewidths=1.4,
                   label="mode centres", zorder=4)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal", adjustable="box")
    _style(ax)
    leg = ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=3, fontsize=8,
                    frameon=False, columnspacing=1.2, handletextpad=0.3)
    for h in leg.legend_handles:
        h.set_alpha(1.0)
        if hasattr(h, "set_sizes"):
            h.set_sizes([25.0])
    if title:
        ax.set_title(title, fontsize=11)
    return _save_figure(fig, path, _CHART_DPI)


def _trajectory_points(snaps, path, data, labels, title):
    from matplotlib.figure import Figure

    pts = [_points(f, f"frames[{i}]") for i, f in enumerate(snaps)]
    d = _finite_rows(_points(data, "data")) if data is not None else None
    fin = [_finite_rows(p) for p in pts]
    lo, hi = _view_box([d], fin)
    t = len(pts)
    ncol = min(t, 6)
    nrows = int(math.ceil(t / ncol))
    fig = Figure(figsize=(2.2 * ncol, 2.45 * nrows + (0.3 if title else 0.0)), facecolor="white",
                 layout="compressed")
    for j, (p, lab) in enumerate(zip(fin, labels)):
        ax = fig.add_subplot(nrows, ncol, j + 1)
        if d is not None and len(d):
            ax.scatter(d[:, 0], d[:, 1], s=_marker_size(len(d)) * 0.6, c="#c4c4c4", alpha=0.5,
                       linewidths=0, rasterized=True)
        ax.scatter(p[:, 0], p[:, 1], s=_marker_size(len(p)) * 0.6, c="#1f6fd1", alpha=0.5,
                   linewidths=0, rasterized=True)
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_aspect("equal", adjustable="box")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(lab, fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11, fontweight="bold")
    return _save_figure(fig, path, _CHART_DPI)


def save_latent_scatter(z, labels, path, title=None):
    """Latent codes coloured by label, with a legend (a colour bar for continuous labels).

    Args:
        z: (N, D) codes, D ≥ 2. For D > 2 the codes are projected on their first two principal
            components, and the title says so (with the variance they explain).
        labels: (N,) class labels (≤ 20 distinct integer values get a legend) or continuous
            values (a colour bar); None draws every point in one colour.
    """
    from matplotlib.figure import Figure

    a = _to_numpy(z, "z")
    if a.ndim != 2 or a.shape[1] < 2:
        raise ValueError(f"z must have shape (N, D) with D >= 2, got shape {a.shape}")
    if labels is not None:
        lab = _to_numpy(labels, "labels").reshape(-1)
        if lab.shape[0] != a.shape[0]:
            raise ValueError(f"labels shape {np.shape(labels)} does not match z shape {a.shape}")
    else:
        lab = None
    keep = np.all(np.isfinite(a), axis=1)
    a = a[keep]
    lab = lab[keep] if lab is not None else None
    dim = a.shape[1]
    auto_title = "Latent space"
    xlab, ylab = "z[0]", "z[1]"
    if dim > 2:
        centred = a - a.mean(axis=0)
        _, sv, vt = np.linalg.svd(centred, full_matrices=False)
        a = centred @ vt[:2].T
        share = float((sv[:2] ** 2).sum() / max((sv ** 2).sum(), 1e-300))
        auto_title = f"Latent space: PCA of {dim}-D codes ({100 * share:.0f}% of variance)"
        xlab, ylab = "PC 1", "PC 2"
    order = np.random.default_rng(0).permutation(len(a))  # no class paints over the others
    a = a[order]
    lab = lab[order] if lab is not None else None

    fig = Figure(figsize=(6.4, 5.2), facecolor="white", layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    size = _marker_size(len(a)) * 1.2
    discrete = (lab is not None and np.all(np.isfinite(lab)) and np.all(lab == np.round(lab))
                and len(np.unique(lab)) <= 20)
    if lab is None:
        ax.scatter(a[:, 0], a[:, 1], s=size, c="#1f6fd1", alpha=0.6, linewidths=0,
                   rasterized=True)
    elif discrete:
        classes = np.unique(lab)
        import matplotlib
        cmap = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
        colours = np.array([cmap(int(np.searchsorted(classes, v)) % cmap.N) for v in lab])
        ax.scatter(a[:, 0], a[:, 1], s=size, c=colours, alpha=0.7, linewidths=0,
                   rasterized=True)
        for i, c in enumerate(classes):
            ax.scatter([], [], s=30, color=cmap(i % cmap.N), label=f"{int(c)}")
        ax.legend(title="label", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
                  title_fontsize=9, frameon=False, handletextpad=0.2)
    else:
        sc = ax.scatter(a[:, 0], a[:, 1], s=size, c=lab, cmap="viridis", alpha=0.7,
                        linewidths=0, rasterized=True)
        fig.colorbar(sc, ax=ax, fraction=0.046, pad=0.03).ax.tick_params(labelsize=8)
    lo, hi = _view_box([a], [], pad=0.04)  # every code in view: outliers are information here
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel(xlab, fontsize=9)
    ax.set_ylabel(ylab, fontsize=9)
    _style(ax)
    ax.set_title(title or auto_title, fontsize=11)
    return _save_figure(fig, path, _CHART_DPI)


# -- loss curves ------------------------------------------------------------------------------

_X_KEYS = ("epoch", "step", "iteration", "iter")
_SKIP_KEYS = ("seconds", "time", "wall_time", "elapsed")


def _read_csv(path):
    import csv
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _as_float(v):
    if v is None or v == "":
        return float("nan")
    if hasattr(v, "item") and callable(v.item):
        v = v.item()
    return float(v)


def _normalise_history(history):
    """dict name → list, a list of per-epoch dicts, or a CSV path → ({name: array}, x_key, x)."""
    if isinstance(history, (str, os.PathLike)):
        history = _read_csv(history)
    if isinstance(history, dict):
        cols = {k: list(v) if np.ndim(v) else [v] for k, v in history.items()}
    elif isinstance(history, (list, tuple)):
        if not all(isinstance(r, dict) for r in history):
            raise ValueError("history must be a dict of name -> values or a list of dicts")
        keys = []
        for r in history:
            keys += [k for k in r if k not in keys]
        cols = {k: [r.get(k) for r in history] for k in keys}
    else:
        raise ValueError(f"history must be a dict or a list of dicts, got {type(history).__name__}")
    series = {}
    x_key, x = None, None
    for k, vals in cols.items():
        try:
            arr = np.array([_as_float(v) for v in vals], dtype=np.float64)
        except (TypeError, ValueError):
            continue  # text columns (e.g. a phase name) are not curves
        if k.lower() in _X_KEYS and x_key is None:
            x_key, x = k, arr
        elif k.lower() not in _SKIP_KEYS and k.lower() not in _X_KEYS:
            series[k] = arr
    series = {k: v for k, v in series.items() if v.size}
    if not series:
        raise ValueError("history has no numeric series to plot")
    return series, x_key, x


def _smooth(v, window):
    """Centred moving average that ignores NaNs."""
    ok = np.isfinite(v)
    kernel = np.ones(window)
    num = np.convolve(np.where(ok, v, 0.0), kernel, mode="same")
    den = np.convolve(ok.astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok & (den > 0), num / den, np.nan)


def _wants_log(values):
    f = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.array([])
    return bool(f.size and np.all(f > 0) and f.max() / f.min() > 100.0)


def _magnitude(v):
    f = np.abs(v[np.isfinite(v)])
    return float(np.median(f)) if f.size else 1.0


def save_loss_curves(history, path, title=None, log=None, separate=None, xlabel=None):
    """Training curves, one line per quantity.

    Args:
        history: dict name → per-epoch (or per-step) values; or a list of per-epoch dicts
            (``[{"epoch": 1, "loss": 0.3}, ...]``); or the path of a ``history.csv``. A column
            named epoch/step/iteration becomes the x axis; seconds/time columns are skipped.
        log: log-scale y axis: None (default) chooses it when every value is positive and they
            span more than two decades; True/False force it.
        separate: one panel per quantity. Default: only when their typical magnitudes differ
            by more than 5× or their signs differ (a GAN's D and G losses share a panel; a
            VAE's reconstruction, KL and ELBO get a panel each).
        xlabel: x-axis label (default: the x column's name, else "epoch").

    Long noisy series (> 100 points) are drawn faintly with a moving average on top. The
    legend shows each series' last value; a series that turned NaN/inf is marked "diverged"
    with a red cross at its last finite value.
    """
    from matplotlib.figure import Figure

    series, x_key, x_col = _normalise_history(history)
    names = list(series)
    if separate is None:
        mags = [_magnitude(series[k]) for k in names]
        positive = [m for m in mags if m > 0]
        signs = {float(np.sign(np.median(v[np.isfinite(v)])))
                 for v in series.values() if np.isfinite(v).any()}
        separate = len(names) > 1 and (
            len(positive) < len(mags) or max(positive) / min(positive) > 5.0
            or (1.0 in signs and -1.0 in signs))
    groups = [[k] for k in names] if separate else [names]
    ncol = 1 if len(groups) == 1 else min(3, len(groups))
    nrows = int(math.ceil(len(groups) / ncol))
    size = (7.2, 4.3) if len(groups) == 1 else (3.9 * ncol, 2.9 * nrows + 0.3)
    fig = Figure(figsize=size, facecolor="white", layout="constrained")
    xlabel = xlabel or (x_key or "epoch")
    colours = ["#1f6fd1", "#e4572e", "#2a9d55", "#8c54c8", "#d4a017", "#17becf", "#7f7f7f",
               "#e377c2"]
    for gi, group in enumerate(groups):
        ax = fig.add_subplot(nrows, ncol, gi + 1)
        for k in group:
            v = series[k]
            xs = x_col[:len(v)] if x_col is not None and len(x_col) >= len(v) else \
                np.arange(1, len(v) + 1, dtype=float)
            colour = colours[names.index(k) % len(colours)]
            ok = np.isfinite(v)
            if not ok.any():                 # diverged from the start: say so, draw nothing
                ax.plot([], [], color=colour, label=f"{k} (no finite values)")
                continue
            diverged = not ok[-1]
            label = f"{k} (last {v[ok][-1]:.4g})" + (", diverged" if diverged else "")
            if len(v) > 100:
                ax.plot(xs, np.where(ok, v, np.nan), color=colour, alpha=0.25, linewidth=0.8)
                ax.plot(xs, _smooth(v, max(3, len(v) // 40)), color=colour, linewidth=1.8,
                        label=label)
            else:
                ax.plot(xs[ok], v[ok], color=colour, linewidth=1.8, label=label,
                        marker="o" if len(v) <= 30 else None, markersize=3.5)
            if diverged:
                i = np.flatnonzero(ok)[-1]
                ax.plot([xs[i]], [v[i]], marker="x", color="#d62728", markersize=10,
                        markeredgewidth=2.2)
        use_log = _wants_log([series[k] for k in group]) if log is None else bool(log)
        if use_log and all(np.all(series[k][np.isfinite(series[k])] > 0) for k in group):
            ax.set_yscale("log")
        ax.set_xlabel(xlabel, fontsize=9)
        if len(groups) > 1:
            ax.set_title(group[0], fontsize=10)
        _style(ax)
        ax.legend(fontsize=8, frameon=False)
    if title:
        if len(groups) == 1:
            fig.axes[0].set_title(title, fontsize=11)
        else:
            fig.suptitle(title, fontsize=11, fontweight="bold")
    return _save_figure(fig, path, _CHART_DPI)
