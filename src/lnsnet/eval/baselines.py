"""Classic superpixel methods behind one signature, for benchmarks against LNS-Net.

Every adapter is ``fn(image, n_segments, **kw) -> labels`` where ``image`` is an
``(H, W, 3)`` uint8 RGB array, ``n_segments`` the number of superpixels asked for (K), and
``labels`` an ``(H, W)`` int32 array with labels ``0..k-1``, every label 4-connected. Each
adapter maps K to its method's own parameters the way the method's authors (or the library
that ships it) intend; the number delivered, ``labels.max() + 1``, differs from K and is
what benchmarks should report. Keyword arguments override the documented defaults. Every
adapter checks ``image`` and ``n_segments`` (an integer in ``[1, H W]``) and raises
ValueError otherwise; its docstring lists only its own keyword arguments.

Methods (:data:`BASELINES`), name: method (paper), package:

- ``slic``: SLIC (Achanta et al., TPAMI 2012), scikit-image
- ``slico``: SLICO, zero-parameter SLIC (same paper), scikit-image ``slic_zero=True``
- ``cv_slic``, ``cv_slico``: SLIC and SLICO, opencv-contrib-python-headless
- ``lsc``: Linear Spectral Clustering (Li & Chen, CVPR 2015), opencv-contrib
- ``seeds``: SEEDS (Van den Bergh et al., ECCV 2012), opencv-contrib
- ``snic``: SNIC (Achanta & Susstrunk, CVPR 2017), pysnic (pure Python, ~2 s at 481x321)
- ``felzenszwalb``: graph-based segmentation (Felzenszwalb & Huttenlocher, IJCV 2004),
  scikit-image, its scale searched so the count lands near K
- ``watershed``: compact watershed (Neubert & Protzel, ICPR 2014), scikit-image
- ``ers``: entropy rate superpixels (Liu et al., CVPR 2011), ours (:mod:`lnsnet.eval.ers`)
- ``rim``: regularised information maximisation CNN (Suzuki, ICASSP 2020), ours
  (:mod:`lnsnet.eval.rim`); trains a network per image, needs a GPU in practice
- ``ssn``: superpixel sampling network (Jampani et al., ECCV 2018), ours
  (:mod:`lnsnet.eval.ssn`) with the shipped weights trained here on BSDS500 train labels
- ``fast_slic``: SLIC with AVX2 kernels, the ``fast_slic`` package; registered only when
  it imports (``pip install --no-build-isolation fast_slic``, after numpy)

Optional packages are imported when an adapter is called; a missing one raises an
ImportError that names the pip package to install.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable

import numpy as np

from .labels import split_disconnected

__all__ = [
    "BASELINES",
    "get_method",
    "finalize_labels",
    "slic",
    "slico",
    "cv_slic",
    "cv_slico",
    "lsc",
    "seeds",
    "snic",
    "felzenszwalb",
    "watershed",
    "fast_slic",
    "ers",
    "rim",
    "ssn",
]


# ------------------------------------------------------------------------------- helpers


def _check_image(image) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image must have shape (H, W, 3), got {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 RGB, got dtype {image.dtype}")
    return np.ascontiguousarray(image)


def _check_k(n_segments, image: np.ndarray) -> int:
    n = image.shape[0] * image.shape[1]
    if (isinstance(n_segments, (bool, np.bool_))
            or not isinstance(n_segments, (int, np.integer))
            or not 1 <= n_segments <= n):  # fmt: skip
        raise ValueError(
            f"n_segments must be an integer in [1, H*W] = [1, {n}], got {n_segments!r}"
        )
    return int(n_segments)


def _region_size(image: np.ndarray, k: int) -> int:
    """Side of the square cell of a K-cell grid on the image: round(sqrt(H W / K))."""
    return max(1, int(round(math.sqrt(image.shape[0] * image.shape[1] / k))))


def finalize_labels(labels) -> np.ndarray:
    """Make any method's output follow the package's label convention.

    ``labels``, array_like of int of shape ``(H, W)``, becomes an ``(H, W)`` int32 map in
    which every 4-connected piece of every label is its own label, numbered ``0..k-1``
    (raster order of first pixel). Nothing is merged, so a method that leaves disconnected
    fragments delivers more segments, and that is reported.
    """
    return split_disconnected(np.asarray(labels))


def _import(module: str, pip_name: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"this baseline needs the package {pip_name!r}: pip install {pip_name}"
        ) from exc


def _cv2():
    cv2 = _import("cv2", "opencv-contrib-python-headless")
    if not hasattr(cv2, "ximgproc"):
        raise ImportError(
            "cv2.ximgproc is missing: OpenCV without the contrib modules is installed; "
            "pip install opencv-contrib-python-headless (and uninstall opencv-python)"
        )
    return cv2


def _cv_lab(image: np.ndarray, blur: bool = True) -> np.ndarray:
    """The preprocessing the OpenCV docs recommend: 3x3 Gaussian blur, then CIELAB."""
    cv2 = _cv2()
    if blur:
        image = cv2.GaussianBlur(image, (3, 3), 0)
    return cv2.cvtColor(image, cv2.COLOR_RGB2Lab)


# ------------------------------------------------------------------------- scikit-image


def slic(image, n_segments, *, compactness=10.0, max_num_iter=10, sigma=0.0,
         min_size_factor=0.5, max_size_factor=3.0, slic_zero=False):  # fmt: skip
    """SLIC superpixels (Achanta et al., TPAMI 2012) from scikit-image.

    ``skimage.segmentation.slic`` in CIELAB with K seeds (its ``n_segments``) on a regular
    grid, compactness 10 (the authors' value for Lab), 10 iterations and its connectivity
    enforcement (``enforce_connectivity=True``: segments under ``min_size_factor`` of the
    mean size are merged).

    Parameters
    ----------
    compactness, max_num_iter, sigma, min_size_factor, max_size_factor, slic_zero
        Passed to ``skimage.segmentation.slic``.
    """
    from skimage.segmentation import slic as _slic

    image = _check_image(image)
    k = _check_k(n_segments, image)
    labels = _slic(
        image, n_segments=k, compactness=compactness, max_num_iter=max_num_iter,
        sigma=sigma, min_size_factor=min_size_factor, max_size_factor=max_size_factor,
        slic_zero=slic_zero, enforce_connectivity=True, start_label=0, channel_axis=-1,
    )  # fmt: skip
    return finalize_labels(labels)


def slico(image, n_segments, *, compactness=10.0, max_num_iter=10, sigma=0.0, min_size_factor=0.5,
          max_size_factor=3.0):
    """SLICO, the zero-parameter SLIC (Achanta et al., TPAMI 2012), from scikit-image.

    As :func:`slic` (same keywords) with ``slic_zero=True``: the colour normaliser of each
    superpixel is its largest colour distance of the previous iteration, so the
    compactness does not need tuning (the value passed only seeds the first iteration).
    """
    return slic(image, n_segments, compactness=compactness, max_num_iter=max_num_iter, sigma=sigma,
                min_size_factor=min_size_factor, max_size_factor=max_size_factor, slic_zero=True)


def felzenszwalb(image, n_segments, *, sigma=0.8, min_size=None, tolerance=0.1,
                 max_runs=6):  # fmt: skip
    """Felzenszwalb-Huttenlocher graph segmentation (IJCV 2004) with its scale set for K.

    The method has no K; its ``scale`` (larger -> fewer, larger segments) and
    ``min_size`` set the count. This adapter fixes ``sigma = 0.8`` (the authors' value)
    and ``min_size = max(1, round(0.1 N / K))`` (fragments under a tenth of the mean
    superpixel are merged, which caps the count near ``10 K``), then searches ``scale`` by
    secant steps on ``log(count)`` against ``log(scale)``, starting at 100, until the count
    is within ``tolerance * K`` of K or ``max_runs`` segmentations were made; the run whose
    count is closest to K is returned. Each run costs one full segmentation, so the time
    of this adapter includes the search.

    Parameters
    ----------
    sigma : float, default 0.8
    min_size : int, optional
        Overrides the ``0.1 N / K`` rule.
    tolerance : float, default 0.1
        Relative distance to K at which the search stops.
    max_runs : int, default 6
    """
    from skimage.segmentation import felzenszwalb as _fh

    image = _check_image(image)
    k = _check_k(n_segments, image)
    n = image.shape[0] * image.shape[1]
    if min_size is None:
        min_size = max(1, int(round(0.1 * n / k)))
    if max_runs < 1:
        raise ValueError(f"max_runs must be >= 1, got {max_runs!r}")

    def run(log_scale: float):
        lab = finalize_labels(_fh(image, scale=math.exp(log_scale), sigma=sigma,
                                  min_size=min_size, channel_axis=-1))  # fmt: skip
        return lab, int(lab.max()) + 1

    lo_x, hi_x = math.log(0.1), math.log(1e6)
    target = math.log(k)
    x = math.log(100.0)
    slope = -0.7  # d log(count) / d log(scale), first guess
    best, best_err = None, math.inf
    prev = None
    for _ in range(max_runs):
        labels, count = run(x)
        err = abs(count - k)
        if err < best_err:
            best, best_err = labels, err
        if err <= tolerance * k:
            break
        y = math.log(count)
        if prev is not None and prev[0] != x and prev[1] != y:
            slope = min(-0.1, max(-3.0, (y - prev[1]) / (x - prev[0])))
        prev = (x, y)
        x_new = min(hi_x, max(lo_x, x + (target - y) / slope))
        if x_new == x:
            break
        x = x_new
    return best


def watershed(image, n_segments, *, compactness=0.001):
    """Compact watershed (Neubert & Protzel, ICPR 2014) from scikit-image.

    The watershed of the Sobel gradient magnitude of the gray image (values in [0, 1]),
    flooded from K markers on a regular grid (``markers=K``), with the compactness term of
    compact watershed; ``compactness = 0.001`` is scikit-image's example value for this
    gradient scale (0 gives the classic watershed).

    Parameters
    ----------
    compactness : float, default 0.001
    """
    from skimage.color import rgb2gray
    from skimage.filters import sobel
    from skimage.segmentation import watershed as _ws

    image = _check_image(image)
    k = _check_k(n_segments, image)
    gradient = sobel(rgb2gray(image))
    return finalize_labels(_ws(gradient, markers=k, compactness=compactness))


# ------------------------------------------------------------------------------- OpenCV


def _cv_superpixels(image, n_segments, create, num_iterations, min_element_size) -> np.ndarray:
    """OpenCV's recipe: ``create(cv2, lab, region_size)`` on the blurred CIELAB image with
    ``region_size = round(sqrt(H W / K))``, ``num_iterations`` iterations, then
    ``enforceLabelConnectivity(min_element_size)`` unless that is 0."""
    image = _check_image(image)
    k = _check_k(n_segments, image)
    cv2 = _cv2()
    sp = create(cv2, _cv_lab(image), _region_size(image, k))
    sp.iterate(int(num_iterations))
    if min_element_size > 0:
        sp.enforceLabelConnectivity(int(min_element_size))
    return finalize_labels(sp.getLabels())


def _cv_slic(image, n_segments, algorithm: str, ruler, num_iterations, min_element_size) -> np.ndarray:
    def create(cv2, lab, region_size):
        algo = {"slic": cv2.ximgproc.SLIC, "slico": cv2.ximgproc.SLICO}[algorithm]
        return cv2.ximgproc.createSuperpixelSLIC(lab, algorithm=algo, region_size=region_size, ruler=float(ruler))

    return _cv_superpixels(image, n_segments, create, num_iterations, min_element_size)


def cv_slic(image, n_segments, *, ruler=10.0, num_iterations=10, min_element_size=25):
    """SLIC from OpenCV contrib (``cv2.ximgproc.createSuperpixelSLIC``, ``SLIC``).

    As the OpenCV docs recommend: 3x3 Gaussian blur, CIELAB, ``region_size =
    round(sqrt(H W / K))``, ``ruler = 10`` and 10 iterations (the API defaults), then
    ``enforceLabelConnectivity(25)`` (segments under 25 % of the mean size are absorbed).

    Parameters
    ----------
    ruler : float, default 10.0
    num_iterations : int, default 10
    min_element_size : int, default 25
        Percent of the mean size; 0 skips the connectivity step.
    """
    return _cv_slic(image, n_segments, "slic", ruler, num_iterations, min_element_size)


def cv_slico(image, n_segments, *, num_iterations=10, min_element_size=25):
    """SLICO from OpenCV contrib (``createSuperpixelSLIC`` with ``SLICO``).

    As :func:`cv_slic`; SLICO adapts the compactness per superpixel, so ``ruler`` is not
    used.

    Parameters
    ----------
    num_iterations, min_element_size
        As in :func:`cv_slic` (defaults 10 and 25).
    """
    return _cv_slic(image, n_segments, "slico", 10.0, num_iterations, min_element_size)


def lsc(image, n_segments, *, ratio=0.075, num_iterations=10, min_element_size=25):
    """Linear Spectral Clustering (Li & Chen, CVPR 2015) from OpenCV contrib.

    ``cv2.ximgproc.createSuperpixelLSC`` on the blurred CIELAB image (the preprocessing
    the OpenCV docs recommend) with ``region_size = round(sqrt(H W / K))``, ``ratio =
    0.075`` (the API default and the authors' value) and 10 iterations (the API default),
    then ``enforceLabelConnectivity(25)``. Note: OpenCV's LSC is not deterministic (two
    runs on the same image can differ slightly).

    Parameters
    ----------
    ratio : float, default 0.075
    num_iterations, min_element_size
        As in :func:`cv_slic` (defaults 10 and 25).
    """

    def create(cv2, lab, region_size):
        return cv2.ximgproc.createSuperpixelLSC(lab, region_size=region_size, ratio=float(ratio))

    return _cv_superpixels(image, n_segments, create, num_iterations, min_element_size)


def seeds(image, n_segments, *, num_levels=4, prior=2, histogram_bins=5,
          double_step=False, num_iterations=4):  # fmt: skip
    """SEEDS (Van den Bergh et al., ECCV 2012) from OpenCV contrib.

    ``cv2.ximgproc.createSuperpixelSEEDS`` with ``num_superpixels = K`` on the CIELAB
    image (the docs: "HSV or Lab color space. Lab is a bit better"), with the parameters
    of OpenCV's SEEDS sample: 4 block levels, prior 2, 5 histogram bins, no double step,
    4 pixel-level iterations. SEEDS offers no connectivity step and can leave a label in
    several pieces: each piece becomes its own label (see :func:`finalize_labels`).

    OpenCV rounds the superpixel size to a multiple of ``2**(num_levels - 1)`` pixels, so
    the count delivered is coarsely quantised and below K (on 481x321 with 4 levels: K=100
    gives 60, K=400 and K=600 both give 260). ``num_levels="auto"`` picks, among 2..6
    levels, the one whose count is closest to K (ties: more levels).

    Parameters
    ----------
    num_levels : int or "auto", default 4
    prior, histogram_bins, double_step, num_iterations
        Passed to OpenCV.
    """
    image = _check_image(image)
    k = _check_k(n_segments, image)
    cv2 = _cv2()
    h, w = image.shape[:2]

    def make(levels: int):
        return cv2.ximgproc.createSuperpixelSEEDS(
            w, h, 3, k, levels, int(prior), int(histogram_bins), bool(double_step)
        )

    if num_levels == "auto":
        counts = {lv: make(lv).getNumberOfSuperpixels() for lv in range(2, 7)}
        num_levels = min(counts, key=lambda lv: (abs(counts[lv] - k), -lv))
    elif isinstance(num_levels, bool) or not isinstance(num_levels, (int, np.integer)) \
            or num_levels < 1:  # fmt: skip
        raise ValueError(f"num_levels must be an integer >= 1 or 'auto', got {num_levels!r}")
    sp = make(int(num_levels))
    sp.iterate(_cv_lab(image, blur=False), int(num_iterations))
    return finalize_labels(sp.getLabels())


# --------------------------------------------------------------------------------- SNIC


def _snic_seeds(h: int, w: int, k: int) -> list[list[int]]:
    """Seed grid of the SNIC authors' code (``FindSeeds``): ``[x, y]`` positions.

    Step ``round(sqrt(N / K))`` (or one less when that count is closer to K), seeds at
    half a step from the top-left corner, kept when at least half a step from the
    bottom/right border.
    """
    step = max(1, int(math.sqrt(h * w / k) + 0.5))
    xs, ys = w // step, h // step
    if step > 1:
        err1 = abs(xs * ys - k)
        err2 = abs((w // (step - 1)) * (h // (step - 1)) - k)
        if err2 < err1:
            step -= 1
            xs, ys = w // step, h // step
    half = step // 2
    numk = xs * ys
    out = [
        [x, y]
        for y in range(half, h, step)
        for x in range(half, w, step)
        if y <= h - half and x <= w - half
    ][:numk]
    return out or [[w // 2, h // 2]]


def snic(image, n_segments, *, compactness=20.0):
    """SNIC, Simple Non-Iterative Clustering (Achanta & Susstrunk, CVPR 2017), via pysnic.

    Seeds on the grid of the authors' code (step ``round(sqrt(N / K))``), CIELAB colour
    (scikit-image ``rgb2lab``) and the authors' distance
    ``d^2 = ||lab_i - lab_k||^2 + (m / S)^2 ||xy_i - xy_k||^2`` with ``S = sqrt(N / K)``
    and ``m = compactness = 20`` (the default of the authors' demo). pysnic's own distance
    weighs position by ``1/S`` and colour by ``1/m`` without squares, so this adapter passes
    the authors' distance to ``pysnic.algorithms.snic.snic``. Region growing keeps every
    label connected.

    pysnic is pure Python: about 1.7 s for a 481x321 image on one core, against ~85 ms
    for the authors' C code; do not compare its time with compiled methods.

    Parameters
    ----------
    compactness : float, default 20.0
    """
    image = _check_image(image)
    k = _check_k(n_segments, image)
    snic_mod = _import("pysnic.algorithms.snic", "pysnic")
    nd = _import("pysnic.ndim.operations_collections", "pysnic").nd_computations["3"]
    from skimage.color import rgb2lab

    h, w = image.shape[:2]
    seed_list = _snic_seeds(h, w, k)
    s2 = h * w / len(seed_list)
    wt = float(compactness) ** 2 / s2

    def distance(pa, pb, ca, cb, wt=wt):
        dx = pa[0] - pb[0]
        dy = pa[1] - pb[1]
        d0 = ca[0] - cb[0]
        d1 = ca[1] - cb[1]
        d2 = ca[2] - cb[2]
        return d0 * d0 + d1 * d1 + d2 * d2 + (dx * dx + dy * dy) * wt

    labels, _, _ = snic_mod.snic(
        rgb2lab(image).tolist(), seed_list, compactness, nd_computation=nd,
        image_distance=distance,
    )  # fmt: skip
    return finalize_labels(np.asarray(labels, dtype=np.int64))


# ---------------------------------------------------------------------------- fast_slic


def _has_avx2() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as f:
            return " avx2" in f.read()
    except OSError:
        return False


def fast_slic(image, n_segments, *, compactness=10.0, min_size_factor=0.25,
              max_iter=10, num_threads=1, avx2=None):  # fmt: skip
    """SLIC from the ``fast_slic`` package (Kim, 2019; AVX2 kernels).

    ``Slic(num_components=K, compactness=10)`` as in the package's README (its own
    RGB->Lab conversion, 10 iterations, fragments under ``min_size_factor = 0.25`` of the
    mean size merged, the package default). ``SlicAvx2`` is used when the CPU reports AVX2
    (Linux ``/proc/cpuinfo``) unless ``avx2`` says otherwise. One thread by default, so
    benchmark workers do not compete for cores.

    Installing: the package ships only a source distribution that builds against the
    installed numpy; ``pip install --no-build-isolation fast_slic`` (after numpy) builds it
    (checked with fast_slic 0.4.0, numpy 2.4, Python 3.11, g++). When it is not importable
    the adapter is left out of :data:`BASELINES`.

    Parameters
    ----------
    compactness : float, default 10.0
    min_size_factor : float, default 0.25
    max_iter : int, default 10
    num_threads : int, default 1
        -1 uses every core.
    avx2 : bool, optional
        Force the AVX2 (True) or portable (False) kernels.
    """
    image = _check_image(image)
    k = _check_k(n_segments, image)
    if avx2 is None:
        avx2 = _has_avx2()
    if avx2:
        cls = _import("fast_slic.avx2", "fast_slic").SlicAvx2
    else:
        cls = _import("fast_slic", "fast_slic").Slic
    model = cls(num_components=k, compactness=float(compactness),
                min_size_factor=float(min_size_factor), num_threads=int(num_threads))  # fmt: skip
    labels = model.iterate(image, max_iter=int(max_iter))
    return finalize_labels(labels)


# ----------------------------------------------------------------------------- registry

Method = Callable[..., np.ndarray]


def ers(image, n_segments, *, lambda_prime=0.5, sigma=5.0, connectivity=4):
    """ERS, entropy rate superpixels (Liu et al., CVPR 2011), our numba implementation
    (:mod:`lnsnet.eval.ers`): lazy greedy edge selection on the 4-connected pixel graph
    (RGB distances, ``w = exp(-d^2 / (2 sigma^2))``), entropy rate plus balancing term,
    the authors' ``lambda' = 0.5``, ``sigma = 5``; exactly K 4-connected segments. (On the
    8-connected graph segments joined only diagonally fall apart into 4-connected pieces:
    on BSDS500 test K=100 delivered 693 pieces, so 4 is the default here.)

    Parameters
    ----------
    lambda_prime, sigma : float
    connectivity : {4, 8}
    """
    from .ers import ers as _ers

    image = _check_image(image)
    k = _check_k(n_segments, image)
    return finalize_labels(_ers(image, k, lambda_prime=lambda_prime, sigma=sigma, connectivity=connectivity))


def rim(image, n_segments, *, iterations=500, lr=1e-2, lam=2.0, alpha=2.0, beta=2.0, seed=0, device=None):
    """RIM (Suzuki, ICASSP 2020), our implementation (:mod:`lnsnet.eval.rim`): a CNN
    trained from scratch on the image for ``iterations`` Adam steps on the regularised
    information maximisation loss with the smoothness and reconstruction terms; the
    paper's settings by default (500 steps: about half an hour per 481x321 image on two
    CPU cores).
    """
    from .rim import rim as _rim

    image = _check_image(image)
    k = _check_k(n_segments, image)
    return finalize_labels(_rim(image, k, iterations=iterations, lr=lr, lam=lam, alpha=alpha, beta=beta,
                                seed=seed, device=device))


def ssn(image, n_segments, *, model=None, iterations=10, device=None):
    """SSN (Jampani et al., ECCV 2018), our implementation (:mod:`lnsnet.eval.ssn`): the
    supervised feature network (the shipped baseline model, trained here on BSDS500 train
    labels, or ``model``) and 10 differentiable-SLIC iterations, made connected. Needs
    labels to train; see ``src/lnsnet/weights/ssn_bsds500.md``.
    """
    from .ssn import ssn as _ssn

    image = _check_image(image)
    k = _check_k(n_segments, image)
    return finalize_labels(_ssn(image, k, model=model, iterations=iterations, device=device))


#: Registered adapters by name. ``fast_slic`` is present only when the package imports.
BASELINES: dict[str, Method] = {
    "slic": slic,
    "slico": slico,
    "cv_slic": cv_slic,
    "cv_slico": cv_slico,
    "lsc": lsc,
    "seeds": seeds,
    "snic": snic,
    "felzenszwalb": felzenszwalb,
    "watershed": watershed,
    "ers": ers,
    "rim": rim,
    "ssn": ssn,
}
if importlib.util.find_spec("fast_slic") is not None:
    BASELINES["fast_slic"] = fast_slic


def get_method(name: str) -> Method:
    """The adapter registered under ``name`` (see :data:`BASELINES`).

    Parameters
    ----------
    name : str
        Case-insensitive, e.g. ``"slic"`` or ``"SEEDS"``.

    Returns
    -------
    callable
        ``fn(image, n_segments, **kw) -> labels``.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known ones.
    """
    key = str(name).strip().lower()
    if key not in BASELINES:
        hint = ""
        if key == "fast_slic":
            hint = " (fast_slic is not installed: pip install --no-build-isolation fast_slic)"
        raise ValueError(
            f"unknown baseline {name!r}{hint}; known: {', '.join(sorted(BASELINES))}"
        )
    return BASELINES[key]
