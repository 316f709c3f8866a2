"""The "Superpixels" dock widget: an image layer in, a labels layer of LNS-Net superpixels
(or, for a volume, supervoxels) out.

:func:`lnsnet.segment` runs in a worker thread (napari's ``thread_worker``), so the viewer
stays responsive; a busy bar in the widget and napari's activity indicator show that it
runs. What a refused input says is shown as a napari error notification, and nothing is
added.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ._layers import Job, plan_job

__all__ = ["SuperpixelWidget"]

log = logging.getLogger(__name__)

PLANE, VOLUME = "current plane (2D)", "whole volume (3D)"
#: what the image shows: regions (lnsnet's clustering) or boundaries (lnsnet.flood)
SHOWS = {"regions": None, "bright boundaries (cell walls, membranes)": "bright", "dark boundaries": "dark"}
#: errors that are lnsnet's word on the input: shown as their message alone
USER_ERRORS = (ValueError, TypeError)


def _presets():
    from lnsnet.cluster.options import DEFAULT_PRESET, PRESETS  # imports torch: on opening, not at import

    return DEFAULT_PRESET, {name: dict(values) for name, values in PRESETS.items()}


def _volume_compactness() -> float | None:
    """The 3-D clustering's default compactness (volumes take no preset); None if unknown."""
    try:
        from lnsnet.volume import DEFAULTS
    except ImportError:
        return None
    return float(DEFAULTS["compactness"])


def _flood_compactness() -> float | None:
    """The boundary flood's default compactness; None if unknown."""
    try:
        from lnsnet.flood import DEFAULTS
    except ImportError:
        return None
    return float(DEFAULTS["compactness"])


def _segment(job: Job, n_segments: int, clustering: str | None, compactness: float, boundaries: bool,
             walls: str | None = None):
    """Runs in the worker thread: read the data, segment, place; returns what the GUI adds.
    ``walls``: ``"bright"`` / ``"dark"`` for a boundary image (``segment(boundaries=)``)."""
    import lnsnet
    from lnsnet.prepare import finite_pixels

    image = job.image()
    mask = finite_pixels(image, job.channel_axis)  # NaN / inf pixels (no data) left out: label 0 there
    if mask is not None and not mask.any():
        raise ValueError(f"this {'volume' if job.spatial == 3 else 'plane'} holds no finite pixel (all NaN or "
                         "infinite): nothing to segment")
    t0 = time.perf_counter()
    labels = lnsnet.segment(image, n_segments=n_segments, compactness=compactness,
                            clustering=None if walls else clustering, spacing=job.spacing,
                            channel_axis=job.channel_axis, convert2lab=job.convert2lab, start_label=1, mask=mask,
                            **({"boundaries": walls} if walls else {}))
    seconds = time.perf_counter() - t0
    edges = None
    if boundaries:
        from skimage.segmentation import find_boundaries

        if labels.ndim == 3:  # in-plane boundaries, slice by slice: a supervoxel's top and bottom faces
            edges = np.stack([find_boundaries(plane, mode="inner") for plane in labels])  # would fill whole slices
        else:
            edges = find_boundaries(labels, mode="inner")
        edges = job.place(edges.astype(np.uint8))
    n = int(np.unique(labels).size)
    return job, job.place(labels), edges, n, seconds


