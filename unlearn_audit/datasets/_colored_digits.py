"""``colored_digits``: scikit-learn's bundled handwritten digits, colourised with a spurious colour attribute."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from ..data import AuditData, GroupDataset, forget_from_groups

__all__ = ["colored_digits", "COLORS"]

#: RGB of the two colours (attribute a = 0: red, a = 1: green).
COLORS = ((1.0, 0.25, 0.15), (0.15, 0.85, 0.3))
ATTR_NAMES = ("red", "green")
#: versions of each bundled image in the default data set (the image and ``DEFAULT_SCALE - 1`` deformed copies).
DEFAULT_SCALE = 9


def colored_digits(*, target: Literal["binary", "digit"] = "binary", size: int = 8, majority: float = 0.85,
                   test_majority: float = 0.5, val_fraction: float = 0.2, test_fraction: float = 0.2,
                   forget_groups: tuple[tuple[int, int], ...] | None = None, forget_ratio: float = 0.5,
                   scale: int = DEFAULT_SCALE, seed: int = 0) -> AuditData:
    """Colored handwritten digits, a Waterbirds / Colored-MNIST style benchmark that needs no download.

    The 1,797 real 8x8 images of ``sklearn.datasets.load_digits`` are bilinearly resampled to ``size x size``,
    each joined by ``scale - 1`` deformed copies (``deformed_copies``: random affine + elastic; every copy lies in
    its source image's split) and colourised: ``x = v * colour(a)`` for grey level ``v`` in [0, 1]. Colour is a
    **spurious attribute**: in the train split, a fraction ``majority`` of every class's source images carries
    that class's majority colour (``a = y mod 2``) and the rest the other colour; val and test have the weaker
    correlation ``test_majority`` (0.5 = colour-balanced, as Waterbirds' test set is group-balanced).

    Target ``"binary"``: ``y = 1[digit >= 5]`` (classes ``"<5"``, ``">=5"``); ``"digit"``: the 10 digits.

    With the defaults (seed 0, ``scale=9``, 8x8, majority 0.85) the train split has 9,711 samples in groups
    (y, a) = (0,0): 4,077, (0,1): 720, (1,0): 738, (1,1): 4,176; val and test 3,231 samples each, colour-balanced
    within each class (about 800 per group). ``scale=1, size=16, majority=0.9`` gives the small data set of
    unlearn-audit 0.1 (train 1,079 = 480 / 53 / 55 / 491, val and test 359, forget set 27).

    The default forget request is De Min et al. 2025's group-imbalanced scenario: half (``forget_ratio``) of the
    minority group ``(y=1, a=0)`` (``>=5`` digits in red), drawn as whole source images with all their copies:
    41 of its 82 source images, 369 samples, so the retain set under-represents that group even more.

    The copies of one source image are not independent samples, so the returned ``AuditData`` declares them as
    ``clusters`` (one id per source image): every interval resamples whole source images.

    Args:
        target: ``"binary"`` or ``"digit"``.
        size: output side length in pixels (>= 8).
        majority: train share of the majority colour within each class, in (0.5, 1).
        test_majority: same for val/test, in [0.5, 1).
        val_fraction, test_fraction: split sizes.
        forget_groups: ``(y, a)`` groups to forget from (default ``((1, 0),)``).
        forget_ratio: fraction of each forget group to forget.
        scale: versions of each bundled image (>= 1): the image and ``scale - 1`` deformed copies.
        seed: fixes splits, colouring, the forget set and the deformations.
    """
    from sklearn.datasets import load_digits

    if target not in ("binary", "digit"):
        raise ValueError(f"target: expected 'binary' or 'digit', got {target!r}")
    if not isinstance(size, int) or size < 8:
        raise ValueError(f"size: expected an int >= 8, got {size!r}")
    if not 0.5 < majority < 1.0:
        raise ValueError(f"majority: expected a number in (0.5, 1), got {majority!r}")
    if not 0.5 <= test_majority < 1.0:
        raise ValueError(f"test_majority: expected a number in [0.5, 1), got {test_majority!r}")
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"val_fraction, test_fraction: expected positive fractions summing to < 1, got "
                         f"{val_fraction!r}, {test_fraction!r}")
    if not isinstance(scale, int) or isinstance(scale, bool) or scale < 1:
        raise ValueError(f"scale: expected an int >= 1 (versions of each bundled image), got {scale!r}")
    digits = load_digits()
    grey = torch.tensor(digits.images, dtype=torch.float32) / 16.0
    grey = F.interpolate(grey[:, None], size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    digit = torch.tensor(digits.target, dtype=torch.int64)
    y = (digit >= 5).long() if target == "binary" else digit
    n_classes = 2 if target == "binary" else 10
    classes = ("<5", ">=5") if target == "binary" else tuple(str(d) for d in range(10))

    gen = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(len(y), generator=gen)
    n_test = round(test_fraction * len(y))
    n_val = round(val_fraction * len(y))
    split_idx = {"test": perm[:n_test], "val": perm[n_test:n_test + n_val], "train": perm[n_test + n_val:]}
    palette = torch.tensor(COLORS)
    sources, splits = {}, {}
    for name, idx in split_idx.items():     # splits, colours and the forget set are drawn over source images
        share = majority if name == "train" else test_majority
        yy = y[idx]
        a = _assign_colours(yy, share, gen)
        sources[name] = GroupDataset(grey[idx] * palette[a][:, :, None, None], yy, a, classes=classes,
                                     attr_names=ATTR_NAMES, n_classes=n_classes, n_attrs=2)
    groups = forget_groups if forget_groups is not None else ((1, 0),)
    forget_src = forget_from_groups(sources["train"], groups=groups, ratio=forget_ratio, seed=seed)
    deform = torch.Generator().manual_seed(int(seed) + 7919)
    for name, src in sources.items():       # every copy of one source image lies in its source's split
        x = deformed_copies(src.x, copies=scale, gen=deform)
        splits[name] = GroupDataset(x, src.y.repeat_interleave(scale), src.a.repeat_interleave(scale),
                                    classes=classes, attr_names=ATTR_NAMES, mean=(0.5, 0.5, 0.5),
                                    std=(0.5, 0.5, 0.5), name=f"colored_digits/{name}", n_classes=n_classes,
                                    n_attrs=2)
    forget_idx = (forget_src[:, None] * scale + torch.arange(scale)).flatten()
    clusters = {name: torch.arange(len(src)).repeat_interleave(scale) for name, src in sources.items()}
    return AuditData(train=splits["train"], val=splits["val"], test=splits["test"], forget_idx=forget_idx,
                     dominant_groups=groups, clusters=clusters if scale > 1 else None)


def deformed_copies(images: torch.Tensor, *, copies: int, gen: torch.Generator, rotate: float = 12.0,
                    zoom: float = 0.1, shear: float = 0.15, shift: float = 0.08, elastic: float = 0.06
                    ) -> torch.Tensor:
    """``copies`` versions of each image: the image itself, then random affine + elastic deformations of it.

    As the "infinite MNIST" data sets (Loosli, Canu & Bottou 2007) grew MNIST: copy ``j > 0`` of image ``i``
    samples ``x'(p) = x(A p + t + d(p))`` (bilinear, zero outside) with a per-copy affine map ``A`` (rotation up to
    ``rotate`` degrees, zoom ``1 +- zoom``, shear up to ``shear``), a shift ``t`` up to ``shift`` (in units of half
    the image side) and a smooth elastic displacement ``d`` (Gaussian noise on a 4x4 grid, bicubically
    upsampled, standard deviation ``elastic``). One batched ``grid_sample``: no per-image loop.

    Args:
        images: ``(N, C, H, W)`` in [0, 1].
        copies: versions per image (>= 1); copy 0 is the image unchanged.
        gen: the random generator (fixes every deformation).

    Returns:
        ``(N * copies, C, H, W)``, image-major: copy ``j`` of image ``i`` is row ``i * copies + j``.
    """
    n, c, h, w = images.shape
    if copies == 1:
        return images.clone()
    m = n * (copies - 1)
    u = lambda *shape: torch.rand(*shape, generator=gen) * 2 - 1  # noqa: E731 -- uniform on [-1, 1]
    angle = u(m) * rotate * torch.pi / 180
    scale = 1 + u(m) * zoom
    sh = u(m) * shear
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin + sh, u(m) * shift], 1),
                         torch.stack([sin, cos, u(m) * shift], 1)], 1)
    grid = F.affine_grid(theta, [m, c, h, w], align_corners=False)
    coarse = torch.randn(m, 2, 4, 4, generator=gen) * elastic
    grid = grid + F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False).permute(0, 2, 3, 1)
    source = images.repeat_interleave(copies - 1, dim=0)
    warped = F.grid_sample(source, grid, mode="bilinear", padding_mode="zeros", align_corners=False).clamp(0, 1)
    out = torch.empty(n, copies, c, h, w, dtype=images.dtype)
    out[:, 0] = images
    out[:, 1:] = warped.view(n, copies - 1, c, h, w)
    return out.view(n * copies, c, h, w)


def _assign_colours(y: torch.Tensor, majority: float, gen: torch.Generator) -> torch.Tensor:
    """Per class, exactly ``round((1 - majority) * n_c)`` samples get the minority colour (vectorised)."""
    major = y % 2
    a = major.clone()
    scores = torch.rand(len(y), generator=gen)
    # rank samples within their class by a random score; the lowest-ranked minority share flips colour
    order = torch.argsort(scores)
    ys = y[order]
    order = order[torch.argsort(ys, stable=True)]
    counts = torch.bincount(y)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(y)
    rank[order] = torch.arange(len(y)) - starts[y[order]]
    n_minor = torch.round((1.0 - majority) * counts.double()).long()
    flip = rank < n_minor[y]
    a[flip] = 1 - major[flip]
    return a
