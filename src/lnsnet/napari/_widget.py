"""The "Superpixels" dock widget: an image layer in, a labels layer of LNS-Net superpixels
(or, for a volume, supervoxels) out.

:func:`lnsnet.segment` runs in a worker thread (napari's ``thread_worker``), so the viewer
stays responsive; a busy bar in the widget and napari's activity indicator show that it
runs. What a refused input says is shown as a napari error notification, and nothing is
added.
"""

from __future__ import annotations

import copy
import logging
import time

import numpy as np
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ._layers import Job, four_channels, layer_id, layer_shape, owns, plan_job

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
             walls: str | None = None, steps=False):
    """Runs in the worker thread: read the data, segment, place; returns what the GUI adds.
    ``walls``: ``"bright"`` / ``"dark"`` for a boundary image (``segment(boundaries=)``);
    ``steps``: ``segment``'s ``progress`` (a callable ``steps(done, total)``: a volume's
    passes, a large image's bands)."""
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
                            **({"boundaries": walls} if walls else {"progress": steps}))
    seconds = time.perf_counter() - t0
    edges = None
    if boundaries:
        from skimage.segmentation import find_boundaries

        if labels.ndim == 3:  # in-plane boundaries, slice by slice: a supervoxel's top and bottom faces
            edges = np.stack([find_boundaries(plane, mode="inner") for plane in labels])  # would fill whole slices
        else:
            edges = find_boundaries(labels, mode="inner")
        edges = job.place(edges.astype(np.uint8))
    ids = np.unique(labels)
    n = int(ids.size - (1 if ids.size and ids[0] == 0 else 0))  # 0: no data (NaN), not a superpixel
    return job, job.place(labels), edges, n, seconds