class SuperpixelWidget(QWidget):
    """Superpixels of an image layer with :func:`lnsnet.segment`.

    Controls: the image layer; K (``n_segments``); the clustering preset and its compactness
    (the preset's value until changed); whether the layer's first axis holds channels;
    current plane or whole volume; whether to add a boundaries layer. "Run" adds a labels
    layer, one per image layer and mode: ``"<layer> superpixels (2D)"`` for planes
    (``"<layer> superpixels"`` for a 2-D layer), ``"<layer> supervoxels (3D)"`` for volumes.
    A run at another time point or z-slice writes its plane or volume into that layer in
    place (a series is filled as the user steps through it); a run at the same position
    replaces it. Only above ``IN_PLACE_BYTES`` does each position get a layer of its own,
    named with it (``[axis 0=..]``). A whole volume is segmented by lnsnet's 3-D
    clustering, which takes no preset: the preset box is then off and compactness starts at
    the 3-D default. "image shows": regions (the clustering) or bright / dark boundaries
    (cell walls, membranes: ``segment(boundaries=)``, a compact watershed; no preset, its own
    default compactness), in a plane or a volume.
    """

    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.worker = None  #: the last worker (tests wait on it)
        self.last_error: str | None = None
        self.default_preset, self.presets = _presets()
        self.volume_compactness = _volume_compactness()
        self.flood_compactness = _flood_compactness()
        self._shown_layer = None  # the layer the controls were last set for

        self.layer_box = QComboBox()
        self.layer_box.setToolTip("The image layer to segment (gray, RGB/RGBA, multichannel or a volume)")
        self.k_box = QSpinBox()
        self.k_box.setRange(1, 10_000_000)
        self.k_box.setValue(100)
        self.k_box.setToolTip("K, the number of superpixels asked for (the number delivered is close to K)")
        self.preset_box = QComboBox()
        self.preset_box.addItems(list(self.presets))
        self.preset_box.setToolTip("fast: regular shapes from the input and the model's contour head (default); "
                                   "compact: the same on the feature embedder's output too, about twice the "
                                   "time; paper: the paper's one-shot clustering, more boundary recall, ragged "
                                   "shapes")
        self.compactness_box = QDoubleSpinBox()
        self.compactness_box.setRange(0.0, 10_000.0)
        self.compactness_box.setDecimals(2)
        self.compactness_box.setSingleStep(1.0)
        self.compactness_box.setToolTip("Weight of the spatial distance: larger gives more regular shapes, "
                                        "0 pure feature clustering (set to the preset's value when it changes)")
        self.shows_box = QComboBox()
        self.shows_box.addItems(list(SHOWS))
        self.shows_box.setToolTip("regions: lnsnet's clustering (default); bright or dark boundaries: the image "
                                  "shows cell walls or membranes (or a boundary map), and superpixels meet on "
                                  "their ridges (a compact watershed from the seed grid)")
        self.channels_box = QCheckBox("channels in first axis")
        self.channels_box.setToolTip("The layer's first axis holds channels, e.g. (C, Y, X): one multichannel image")
        self.scope_box = QComboBox()
        self.scope_box.addItems([PLANE, VOLUME])
        self.scope_box.setToolTip("current plane: the displayed 2-D plane at the current position of the other "
                                  "axes (time point, z); whole volume: the displayed 3-D volume at the current "
                                  "time point, with spacing from the layer's scale")
        self.boundaries_box = QCheckBox("add boundaries layer")
        self.boundaries_box.setChecked(True)
        self.run_button = QPushButton("Run")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy indicator: segment reports no steps
        self.progress.setVisible(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        form = QFormLayout()
        form.addRow("image", self.layer_box)
        form.addRow("superpixels (K)", self.k_box)
        form.addRow("image shows", self.shows_box)
        form.addRow("clustering", self.preset_box)
        form.addRow("compactness", self.compactness_box)
        form.addRow("segment", self.scope_box)
        form.addRow("", self.channels_box)
        form.addRow("", self.boundaries_box)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.run_button)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.preset_box.currentTextChanged.connect(self._preset_changed)
        self.preset_box.setCurrentText(self.default_preset)
        self._preset_changed(self.default_preset)
        self.scope_box.currentTextChanged.connect(self._scope_changed)
        self.shows_box.currentTextChanged.connect(self._shows_changed)
        self.layer_box.currentTextChanged.connect(self._layer_changed)
        self.run_button.clicked.connect(self.run)
        layers = self.viewer.layers
        for event in (layers.events.inserted, layers.events.removed, layers.events.moved):
            event.connect(self._refresh_layers)
        layers.events.inserted.connect(self._watch_name)
        layers.selection.events.active.connect(self._follow_active)
        for layer in layers:
            layer.events.name.connect(self._refresh_layers)
        self._refresh_layers()

    # ------------------------------------------------------------------ controls
    def _image_layers(self):
        from napari.layers import Image

        return [layer for layer in self.viewer.layers if isinstance(layer, Image)]

    def _watch_name(self, event=None):
        if event is not None:
            event.value.events.name.connect(self._refresh_layers)

    def _refresh_layers(self, event=None):
        current = self.layer_box.currentText()
        names = [layer.name for layer in reversed(self._image_layers())]  # top layer first, as in the list
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        self.layer_box.addItems(names)
        active = self.viewer.layers.selection.active
        if current in names:
            self.layer_box.setCurrentText(current)
        elif active is not None and active.name in names:
            self.layer_box.setCurrentText(active.name)
        self.layer_box.blockSignals(False)
        self._layer_changed(self.layer_box.currentText())

    def _follow_active(self, event=None):
        """The image layer chosen in napari's layer list becomes the widget's (not while it runs)."""
        active = self.viewer.layers.selection.active
        if self.worker is None and active is not None and active in self._image_layers():
            self.layer_box.setCurrentText(active.name)

    def _preset_changed(self, name: str):
        if name in self.presets:
            self.compactness_box.setValue(self.presets[name]["compactness"])

    def walls(self) -> str | None:
        """``"bright"`` / ``"dark"`` when the image shows boundaries, else None."""
        return SHOWS.get(self.shows_box.currentText())

    def _shows_changed(self, text: str = ""):
        self._scope_changed(self.scope_box.currentText())

    def _scope_changed(self, scope: str):
        """Volumes take the 3-D clustering (no preset, its own default compactness); a
        boundary image the flood (no preset, its own default compactness)."""
        volume = scope == VOLUME
        self.preset_box.setEnabled(not volume and self.walls() is None)
        self.compactness_box.setSingleStep(0.05 if self.walls() is not None else 1.0)  # the flood's scale: 0 .. ~1
        if self.walls() is not None:
            if self.flood_compactness is not None:
                self.compactness_box.setValue(self.flood_compactness)
        elif volume and self.volume_compactness is not None:
            self.compactness_box.setValue(self.volume_compactness)
        elif not volume:
            self._preset_changed(self.preset_box.currentText())

    def _layer_changed(self, name: str = ""):
        layer = self.selected_layer()
        self.run_button.setEnabled(layer is not None and self.worker is None)
        if layer is None:
            self.status.setText("no image layer" if not name else "")
            return
        rgb = bool(layer.rgb)
        self.channels_box.setEnabled(not rgb and layer.ndim >= 3)
        if layer is not self._shown_layer or not self.channels_box.isEnabled():
            self.channels_box.setChecked(False)  # a choice for one layer: not carried to the next
        if layer is not self._shown_layer:  # a new choice of layer: the default scope for it
            self._shown_layer = layer
            spatial = layer.ndim - (1 if self.channels_box.isChecked() else 0)
            self.scope_box.setCurrentText(VOLUME if spatial >= 3 and self.viewer.dims.ndisplay == 3 else PLANE)
        kind = "RGB" if rgb and layer.data.shape[-1] == 3 else "RGBA" if rgb else f"{layer.ndim}-D"
        self.status.setText(f"{layer.name}: {kind} {'x'.join(map(str, layer.data.shape))} {layer.data.dtype}")

    def selected_layer(self):
        name = self.layer_box.currentText()
        return next((layer for layer in self._image_layers() if layer.name == name), None)

    # ------------------------------------------------------------------ running
    def plan(self) -> Job:
        """What "Run" would segment (``ValueError`` when it cannot)."""
        layer = self.selected_layer()
        if layer is None:
            raise ValueError("no image layer to segment: open an image first")
        return plan_job(layer, self.viewer.dims, volume=self.scope_box.currentText() == VOLUME,
                        channels_first=self.channels_box.isChecked())

    def run(self):
        """Start the worker (returns it; ``None`` when the input was refused up front)."""
        from napari.qt.threading import thread_worker

        if self.worker is not None:
            return self.worker
        try:
            job = self.plan()
        except ValueError as exc:
            self._failed(exc)
            return None
        walls = self.walls()
        clustering = None if job.spatial == 3 or walls else self.preset_box.currentText()  # volumes: no preset
        args = (job, int(self.k_box.value()), clustering, float(self.compactness_box.value()),
                self.boundaries_box.isChecked(), walls)
        worker = thread_worker(_segment, progress={"desc": "lnsnet superpixels"}, ignore_errors=True)(*args)
        worker.returned.connect(self._done)
        worker.errored.connect(self._failed)
        worker.finished.connect(self._finished)
        self.worker = worker
        self.last_error = None
        self.run_button.setEnabled(False)
        self.progress.setVisible(True)
        shape = "x".join(map(str, job.out_shape))
        how = f"{walls} boundaries" if walls else clustering or "3-D clustering"
        where = f" [{job.where}]" if job.where else ""
        self.status.setText(f"segmenting {job.source_name}{where} ({shape}, K={args[1]}, {how})...")
        worker.start()
        return worker

    def _done(self, result):
        job, labels, edges, n, seconds = result
        self._put(job.name, labels, job, {"opacity": 0.45})
        edges_name = _boundaries_name(job)
        if edges is not None:
            layer = self._put(edges_name, edges, job, {"opacity": 1.0})
            _single_colour(layer, "yellow")
        elif edges_name in self.viewer.layers and "lnsnet" in self.viewer.layers[edges_name].metadata:
            self.viewer.layers.remove(edges_name)  # an earlier run's boundaries: no longer those of these labels
        where = f" at {job.where}" if job.where and job.in_place else ""
        what = "supervoxels" if job.spatial == 3 else "superpixels"
        self.status.setText(f"{job.name}{where}: {n} {what} in {seconds:.2f} s")

    def _put(self, name, data, job, extra):
        """Add the labels layer ``name``, or write into the one this widget made before.

        ``data`` is the segmented plane or volume (``job.out_shape``). In place
        (``job.in_place``) it goes to ``job.region`` of a layer of the image layer's shape,
        so runs at other time points or z-slices fill one layer and keep what earlier runs
        wrote. A layer of another shape (the image layer's data changed) or of planes of
        another orientation (the viewer's axes were transposed) is replaced; one that is not
        this widget's (the user's, of the same name) is left alone."""
        kwargs = dict(job.layer_kwargs)
        meta = {"where": job.where, "source": job.source_name, "mode": job.mode, "kept": list(job.kept)}
        old = self.viewer.layers[name] if name in self.viewer.layers else None
        ours = old is not None and "lnsnet" in old.metadata
        if ours and (old.data.shape != job.shape or old.data.dtype != data.dtype
                     or (job.in_place and old.metadata["lnsnet"].get("kept") != list(job.kept))):
            self.viewer.layers.remove(old)  # not to be written into: a fresh one (transforms of another ndim fail)
            old = None
        if old is not None and ours:
            for key, value in kwargs.items():
                setattr(old, key, value)
            if job.in_place:
                old.data[job.region] = data
                old.refresh()
            else:
                old.data = data
            old.metadata["lnsnet"] = meta
            return old
        if job.in_place:
            full = np.zeros(job.full_shape, dtype=data.dtype)
            full[job.region] = data
            data = full
        return self.viewer.add_labels(data, name=name, metadata={"lnsnet": meta}, **kwargs, **extra)

    def _failed(self, exc: BaseException):
        from napari.utils.notifications import show_error

        if isinstance(exc, USER_ERRORS):
            message = f"lnsnet: {exc}"
        else:  # not an answer about the input: its type too, and the traceback in the log
            message = f"lnsnet: {type(exc).__name__}: {exc}"
            log.error("lnsnet superpixels failed", exc_info=exc)
        self.last_error = message
        self.status.setText(message)
        show_error(message)

    def _finished(self):
        self.worker = None
        self.progress.setVisible(False)
        self.run_button.setEnabled(self.selected_layer() is not None)


def _boundaries_name(job: Job) -> str:
    """The boundaries layer beside the labels layer ``job.name``: "superpixels" after the
    image layer's name (which may hold the word too) becomes "superpixel boundaries"."""
    rest = job.name[len(job.source_name):]
    for what in (" superpixels", " supervoxels"):
        if rest.startswith(what):
            return job.source_name + what[:-1] + " boundaries" + rest[len(what):]
    return f"{job.name} boundaries"


def _single_colour(layer, colour: str):
    """Boundaries (label 1) in one colour, the rest transparent."""
    try:
        from napari.utils.colormaps import DirectLabelColormap

        layer.colormap = DirectLabelColormap(color_dict={None: "transparent", 0: "transparent", 1: colour})
    except Exception:  # an older or newer napari without it: its default colours
        pass