class SuperpixelWidget(QWidget):
    """Superpixels of an image layer with :func:`lnsnet.segment`.

    Controls: the image layer; K (``n_segments``); the clustering preset and its compactness
    (the preset's value until changed); which axis of the layer holds channels, if one does;
    current plane or whole volume; whether to add a boundaries layer. "Run" adds a labels
    layer, one per image layer and mode: ``"<layer> superpixels (2D)"`` for planes
    (``"<layer> superpixels"`` for a 2-D layer), ``"<layer> supervoxels (3D)"`` for volumes.
    A run at another time point or z-slice writes its plane or volume into that layer in
    place (a series is filled as the user steps through it); a run at the same position
    replaces it. Only above ``IN_PLACE_BYTES`` does each position get a layer of its own,
    named with it (``[axis 0=..]``). Its layers are found by ``metadata["lnsnet"]`` (the
    image layer's identity, :func:`~lnsnet.napari._layers.layer_id`, the mode and the set of
    axes), never by name; label ids are unique across the positions of one layer, and each
    position's settings are recorded in ``metadata["lnsnet"]["runs"]``. The boundaries
    layer follows its labels layer (made afresh with it; a run without boundaries clears its
    own position's outlines). A whole volume is segmented by lnsnet's 3-D clustering, which
    takes no preset: the preset box is then off and compactness starts at the 3-D default
    (a compactness the user typed is kept across plane / volume). "image shows": regions
    (the clustering) or bright / dark boundaries (cell walls, membranes:
    ``segment(boundaries=)``, a compact watershed; no preset, its own default compactness),
    in a plane or a volume.
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
        self._shown_ndim = None  # its ndim then (new data of another ndim: the defaults again)
        self._default_compactness = None  # the compactness the widget last set (the user's when changed)
        self._settings = {}  # what the running job was run with (recorded in the labels layer)

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
        self.channels_box = QCheckBox("channels in axis")
        self.channels_box.setToolTip("An axis of the layer holds channels: one multichannel image, e.g. axis 0 of "
                                     "(C, Y, X) or (C, Z, Y, X), axis 1 of an ImageJ (Z, C, Y, X) hyperstack")
        self.channel_axis_box = QSpinBox()
        self.channel_axis_box.setRange(0, 0)
        self.channel_axis_box.setEnabled(False)
        self.channel_axis_box.setToolTip("which axis of the layer holds the channels (0: the first)")
        self.scope_box = QComboBox()
        self.scope_box.addItems([PLANE, VOLUME])
        self.scope_box.setToolTip("current plane: the displayed 2-D plane at the current position of the other "
                                  "axes (time point, z); whole volume: the displayed 3-D volume at the current "
                                  "time point, with spacing from the layer's scale")
        self.boundaries_box = QCheckBox("add boundaries layer")
        self.boundaries_box.setChecked(True)
        self.run_button = QPushButton("Run")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy until segment reports steps (a volume's passes, a large image's bands)
        self.progress.setVisible(False)
        # the worker's segment call writes (done, total) here; a timer in the GUI thread shows it
        self._steps = (0, 0)
        self._tick_timer = QTimer(self)
        self._tick_timer.setInterval(100)
        self._tick_timer.timeout.connect(self._tick)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        form = QFormLayout()
        form.addRow("image", self.layer_box)
        form.addRow("superpixels (K)", self.k_box)
        form.addRow("image shows", self.shows_box)
        form.addRow("clustering", self.preset_box)
        form.addRow("compactness", self.compactness_box)
        form.addRow("segment", self.scope_box)
        chan_row = QHBoxLayout()
        chan_row.addWidget(self.channels_box)
        chan_row.addWidget(self.channel_axis_box)
        chan_row.addStretch(1)
        form.addRow("", chan_row)
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
        self.channels_box.toggled.connect(self._volume_possible)
        self.channels_box.toggled.connect(self.channel_axis_box.setEnabled)
        self.shows_box.currentTextChanged.connect(self._shows_changed)
        self.layer_box.currentTextChanged.connect(self._layer_changed)
        self.run_button.clicked.connect(self.run)
        layers = self.viewer.layers
        for event in (layers.events.inserted, layers.events.removed, layers.events.moved):
            event.connect(self._refresh_layers)
        layers.events.inserted.connect(self._watch_name)
        layers.selection.events.active.connect(self._follow_active)
        for layer in layers:
            self._watch(layer)
        self._refresh_layers()

    # ------------------------------------------------------------------ controls
    def _image_layers(self):
        from napari.layers import Image

        return [layer for layer in self.viewer.layers if isinstance(layer, Image)]

    def _watch_name(self, event=None):
        if event is not None:
            self._watch(event.value)

    def _watch(self, layer):
        """A layer's renaming refreshes the list; new data in the chosen layer (another shape,
        ndim or dtype) refreshes what the widget offers for it."""
        layer.events.name.connect(self._refresh_layers)
        data = getattr(layer.events, "data", None)
        if data is not None:
            data.connect(self._data_changed)

    def _data_changed(self, event=None):
        layer = getattr(event, "source", None)
        if layer is not None and layer is self.selected_layer() and self.worker is None:
            if layer is self._shown_layer and self._shown_ndim != layer.ndim:
                self._shown_layer = None  # another ndim: the default scope and channels again
            self._layer_changed(layer.name)

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
        """A preset chosen: its compactness (a choice of the user's, so always)."""
        if name in self.presets:
            self._set_compactness(self.presets[name]["compactness"], force=True)

    def _set_compactness(self, value: float, force: bool = False):
        """The default ``value`` into the compactness box, unless the user changed the value
        the widget last set (then theirs stays); ``force``: a preset or "image shows" chosen."""
        last = self._default_compactness
        if force or last is None or abs(self.compactness_box.value() - last) < 1e-9:
            self.compactness_box.setValue(value)
            self._default_compactness = self.compactness_box.value()  # as the box rounds it

    def walls(self) -> str | None:
        """``"bright"`` / ``"dark"`` when the image shows boundaries, else None."""
        return SHOWS.get(self.shows_box.currentText())

    def _shows_changed(self, text: str = ""):
        """Regions and boundary images take compactness on other scales: the default, always."""
        self._scope_changed(self.scope_box.currentText(), force=True)

    def _scope_changed(self, scope: str, force: bool = False):
        """Volumes take the 3-D clustering (no preset, its own default compactness); a
        boundary image the flood (no preset, its own default compactness). A compactness
        the user typed is kept when only the scope changes."""
        volume = scope == VOLUME
        self.preset_box.setEnabled(not volume and self.walls() is None)
        self.compactness_box.setSingleStep(0.05 if self.walls() is not None else 1.0)  # the flood's scale: 0 .. ~1
        if self.walls() is not None:
            if self.flood_compactness is not None:
                self._set_compactness(self.flood_compactness, force)
        elif volume and self.volume_compactness is not None:
            self._set_compactness(self.volume_compactness, force)
        elif not volume and self.preset_box.currentText() in self.presets:
            self._set_compactness(self.presets[self.preset_box.currentText()]["compactness"], force)

    def _volume_possible(self, checked: bool = False):
        """"whole volume" offered only for a layer of at least 3 spatial axes (not a 2-D
        RGB image, nor a (C, Y, X) layer with channels in an axis)."""
        layer = self.selected_layer()
        spatial = None if layer is None else layer.ndim - (1 if self.channels_box.isChecked() else 0)
        possible = spatial is None or spatial >= 3
        item = self.scope_box.model().item(self.scope_box.findText(VOLUME))
        if item is not None:
            item.setEnabled(possible)
            item.setToolTip("" if possible else "this layer has fewer than 3 spatial axes")
        if not possible and self.scope_box.currentText() == VOLUME:
            self.scope_box.setCurrentText(PLANE)

    def _layer_changed(self, name: str = ""):
        layer = self.selected_layer()
        self.run_button.setEnabled(layer is not None and self.worker is None)
        if layer is None:
            self.status.setText("no image layer" if not name else "")
            return
        rgb = bool(layer.rgb)
        self.channels_box.setEnabled(not rgb and layer.ndim >= 3)
        self.channel_axis_box.setRange(0, max(0, layer.ndim - 3))  # two spatial axes stay, at least
        if layer is not self._shown_layer or not self.channels_box.isEnabled():
            self.channels_box.setChecked(False)  # a choice for one layer: not carried to the next
            self.channel_axis_box.setValue(0)
        if layer is not self._shown_layer:  # a new choice of layer: the default scope for it
            self._shown_layer = layer
            self._shown_ndim = layer.ndim
            spatial = layer.ndim - (1 if self.channels_box.isChecked() else 0)
            self.scope_box.setCurrentText(VOLUME if spatial >= 3 and self.viewer.dims.ndisplay == 3 else PLANE)
        self._volume_possible()
        kind = ("RGB" if rgb and layer.data.shape[-1] == 3 else "4 channels (not 8-bit: all four clustered, none "
                "taken as alpha)" if four_channels(layer) else "RGBA" if rgb else f"{layer.ndim}-D")
        hint = ""
        shape = layer.data.shape
        if not rgb and layer.ndim >= 4 and shape[1] <= 8 < shape[0]:  # (Z, C, Y, X) as an ImageJ hyperstack opens
            hint = (f"; if axis 1 ({shape[1]}) holds channels, tick 'channels in axis' and set 1 (else each of "
                    "its planes is a slice)")
        self.status.setText(f"{layer.name}: {kind} {'x'.join(map(str, shape))} {layer.data.dtype}{hint}")

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
                        channel=self.channel_axis_box.value() if self.channels_box.isChecked() else None)

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
        self._steps = (0, 0)
        self.progress.setRange(0, 0)

        def steps(done: int, total: int) -> None:  # in the worker thread: one tuple, read by _tick
            self._steps = (done, total)

        args = (job, int(self.k_box.value()), clustering, float(self.compactness_box.value()),
                self.boundaries_box.isChecked(), walls, steps)
        worker = thread_worker(_segment, progress={"desc": "lnsnet superpixels"}, ignore_errors=True)(*args)
        # napari's activity bar (a tqdm): where no activity dock takes it over (a ViewerModel, a
        # script, before napari's window picks it up) it printed "lnsnet superpixels: 0it
        # [00:00, ?it/s]" to the console at each run's end; not left behind, it prints nothing
        pbar = getattr(worker, "pbar", None)
        if pbar is not None:
            pbar.leave = False
        self._settings = {"K": args[1], "compactness": args[3],
                          "clustering": clustering or ("3-D clustering" if job.spatial == 3 and not walls else None),
                          "image shows": self.shows_box.currentText(), "lnsnet": _version()}
        worker.returned.connect(self._done)
        worker.errored.connect(self._failed)
        worker.finished.connect(self._finished)
        self.worker = worker
        self.last_error = None
        self.run_button.setEnabled(False)
        self.progress.setVisible(True)
        self._tick_timer.start()
        shape = "x".join(map(str, job.out_shape))
        how = f"{walls} boundaries" if walls else clustering or "3-D clustering"
        where = f" [{job.where}]" if job.where else ""
        self.status.setText(f"segmenting {job.source_name}{where} ({shape}, K={args[1]}, {how})...")
        worker.start()
        return worker

    def _done(self, result):
        try:
            self._show(*result)
        except Exception as exc:  # noqa: BLE001 - shown as a notification, not a traceback dialog
            self._failed(exc)

    def _show(self, job, labels, edges, n, seconds):
        source = self._source(job)
        if source is None or layer_shape(source) != job.source_shape:
            what = "removed" if source is None else "given data of another shape"
            self.status.setText(f"{job.source_name} was {what} while it was segmented: the result is dropped")
            return  # labels of an image that is gone, or of another shape, would mislead
        settings = dict(self._settings, labels=n, seconds=round(seconds, 3))
        layer, fresh, ids = self._put(job, labels, "labels", {"opacity": 0.45}, settings)
        bounds = self._find(job, "boundaries")
        if fresh and bounds is not None:  # a fresh labels layer (the old one deleted or not writable):
            self.viewer.layers.remove(bounds)  # the old outlines are of labels that are gone
            bounds = None
        if edges is not None:
            bounds = self._put(job, edges, "boundaries", {"opacity": 1.0}, None)[0]
            _single_colour(bounds, "yellow")
            self._keep_above(bounds, layer)
        elif bounds is not None:  # run without boundaries: this run's outlines go, other positions' stay
            if job.in_place and bounds.data.shape == job.full_shape:
                bounds.data[job.region] = 0
                bounds.refresh()
            if not job.in_place or not bounds.data.any():
                self.viewer.layers.remove(bounds)
        where = f" at {job.where}" if job.where and job.in_place else ""
        what = ("supervoxel" if job.spatial == 3 else "superpixel") + ("" if n == 1 else "s")
        idtext = f", ids {ids[0]}-{ids[1]}" if ids[0] > 1 else ""
        self.status.setText(f"{layer.name}{where}: {n} {what}{idtext} in {seconds:.2f} s"
                            + (f" ({fresh})" if isinstance(fresh, str) else ""))

    def _source(self, job: Job):
        """The image layer ``job`` was planned for (by its identity), or None when it is gone."""
        return next((x for x in self._image_layers() if x.metadata.get("lnsnet_id") == job.source_id), None)

    def _find(self, job: Job, role: str):
        """The layer this widget made for ``job``'s image layer (by its identity, not its
        name), mode and set of axes, in ``role`` ("labels" or "boundaries"); None if none."""
        from napari.layers import Labels

        key = job.key()
        found = [layer for layer in self.viewer.layers if isinstance(layer, Labels)
                 and isinstance(layer.metadata.get("lnsnet"), dict)
                 and layer.metadata["lnsnet"].get("role") == role
                 and all(layer.metadata["lnsnet"].get(k) == v for k, v in key.items())]
        # a duplicate (napari copies metadata) is the user's snapshot, not the widget's layer:
        # the layer whose id this session gave it wins; without one (a layer saved and opened
        # again), the top one
        mine = [layer for layer in found if owns(layer, layer.metadata["lnsnet"].get("layer_id"))]
        return mine[-1] if mine else found[-1] if found else None

    def _keep_above(self, layer, below):
        """``layer`` shown, and above ``below`` in the layer list (napari draws later layers on top)."""
        layers = self.viewer.layers
        if layer in layers and below is not None and below in layers:
            i, j = layers.index(layer), layers.index(below)
            if i < j:
                layers.move(i, j + 1)
        layer.visible = True

    def _put(self, job: Job, data, role: str, extra: dict, settings: dict | None):
        """Write ``data`` (the segmented plane or volume, ``job.out_shape``) into this
        widget's layer of ``role`` for ``job`` (:meth:`_find`), or add one. Returns the
        layer, whether it was made afresh (a text saying why when one was replaced) and
        the range of label ids written.

        In place (``job.in_place``) it goes to ``job.region`` of a layer of the image
        layer's shape, so runs at other time points or z-slices fill one layer and keep
        what earlier runs wrote. Labels: the run's ids are put above the largest id the
        layer holds elsewhere (ids are unique across positions; a layer holding nothing
        else keeps ids from 1), and ``settings`` is recorded under
        ``metadata["lnsnet"]["runs"][<position>]``. A layer of another shape (the image
        layer's data changed) is replaced, and the status line says so."""
        kwargs = dict(job.layer_kwargs)
        old, fresh = self._find(job, role), True
        if old is not None and old.data.shape != job.shape:
            self.viewer.layers.remove(old)  # cannot be written into (transforms of another ndim fail)
            old, fresh = None, "started afresh: the image layer's shape changed"
        if old is not None and old.data.dtype != data.dtype:  # cast by the user: keep what it holds
            old.data = np.asarray(old.data).astype(data.dtype)
        top = int(data.max()) if data.size else 0
        if old is not None:
            fresh = False
            for key, value in kwargs.items():
                setattr(old, key, value)
            target = old.data
            if job.in_place:
                target[job.region] = 0
                offset = int(target.max()) if role == "labels" else 0  # ids in use at the other positions
                if offset and top + offset > np.iinfo(np.int32).max:
                    raise ValueError("the labels layer holds too many labels for more: delete it or "
                                     "save and remove some positions' labels")
                target[job.region] = np.where(data > 0, data + np.int32(offset), 0) if offset else data
                old.refresh()
                reset = getattr(old, "_reset_history", None)  # napari's undo would put back labels from
                if reset is not None:  # before this run, written under it: the run ends the history
                    reset()
            else:
                offset = 0
                old.data = data
            layer = old
        else:
            offset = 0
            if job.in_place:
                full = np.zeros(job.full_shape, dtype=data.dtype)
                full[job.region] = data
                data = full
            meta = dict(job.key(), role=role, runs={})
            layer = self.viewer.add_labels(data, name=job.name if role == "labels" else _boundaries_name(job),
                                           metadata={"lnsnet": meta}, **kwargs, **extra)
        # a copy of the record, assigned back: a duplicate of the layer shares the old dict
        meta = copy.deepcopy(layer.metadata["lnsnet"])
        layer_id(layer, meta, "layer_id")  # this layer's own id (a copy gets a new one)
        meta.update(source=job.source_name, kept=list(job.kept), where=job.where)
        if settings is not None:
            runs = meta.setdefault("runs", {})
            position = job.fixed_at
            for name in [k for k, v in runs.items() if v.get("position") == position]:
                del runs[name]  # the same position, perhaps named otherwise (axis labels set since)
            runs[job.where or "whole layer"] = dict(settings, position=position, ids=[offset + 1, offset + top])
        layer.metadata["lnsnet"] = meta
        if not fresh:
            self._keep_above(layer, self._source(job))
        return layer, fresh, (offset + 1, offset + top)

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

    def _tick(self):
        """Show the steps the worker's segment call reported (busy while it reported none)."""
        done, total = self._steps
        if total > 0:
            if self.progress.maximum() != total:
                self.progress.setRange(0, total)
            self.progress.setValue(done)

    def _finished(self):
        self.worker = None
        self._tick_timer.stop()
        self._tick()
        self.progress.setVisible(False)
        self.run_button.setEnabled(self.selected_layer() is not None)


def _version() -> str:
    try:
        import lnsnet

        return str(lnsnet.__version__)
    except Exception:  # noqa: BLE001 - a record, not a requirement
        return ""


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
