"""The napari plugin (``lnsnet.napari``): manifest, discovery, and the Superpixels widget on
gray, RGB/RGBA, multichannel, volume and time-series layers.

Headless: Qt's ``offscreen`` platform (set below unless QT_QPA_PLATFORM is already set).
That platform has no OpenGL, so napari's canvas cannot draw there: the widget's tests run
on napari's ``ViewerModel`` (the viewer without its canvas, what the widget reads and
writes), and one test docks the widget in a real ``napari.Viewer`` without adding layers
to it. pytest-qt's ``qtbot`` runs the Qt side; napari's own pytest plugin is off
(pyproject's ``-p no:napari``: it changes logging for the whole session). Skipped when
napari or pytest-qt is not installed (requirements-test.txt installs both)."""

import os
import warnings

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any QApplication exists
os.environ.setdefault("NAPARI_CONFIG", "")  # before napari.settings loads: no settings read from or written to ~

import numpy as np  # noqa: E402
import pytest  # noqa: E402

with warnings.catch_warnings():  # napari's and npe2's own deprecation warnings (pydantic) on import
    warnings.simplefilter("ignore", DeprecationWarning)
    napari = pytest.importorskip("napari")
    pytest.importorskip("pytestqt")
    import npe2
    from napari.components import ViewerModel
    from napari.utils.notifications import notification_manager

import lnsnet  # noqa: E402
from lnsnet.napari._layers import plan_job  # noqa: E402
from lnsnet.napari._widget import PLANE, VOLUME, SuperpixelWidget  # noqa: E402

K = 12


def _scene(h=64, w=96, seed=0):
    """A smooth gray image with a few shapes: superpixels have edges to follow."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = 0.3 * xx / w + 0.2 * yy / h
    img[(yy - h / 3) ** 2 + (xx - w / 4) ** 2 < (h / 5) ** 2] = 0.9
    img[h // 2:, w // 2:] = 0.1
    return img + 0.02 * np.random.default_rng(seed).random((h, w))


def _rgb(h=64, w=96):
    g = _scene(h, w)
    return (np.stack([g, 1 - g, np.roll(g, 7, axis=1)], axis=-1) * 255).astype(np.uint8)


@pytest.fixture
def viewer():
    return ViewerModel()


@pytest.fixture
def widget(viewer, qtbot):
    w = SuperpixelWidget(viewer)
    qtbot.addWidget(w)
    w.k_box.setValue(K)
    return w


def _run(widget, qtbot):
    worker = widget.run()
    if worker is not None:
        qtbot.waitUntil(lambda: widget.worker is None, timeout=120_000)
    return worker


@pytest.fixture
def errors():
    """The error notifications dispatched during the test."""
    seen = []

    def keep(notification):
        if str(notification.severity) == "error":
            seen.append(notification.message)

    notification_manager.notification_ready.connect(keep)
    yield seen
    notification_manager.notification_ready.disconnect(keep)


# ----------------------------------------------------------------------------- manifest
def test_manifest_validates_and_is_discoverable():
    import importlib.metadata
    import importlib.resources

    path = importlib.resources.files("lnsnet.napari").joinpath("napari.yaml")
    assert path.is_file(), "napari.yaml is not installed with the package (package-data)"
    manifest = npe2.PluginManifest.from_file(str(path))
    assert manifest.name == "lnsnet"
    eps = [ep for ep in importlib.metadata.entry_points(group="napari.manifest") if ep.name == "lnsnet"]
    assert [ep.value for ep in eps] == ["lnsnet.napari:napari.yaml"]

    pm = npe2.PluginManager()
    pm.discover()
    found = pm.get_manifest("lnsnet")
    pm.activate("lnsnet")
    assert [w.display_name for w in found.contributions.widgets] == ["Superpixels"]
    assert pm.commands.get(found.contributions.widgets[0].command) is SuperpixelWidget
    (sample,) = found.contributions.sample_data
    [(data, meta)] = pm.commands.get(sample.command)()
    assert meta["rgb"] and data.dtype == np.uint8 and data.ndim == 3 and data.shape[2] == 3


def test_widget_docks_in_a_real_viewer(qtbot):
    """napari finds the widget through the manifest and docks it (Plugins > Superpixels (lnsnet));
    no layer is added: the offscreen platform has no OpenGL for the canvas to draw with."""
    viewer = napari.Viewer(show=False)
    try:
        dock, widget = viewer.window.add_plugin_dock_widget("lnsnet", "Superpixels")
        assert isinstance(widget, SuperpixelWidget)
        assert widget.preset_box.currentText() == "fast" and widget.layer_box.count() == 0
        assert widget.viewer.dims.ndim == viewer.dims.ndim  # napari hands the widget (a proxy of) the viewer
    finally:
        viewer.close()


def test_importing_lnsnet_imports_no_napari_or_qt():
    import subprocess
    import sys

    code = ("import sys, lnsnet, lnsnet.napari; "
            "print(sorted(m for m in ('napari', 'qtpy', 'PyQt6', 'PyQt5', 'PySide6', 'torch') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


# ----------------------------------------------------------------------------- controls
def test_controls_follow_layers_and_presets(viewer, widget):
    assert widget.layer_box.count() == 0 and not widget.run_button.isEnabled()
    viewer.add_image(_scene(), name="a")
    viewer.add_labels(np.zeros((64, 96), np.int32), name="not an image")
    viewer.add_image(_rgb(), name="b")
    assert [widget.layer_box.itemText(i) for i in range(widget.layer_box.count())] == ["b", "a"]
    assert widget.run_button.isEnabled()
    viewer.layers["a"].name = "renamed"
    assert "renamed" in [widget.layer_box.itemText(i) for i in range(widget.layer_box.count())]
    assert widget.preset_box.currentText() == "fast"
    assert widget.compactness_box.value() == lnsnet.PRESETS["fast"]["compactness"]
    widget.preset_box.setCurrentText("paper")
    assert widget.compactness_box.value() == lnsnet.PRESETS["paper"]["compactness"]
    widget.layer_box.setCurrentText("b")
    assert not widget.channels_box.isEnabled()  # RGB: its channels are the last axis


def test_preset_compactness_and_k_reach_segment(viewer, widget, qtbot, monkeypatch):
    calls = []

    def fake(image, **kw):
        calls.append(kw)
        return np.ones(image.shape[:2], np.int32)

    monkeypatch.setattr(lnsnet, "segment", fake)
    viewer.add_image(_scene(), name="a")
    widget.k_box.setValue(40)
    widget.preset_box.setCurrentText("paper")
    widget.compactness_box.setValue(3.5)
    _run(widget, qtbot)
    (kw,) = calls
    assert kw["n_segments"] == 40 and kw["clustering"] == "paper" and kw["compactness"] == 3.5
    assert kw["start_label"] == 1 and kw["channel_axis"] is None and kw["spacing"] is None


# ----------------------------------------------------------------------------- 2-D
def test_gray_layer_gives_about_k_labels_from_1_with_its_scale(viewer, widget, qtbot, errors):
    img = _scene()
    viewer.add_image(img, name="gray", scale=(2.0, 0.5), translate=(10.0, -4.0))
    _run(widget, qtbot)
    assert errors == [] and widget.last_error is None
    labels = viewer.layers["gray superpixels"]
    assert labels.data.shape == (64, 96) and labels.data.dtype == np.int32
    assert labels.data.min() == 1
    n = np.unique(labels.data).size
    assert K // 2 <= n <= 2 * K, n
    assert np.array_equal(np.unique(labels.data), np.arange(1, n + 1))
    assert tuple(labels.scale) == (2.0, 0.5) and tuple(labels.translate) == (10.0, -4.0)
    # the same labels as the API with the layer's anisotropic scale as spacing
    expected = lnsnet.segment(img, K, channel_axis=None, spacing=(2.0, 0.5))
    assert np.array_equal(labels.data, expected)
    edges = viewer.layers["gray superpixel boundaries"]
    assert edges.data.shape == (64, 96) and set(np.unique(edges.data)) == {0, 1}
    assert tuple(edges.scale) == (2.0, 0.5)
    assert str(n) in widget.status.text()


def test_rerun_replaces_the_layer(viewer, widget, qtbot):
    viewer.add_image(_scene(), name="gray")
    _run(widget, qtbot)
    widget.k_box.setValue(30)
    _run(widget, qtbot)
    assert [layer.name for layer in viewer.layers].count("gray superpixels") == 1
    assert np.unique(viewer.layers["gray superpixels"].data).size > K + 5


@pytest.mark.parametrize("channels", [3, 4])
def test_rgb_layer_is_one_colour_image_not_a_volume(viewer, widget, qtbot, errors, channels):
    img = _rgb()
    if channels == 4:
        img = np.concatenate([img, np.full(img.shape[:2] + (1,), 255, np.uint8)], axis=-1)
    layer = viewer.add_image(img, name="rgb")
    assert layer.rgb and layer.ndim == 2
    job = plan_job(layer, viewer.dims)
    assert job.channel_axis == -1 and job.spatial == 2 and job.image().shape == img.shape
    _run(widget, qtbot)
    assert errors == []
    labels = viewer.layers["rgb superpixels"].data
    assert labels.shape == (64, 96) and labels.dtype == np.int32 and labels.min() == 1
    assert np.array_equal(labels, lnsnet.segment(img, K))


def test_channels_in_first_axis(viewer, widget, qtbot, errors):
    g = _scene()
    stack = np.stack([g, 1 - g], axis=0)  # (C, Y, X)
    viewer.add_image(stack, name="two")
    widget.channels_box.setChecked(True)
    _run(widget, qtbot)
    assert errors == []
    labels = viewer.layers["two superpixels"].data
    assert labels.shape == (64, 96)  # spans every channel
    assert np.array_equal(labels, lnsnet.segment(np.moveaxis(stack, 0, -1), K, convert2lab=False))


def test_channels_in_first_axis_of_a_volume(viewer, widget, qtbot, errors):
    stack = np.stack([np.stack([_scene(20, 30, seed=10 * c + z) for z in range(4)]) for c in range(2)])  # (C, Z, Y, X)
    viewer.add_image(stack, name="cells")
    widget.channels_box.setChecked(True)
    widget.scope_box.setCurrentText(VOLUME)
    _run(widget, qtbot)
    assert errors == []
    labels = viewer.layers["cells supervoxels (3D) [channels: axis 0]"].data  # named apart from a volume of one channel
    assert labels.shape == (4, 20, 30)
    expected = lnsnet.segment(np.moveaxis(stack, 0, -1), K, channel_axis=-1, convert2lab=False,
                              spacing=(1.0, 1.0, 1.0))
    assert np.array_equal(labels, expected)


def test_channels_in_the_second_axis_and_both_readings_kept(viewer, widget, qtbot, errors):
    """An ImageJ (Z, C, Y, X) hyperstack opens as one 4-D layer: with only "channels in the
    first axis" its Z was read as channels (or, unticked, C as two slices at each z), and
    ticking the box deleted the labels of the reading before, "the image layer's shape
    changed" though it had not. Now the axis is chosen (the status line suggests axis 1),
    and each reading keeps its own labels layer."""
    zcyx = np.stack([np.stack([_scene(20, 30, seed=10 * c + z) for c in range(2)]) for z in range(12)])
    viewer.add_image(zcyx, name="hyper", scale=(2.5, 1, 0.5, 0.5), translate=(10, 0, 0, 0))  # (12, 2, 20, 30)
    assert "set 1" in widget.status.text()
    widget.scope_box.setCurrentText(VOLUME)
    viewer.dims.set_current_step(0, 5)
    _run(widget, qtbot)  # no channels: the (C, Y, X) volume at z = 5, two slices
    assert errors == [] and widget.last_error is None
    first = viewer.layers["hyper supervoxels (3D)"]
    assert first.data.shape == (12, 2, 20, 30)
    widget.channels_box.setChecked(True)
    widget.channel_axis_box.setValue(1)
    _run(widget, qtbot)
    assert errors == [] and widget.last_error is None and first in viewer.layers  # the first reading kept
    layer = viewer.layers["hyper supervoxels (3D) [channels: axis 1]"]
    labels = layer.data
    assert labels.shape == (12, 20, 30)
    # placed on the image: Z's scale and translate kept, the channel axis (1) left out
    assert tuple(layer.scale) == (2.5, 0.5, 0.5) and tuple(layer.translate) == (10, 0, 0)
    expected = lnsnet.segment(np.moveaxis(zcyx, 1, -1), K, channel_axis=-1, convert2lab=False,
                              spacing=(2.5, 0.5, 0.5))
    assert np.array_equal(labels, expected)


def test_four_channels_of_16_bits_are_not_rgba(viewer, widget, qtbot, errors):
    """napari takes a last axis of 4 for RGBA: four 16-bit stains lost the fourth, the only one
    with signal here, as alpha (the labels of a blank image)."""
    g = (_scene() * 60000).astype(np.uint16)
    stack = np.stack([np.zeros_like(g)] * 3 + [g], axis=-1)
    viewer.add_image(stack, name="stains", rgb=True)
    assert "all four clustered" in widget.status.text()
    _run(widget, qtbot)
    assert errors == []
    labels = viewer.layers["stains superpixels"].data
    assert np.array_equal(labels, lnsnet.segment(stack, K, convert2lab=False))
    assert not np.array_equal(labels, lnsnet.segment(np.zeros(g.shape), K))


def test_a_result_for_a_removed_layer_is_dropped(viewer, widget, qtbot, errors):
    viewer.add_image(_scene(), name="gone")
    job = widget.plan()
    viewer.layers.remove("gone")
    widget._show(job, np.ones((64, 96), np.int32), None, 1, 0.1)
    assert not any("lnsnet" in layer.metadata for layer in viewer.layers)
    assert "removed while it was segmented" in widget.status.text()


# ----------------------------------------------------------------------------- 3-D and more
def test_volume_gives_supervoxels_with_the_layer_spacing(viewer, widget, qtbot, errors):
    from lnsnet.volume import DEFAULTS

    vol = np.stack([_scene(32, 40, seed=s) for s in range(6)])
    viewer.add_image(vol, name="vol", scale=(4.0, 1.0, 1.0))
    widget.scope_box.setCurrentText(VOLUME)
    # the 3-D clustering takes no preset: its own default compactness
    assert not widget.preset_box.isEnabled() and widget.compactness_box.value() == DEFAULTS["compactness"]
    _run(widget, qtbot)
    assert errors == [] and widget.last_error is None
    labels = viewer.layers["vol supervoxels (3D)"]
    assert labels.data.shape == (6, 32, 40) and labels.data.dtype == np.int32 and labels.data.min() == 1
    assert K // 2 <= np.unique(labels.data).size <= 2 * K
    assert tuple(labels.scale) == (4.0, 1.0, 1.0)
    assert np.array_equal(labels.data, lnsnet.segment(vol, K, channel_axis=None, spacing=(4.0, 1.0, 1.0)))
    widget.scope_box.setCurrentText(PLANE)  # back to 2-D: the preset and its compactness
    assert widget.preset_box.isEnabled()
    assert widget.compactness_box.value() == lnsnet.PRESETS["fast"]["compactness"]


def test_nan_pixels_are_left_out_as_label_0(viewer, widget, qtbot, errors):
    vol = np.stack([_scene(32, 40, seed=s) for s in range(4)])
    vol[1, 5:9, 5:9] = np.nan  # no data there
    viewer.add_image(vol, name="holes")
    widget.scope_box.setCurrentText(VOLUME)
    _run(widget, qtbot)
    assert errors == []
    labels = viewer.layers["holes supervoxels (3D)"].data
    assert (labels[1, 5:9, 5:9] == 0).all() and (labels[np.isfinite(vol)] >= 1).all()
    assert np.array_equal(labels, lnsnet.segment(vol, K, channel_axis=None, spacing=(1.0, 1.0, 1.0),
                                                 mask=np.isfinite(vol)))


def test_what_segment_refuses_is_a_notification_and_adds_nothing(viewer, widget, qtbot, errors, monkeypatch):
    vol = np.stack([_scene(32, 40, seed=s) for s in range(4)])
    viewer.add_image(vol, name="holes")
    widget.scope_box.setCurrentText(VOLUME)

    def refuse(*args, **kwargs):
        raise ValueError("refused on purpose")

    monkeypatch.setattr(lnsnet, "segment", refuse)
    _run(widget, qtbot)
    assert errors == ["lnsnet: refused on purpose"] and widget.last_error == errors[0]
    assert [layer.name for layer in viewer.layers] == ["holes"]
    assert widget.worker is None and widget.run_button.isEnabled() and not widget.progress.isVisible()


def test_volume_plumbing(viewer, widget, qtbot, monkeypatch):
    """What segment gets for a volume, and where a 3-D answer goes (with a stand-in segment)."""
    seen = {}

    def fake(image, **kw):
        seen.update(kw, shape=image.shape)
        return np.arange(image.size, dtype=np.int32).reshape(image.shape) // 50 + 1

    monkeypatch.setattr(lnsnet, "segment", fake)
    vol = np.random.default_rng(1).random((5, 20, 30))
    viewer.add_image(vol, name="vol", scale=(3.0, 0.5, 0.5), translate=(1.0, 2.0, 3.0))
    widget.scope_box.setCurrentText(VOLUME)
    _run(widget, qtbot)
    assert seen["shape"] == (5, 20, 30) and seen["channel_axis"] is None and seen["spacing"] == (3.0, 0.5, 0.5)
    assert seen["clustering"] is None  # the 3-D path takes no preset
    labels = viewer.layers["vol supervoxels (3D)"]
    assert labels.data.shape == (5, 20, 30) and tuple(labels.scale) == (3.0, 0.5, 0.5)
    assert tuple(labels.translate) == (1.0, 2.0, 3.0)


def test_time_series_takes_the_current_plane_only(viewer, widget, qtbot, errors):
    t, z = 3, 4
    series = np.stack([np.stack([_scene(32, 40, seed=10 * i + j) for j in range(z)]) for i in range(t)])
    viewer.add_image(series, name="movie", scale=(1.0, 2.0, 1.0, 1.0))
    viewer.dims.set_current_step(0, 2)  # t = 2
    viewer.dims.set_current_step(1, 1)  # z = 1 (world step 1 = z index 1 at scale 2)
    widget.scope_box.setCurrentText(PLANE)
    job = plan_job(viewer.layers["movie"], viewer.dims)
    assert job.index[:2] == (2, 1) and job.image().shape == (32, 40)
    _run(widget, qtbot)
    assert errors == []
    (layer,) = [x for x in viewer.layers if x.name.startswith("movie superpixels")]
    assert layer.name == "movie superpixels (2D)" and layer.metadata["lnsnet"]["where"] == "axis 0=2, axis 1=1"
    assert layer.data.shape == (t, z, 32, 40)  # the image's axes, written at that plane alone
    assert tuple(layer.translate) == (0.0, 0.0, 0.0, 0.0) and tuple(layer.scale) == (1.0, 2.0, 1.0, 1.0)
    assert np.array_equal(layer.data[2, 1], lnsnet.segment(series[2, 1], K, channel_axis=None))
    layer.data[2, 1] = 0
    assert not layer.data.any()  # not the whole series
    assert "axis 0=2, axis 1=1" in widget.status.text()
    # the whole volume at the current time point, not the series
    job = plan_job(viewer.layers["movie"], viewer.dims, volume=True)
    assert job.image().shape == (z, 32, 40) and job.spacing == (2.0, 1.0, 1.0) and job.out_shape == (1, z, 32, 40)
    assert job.full_shape == (t, z, 32, 40) and job.region[0] == slice(2, 3) and job.in_place
    assert np.array_equal(job.image(), series[2])


def test_plane_follows_the_displayed_axes(viewer):
    vol = np.random.default_rng(2).random((6, 20, 30))
    layer = viewer.add_image(vol, name="vol")
    viewer.dims.order = (2, 0, 1)  # display (z, y) planes at an x position
    viewer.dims.set_current_step(2, 7)
    job = plan_job(layer, viewer.dims)
    assert job.kept == (0, 1) and job.index[2] == 7
    assert np.array_equal(job.image(), vol[:, :, 7])
    labels = np.arange(6 * 20, dtype=np.int32).reshape(6, 20)
    assert job.place(labels).shape == (6, 20, 1) and job.region == (slice(None), slice(None), slice(7, 8))
    assert tuple(job.layer_kwargs["translate"]) == (0.0, 0.0, 0.0)  # written in place: the image's own


def test_refusals_are_notifications_not_exceptions(viewer, widget, qtbot, errors):
    viewer.add_image(_rgb(), name="rgb")
    assert not widget.scope_box.model().item(widget.scope_box.findText(VOLUME)).isEnabled()  # not offered
    widget.scope_box.setCurrentText(VOLUME)  # a 2-D RGB image has no volume (set from code all the same)
    assert _run(widget, qtbot) is None
    assert len(errors) == 1 and "whole volume" in errors[0] and "rgb" in errors[0]
    assert widget.run_button.isEnabled() and len(viewer.layers) == 1


def test_boundary_images_in_a_plane_and_a_volume(viewer, widget, qtbot, errors):
    """"image shows: bright boundaries": segment(boundaries="bright") with the flood's own
    compactness, no preset, in a plane and a volume; back to regions: the preset again."""
    from lnsnet.flood import DEFAULTS

    vol = np.stack([_scene(32, 40, seed=s) for s in range(6)])
    viewer.add_image(vol, name="walls", scale=(2.0, 1.0, 1.0))
    widget.shows_box.setCurrentText("bright boundaries (cell walls, membranes)")
    assert not widget.preset_box.isEnabled() and widget.compactness_box.value() == DEFAULTS["compactness"]
    widget.scope_box.setCurrentText(VOLUME)
    assert widget.compactness_box.value() == DEFAULTS["compactness"]
    _run(widget, qtbot)
    assert errors == [] and widget.last_error is None
    expected = lnsnet.segment(vol, K, channel_axis=None, spacing=(2.0, 1.0, 1.0), boundaries="bright")
    assert np.array_equal(viewer.layers["walls supervoxels (3D)"].data, expected)
    widget.scope_box.setCurrentText(PLANE)
    widget.shows_box.setCurrentText("dark boundaries")
    _run(widget, qtbot)
    assert errors == [] and widget.last_error is None
    z = viewer.dims.current_step[0]
    plane = viewer.layers["walls superpixels (2D)"].data[z]
    assert np.array_equal(plane, lnsnet.segment(vol[z], K, channel_axis=None, boundaries="dark"))
    widget.shows_box.setCurrentText("regions")
    assert widget.preset_box.isEnabled()
    assert widget.compactness_box.value() == lnsnet.PRESETS["fast"]["compactness"]


def test_a_layers_channel_choice_does_not_carry_over(viewer, widget):
    """"channels in first axis" ticked for a (C, Y, X) layer is not applied to the next
    layer chosen (a z-stack was read as channels)."""
    g = _scene()
    viewer.add_image(np.stack([g, 1 - g]), name="two")
    viewer.add_image(np.stack([_scene(seed=s) for s in range(5)]), name="stack")
    viewer.add_image(g, name="flat")
    widget.layer_box.setCurrentText("two")
    widget.channels_box.setChecked(True)
    widget.layer_box.setCurrentText("flat")
    assert not widget.channels_box.isChecked() and not widget.channels_box.isEnabled()
    widget.layer_box.setCurrentText("stack")
    assert not widget.channels_box.isChecked() and widget.plan().channel_axis is None


def test_volume_boundaries_are_drawn_in_each_plane(viewer, widget, qtbot, errors):
    vol = np.stack([_scene(32, 40, seed=s) for s in range(6)])
    viewer.add_image(vol, name="v", scale=(2.0, 1.0, 1.0))
    widget.scope_box.setCurrentText(VOLUME)
    _run(widget, qtbot)
    labels, edges = viewer.layers["v supervoxels (3D)"].data, viewer.layers["v supervoxel boundaries (3D)"].data
    from skimage.segmentation import find_boundaries

    assert errors == [] and np.array_equal(edges, np.stack([find_boundaries(p, mode="inner") for p in labels]))
    assert edges.mean(axis=(1, 2)).max() < 0.6  # no slice filled by the faces between supervoxels' layers
    widget.boundaries_box.setChecked(False)  # run again without: the old boundaries go
    widget.k_box.setValue(K + 5)
    _run(widget, qtbot)
    assert "v supervoxel boundaries (3D)" not in viewer.layers and "v supervoxels (3D)" in viewer.layers


def test_a_plane_without_data_and_the_layer_list_choice(viewer, widget, qtbot, errors):
    viewer.add_image(_scene(), name="g")
    viewer.add_image(np.full((20, 30), np.nan), name="empty")
    viewer.layers.selection.active = viewer.layers["g"]  # chosen in napari's layer list
    assert widget.layer_box.currentText() == "g"
    viewer.layers.selection.active = viewer.layers["empty"]
    assert widget.layer_box.currentText() == "empty"
    _run(widget, qtbot)
    assert errors and "no finite pixel" in errors[-1] and "empty superpixels" not in viewer.layers


# ----------------------------------------------------------------------------- one layer per image layer and mode
def _counting_segment(monkeypatch):
    """A stand-in segment: labels 1.. in blocks of 50 pixels, and how often it ran."""
    calls = []

    def fake(image, **kw):
        shape = image.shape if kw.get("channel_axis") is None else image.shape[:-1]
        calls.append(shape)
        return np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape) // 50 + 1

    monkeypatch.setattr(lnsnet, "segment", fake)
    return calls


def _lnsnet_layers(viewer):
    return [layer.name for layer in viewer.layers if "lnsnet" in layer.metadata]


def test_plane_and_volume_results_of_one_layer_are_two_layers(viewer, widget, qtbot, errors, monkeypatch):
    """A plane's and a volume's labels of one image layer have names that say which, and
    neither replaces the other: a (C, Y, X) layer's channels-first plane and, unticked, its
    volume had one name, and the volume's replacement of the plane failed on its extra axis."""
    _counting_segment(monkeypatch)
    viewer.add_image(np.random.default_rng(3).random((2, 20, 30)), name="two")
    widget.channels_box.setChecked(True)
    widget.scope_box.setCurrentText(PLANE)
    _run(widget, qtbot)
    widget.channels_box.setChecked(False)
    widget.scope_box.setCurrentText(VOLUME)
    _run(widget, qtbot)
    assert errors == [] and widget.last_error is None
    assert _lnsnet_layers(viewer) == ["two superpixels", "two superpixel boundaries",
                                      "two supervoxels (3D)", "two supervoxel boundaries (3D)"]
    assert viewer.layers["two superpixels"].data.shape == (20, 30)
    assert viewer.layers["two supervoxels (3D)"].data.shape == (2, 20, 30)
    # a z-stack: its volume, then a plane, then the volume again
    viewer.add_image(np.random.default_rng(4).random((4, 20, 30)), name="stack")
    widget.layer_box.setCurrentText("stack")
    widget.scope_box.setCurrentText(VOLUME)
    _run(widget, qtbot)
    volume = viewer.layers["stack supervoxels (3D)"]
    widget.scope_box.setCurrentText(PLANE)
    _run(widget, qtbot)
    widget.scope_box.setCurrentText(VOLUME)
    _run(widget, qtbot)
    assert errors == []
    stack_layers = [name for name in _lnsnet_layers(viewer) if name.startswith("stack")]
    assert sorted(stack_layers) == ["stack superpixel boundaries (2D)", "stack superpixels (2D)",
                                    "stack supervoxel boundaries (3D)", "stack supervoxels (3D)"]
    assert viewer.layers["stack supervoxels (3D)"] is volume  # a rerun of the same mode replaces its own


@pytest.mark.parametrize("shape", [(3, 20, 30), (3, 4, 20, 30)], ids=["TYX", "TZYX"])
def test_runs_at_other_time_points_fill_one_layer(viewer, widget, qtbot, errors, monkeypatch, shape):
    """Stepping through a time series and running at each time point: one labels layer per
    mode, with the image's axes, each run written at its own time point (earlier ones kept)."""
    calls = _counting_segment(monkeypatch)
    series = np.random.default_rng(5).random(shape)
    viewer.add_image(series, name="movie")
    scopes = [PLANE] if len(shape) == 3 else [PLANE, VOLUME]
    for scope in scopes:
        widget.scope_box.setCurrentText(scope)
        for t in (0, 2, 1, 2):  # t = 2 twice: replaced, not added
            viewer.dims.set_current_step(0, t)
            _run(widget, qtbot)
    assert errors == [] and len(calls) == 4 * len(scopes)
    names = ["movie superpixels (2D)", "movie superpixel boundaries (2D)"]
    if VOLUME in scopes:
        names += ["movie supervoxels (3D)", "movie supervoxel boundaries (3D)"]
    assert _lnsnet_layers(viewer) == names
    planes = viewer.layers["movie superpixels (2D)"]
    assert planes.data.shape == shape and tuple(planes.translate) == (0.0,) * len(shape)
    z = viewer.dims.current_step[1] if len(shape) == 4 else None
    seen = set()
    for t in range(3):
        plane = planes.data[t] if z is None else planes.data[t, z]
        ids = np.unique(plane)
        assert ids.min() >= 1, t  # every time point segmented was kept
        assert np.array_equal(ids, np.arange(ids[0], ids[0] + ids.size)), t  # consecutive within a run
        assert not seen & set(ids.tolist()), t  # and unique across the time points of the layer
        seen |= set(ids.tolist())
    if z is not None:
        others = np.delete(planes.data, z, axis=1)
        assert not others.any()  # only the z-slice shown
        assert (viewer.layers["movie supervoxels (3D)"].data >= 1).all()


def test_a_layer_too_large_to_hold_gets_a_layer_per_position(viewer, widget, qtbot, errors, monkeypatch):
    """Above IN_PLACE_BYTES the labels of the whole series are not held: each position gets a
    layer of its plane, size 1 on the fixed axes, its name saying where."""
    import lnsnet.napari._layers as layers

    _counting_segment(monkeypatch)
    monkeypatch.setattr(layers, "IN_PLACE_BYTES", 1000)
    viewer.add_image(np.random.default_rng(6).random((3, 4, 20, 30)), name="movie", scale=(1.0, 2.0, 1.0, 1.0))
    viewer.dims.set_current_step(1, 1)
    for t in (2, 0):
        viewer.dims.set_current_step(0, t)
        _run(widget, qtbot)
    assert errors == []
    assert _lnsnet_layers(viewer)[::2] == ["movie superpixels (2D) [axis 0=2, axis 1=1]",
                                           "movie superpixels (2D) [axis 0=0, axis 1=1]"]
    layer = viewer.layers["movie superpixels (2D) [axis 0=2, axis 1=1]"]
    assert layer.data.shape == (1, 1, 20, 30) and tuple(layer.translate) == (2.0, 2.0, 0.0, 0.0)


def test_a_transposed_view_writes_into_the_same_layer(viewer, widget, qtbot, errors, monkeypatch):
    """The same axes shown in another order (a rotated 3-D view, Y and X swapped) are the
    same layer: the other time points' results stay (the layer was removed and started afresh)."""
    _counting_segment(monkeypatch)
    series = np.random.default_rng(8).random((3, 4, 20, 30))  # (T, Z, Y, X)
    viewer.add_image(series, name="tz")
    widget.scope_box.setCurrentText(VOLUME)
    viewer.dims.set_current_step(0, 0)
    _run(widget, qtbot)
    volume = viewer.layers["tz supervoxels (3D)"]
    first = volume.data[0].copy()
    viewer.dims.ndisplay = 3
    viewer.dims.order = (0, 2, 1, 3)  # the volume shown as (Y, Z, X)
    viewer.dims.set_current_step(0, 2)
    _run(widget, qtbot)
    assert errors == [] and viewer.layers["tz supervoxels (3D)"] is volume
    assert np.array_equal(volume.data[0], first) and volume.data[2].min() > first.max()
    assert not volume.data[1].any()
    # planes: Y and X swapped
    viewer.dims.ndisplay = 2
    viewer.dims.order = (0, 1, 2, 3)
    widget.scope_box.setCurrentText(PLANE)
    viewer.dims.set_current_step(0, 0)
    _run(widget, qtbot)
    planes = viewer.layers["tz superpixels (2D)"]
    z = viewer.dims.current_step[1]
    before = planes.data[0, z].copy()
    viewer.dims.order = (0, 1, 3, 2)  # (X, Y) planes
    viewer.dims.set_current_step(0, 1)
    _run(widget, qtbot)
    assert errors == [] and viewer.layers["tz superpixels (2D)"] is planes
    assert np.array_equal(planes.data[0, z], before) and planes.data[1, z].min() >= 1
    assert sum(name.startswith("tz superpixels") for name in _lnsnet_layers(viewer)) == 1


def test_another_set_of_axes_gets_a_layer_of_its_own(viewer, widget, qtbot, errors, monkeypatch):
    """(Z, Y) planes of a (Z, Y, X) layer, or time taken as a spatial axis: a layer of their
    own, named with the axes; the (Y, X) results are kept, not deleted."""
    _counting_segment(monkeypatch)
    viewer.add_image(np.random.default_rng(7).random((6, 20, 30)), name="vol")
    _run(widget, qtbot)
    planes = viewer.layers["vol superpixels (2D)"]
    assert planes.metadata["lnsnet"]["kept"] == [1, 2]
    yx = planes.data.copy()
    viewer.dims.order = (2, 0, 1)  # (z, y) planes at an x position
    viewer.dims.set_current_step(2, 7)
    _run(widget, qtbot)
    assert errors == [] and _lnsnet_layers(viewer) == [
        "vol superpixels (2D)", "vol superpixel boundaries (2D)",
        "vol superpixels (2D) [axes 0, 1]", "vol superpixel boundaries (2D) [axes 0, 1]"]
    assert viewer.layers["vol superpixels (2D)"] is planes and np.array_equal(planes.data, yx)
    data = viewer.layers["vol superpixels (2D) [axes 0, 1]"].data
    assert data[:, :, 7].min() == 1 and not np.delete(data, 7, axis=2).any()
    assert "vol superpixels (2D) [axes 0, 1]" in widget.status.text()
    # a (T, Z, Y, X) series with time rolled into the displayed volume
    viewer.add_image(np.random.default_rng(9).random((3, 4, 20, 30)), name="tz", )
    widget.layer_box.setCurrentText("tz")
    viewer.dims.order = (0, 1, 2, 3)
    widget.scope_box.setCurrentText(VOLUME)
    _run(widget, qtbot)
    viewer.dims.order = (3, 0, 1, 2)  # (T, Z, Y) volumes at an x position
    _run(widget, qtbot)
    assert errors == []
    assert viewer.layers["tz supervoxels (3D)"].data[viewer.dims.current_step[0]].min() >= 1  # kept
    assert viewer.layers["tz supervoxels (3D) [axes 0, 1, 2]"].metadata["lnsnet"]["axes"] == [0, 1, 2]


def test_a_users_layer_of_the_same_name_is_not_the_widgets(viewer, widget, qtbot, errors, monkeypatch):
    """A labels layer of the user's named as the widget's is left alone, and the widget's own
    layer (named "... [1]" by napari) is found again at the next run: one layer, not one a run."""
    _counting_segment(monkeypatch)
    viewer.add_image(np.random.default_rng(10).random((3, 20, 30)), name="m")
    mine = viewer.add_labels(np.zeros((3, 20, 30), np.int32), name="m superpixels (2D)")
    widget.layer_box.setCurrentText("m")
    for t in range(3):
        viewer.dims.set_current_step(0, t)
        _run(widget, qtbot)
    assert errors == [] and not mine.data.any()
    ours = [layer for layer in viewer.layers if layer is not mine and layer.name.startswith("m superpixels (2D)")]
    assert len(ours) == 1 and ours[0].name == "m superpixels (2D) [1]"
    assert all(ours[0].data[t].min() >= 1 for t in range(3))
    assert widget.status.text().startswith("m superpixels (2D) [1] at ")  # the name napari gave it


def test_results_follow_the_image_layer_not_its_name(viewer, widget, qtbot, errors, monkeypatch):
    """A renamed image layer keeps writing into its labels layer (which keeps its name); a new
    image layer given the old name gets a labels layer of its own; a labels layer moved below
    its image is put back above it."""
    _counting_segment(monkeypatch)
    movie = viewer.add_image(np.random.default_rng(11).random((3, 20, 30)), name="movie")
    viewer.dims.set_current_step(0, 0)
    _run(widget, qtbot)
    labels = viewer.layers["movie superpixels (2D)"]
    movie.name = "movie2"
    viewer.dims.set_current_step(0, 1)
    _run(widget, qtbot)
    assert errors == [] and viewer.layers["movie superpixels (2D)"] is labels
    assert labels.data[0].min() >= 1 and labels.data[1].min() >= 1
    assert labels.metadata["lnsnet"]["source"] == "movie2" and "lnsnet_id" in movie.metadata
    other = viewer.add_image(np.random.default_rng(12).random((3, 20, 30)), name="movie")
    widget.layer_box.setCurrentText("movie")
    viewer.dims.set_current_step(0, 2)
    _run(widget, qtbot)
    assert errors == [] and not labels.data[2].any()  # not mixed into the first image's results
    (new,) = [layer for layer in viewer.layers if layer.name.startswith("movie superpixels") and layer is not labels]
    assert new.metadata["lnsnet"]["source_id"] == other.metadata["lnsnet_id"] != movie.metadata["lnsnet_id"]
    assert new.data[2].min() >= 1 and not new.data[:2].any()
    # a labels layer below its image is moved above it
    widget.layer_box.setCurrentText("movie2")
    viewer.layers.move(viewer.layers.index(labels), 0)
    labels.visible = False
    _run(widget, qtbot)
    order = list(viewer.layers)
    assert order.index(labels) > order.index(movie) and labels.visible
    edges = viewer.layers["movie superpixel boundaries (2D)"]
    assert order.index(edges) > order.index(labels)


def test_a_duplicated_image_layer_gets_an_identity_of_its_own(viewer, widget, qtbot, monkeypatch):
    """napari's "duplicate layer" copies metadata: the copy's results do not go into the original's."""
    _counting_segment(monkeypatch)
    a = viewer.add_image(np.random.default_rng(13).random((20, 30)), name="a")
    _run(widget, qtbot)
    b = viewer.add_image(a.data.copy(), name="b", metadata=dict(a.metadata))
    widget.layer_box.setCurrentText("b")
    _run(widget, qtbot)
    assert a.metadata["lnsnet_id"] != b.metadata["lnsnet_id"]
    assert {"a superpixels", "b superpixels"} <= set(_lnsnet_layers(viewer))


def test_deleted_labels_take_their_boundaries_with_them(viewer, widget, qtbot, errors, monkeypatch):
    """A labels layer deleted by hand: at the next run the boundaries layer starts afresh too
    (it showed outlines of labels that are gone)."""
    _counting_segment(monkeypatch)
    viewer.add_image(np.random.default_rng(14).random((3, 20, 30)), name="m")
    for t in (0, 1):
        viewer.dims.set_current_step(0, t)
        _run(widget, qtbot)
    viewer.layers.remove("m superpixels (2D)")
    viewer.dims.set_current_step(0, 2)
    _run(widget, qtbot)
    edges = viewer.layers["m superpixel boundaries (2D)"]
    assert errors == [] and edges.data[2].any()
    assert not edges.data[:2].any()  # outlines of labels that are gone


def test_a_run_without_boundaries_clears_only_its_own_outlines(viewer, widget, qtbot, errors, monkeypatch):
    """A run without boundaries clears its own position's outlines and keeps the others';
    the boundaries layer goes once it holds none."""
    _counting_segment(monkeypatch)
    viewer.add_image(np.random.default_rng(14).random((3, 20, 30)), name="m")
    for t in (2, 1):
        viewer.dims.set_current_step(0, t)
        _run(widget, qtbot)
    widget.boundaries_box.setChecked(False)
    _run(widget, qtbot)  # t = 1 again, without boundaries
    edges = viewer.layers["m superpixel boundaries (2D)"]
    assert edges.data[2].any() and not edges.data[1].any()
    viewer.dims.set_current_step(0, 2)
    _run(widget, qtbot)  # the last outlines cleared: the layer goes
    assert "m superpixel boundaries (2D)" not in viewer.layers and "m superpixels (2D)" in viewer.layers


def test_each_position_records_its_run_and_ids_are_unique_in_the_layer(viewer, widget, qtbot, errors):
    """What each position was run with is in the labels layer's metadata; ids go on from the
    largest in use at the other positions, so regionprops of the exported (T, Y, X) layer
    sees one region per superpixel, not one per id stitched across time points."""
    from skimage.measure import regionprops

    movie = np.stack([_scene(32, 40, seed=s) for s in range(3)])
    viewer.add_image(movie, name="m")
    counts = []
    for t, k in ((0, K), (1, 2 * K)):
        viewer.dims.set_current_step(0, t)
        widget.k_box.setValue(k)
        _run(widget, qtbot)
        counts.append(int(np.unique(viewer.layers["m superpixels (2D)"].data[t]).size))
    assert errors == []
    layer = viewer.layers["m superpixels (2D)"]
    data = layer.data
    assert np.array_equal(data[0], lnsnet.segment(movie[0], K, channel_axis=None))  # the first from 1
    assert data[1].min() == data[0].max() + 1 and np.array_equal(data[1] - data[0].max(),
                                                                  lnsnet.segment(movie[1], 2 * K, channel_axis=None))
    assert len(regionprops(data)) == sum(counts)
    runs = layer.metadata["lnsnet"]["runs"]
    assert set(runs) == {"axis 0=0", "axis 0=1"}
    assert runs["axis 0=0"]["K"] == K and runs["axis 0=1"]["K"] == 2 * K
    assert runs["axis 0=1"]["labels"] == counts[1] and runs["axis 0=1"]["ids"] == [counts[0] + 1, sum(counts)]
    assert runs["axis 0=0"]["clustering"] == "fast" and runs["axis 0=0"]["image shows"] == "regions"
    assert runs["axis 0=0"]["compactness"] == lnsnet.PRESETS["fast"]["compactness"]
    assert runs["axis 0=0"]["lnsnet"] == lnsnet.__version__
    assert f"ids {counts[0] + 1}-{sum(counts)}" in widget.status.text()


def test_no_console_noise_from_the_worker(viewer, widget, qtbot, capfd, monkeypatch):
    _counting_segment(monkeypatch)
    viewer.add_image(_scene(), name="a")
    capfd.readouterr()
    _run(widget, qtbot)
    _run(widget, qtbot)
    out, err = capfd.readouterr()
    assert "it/s" not in out + err and "lnsnet superpixels:" not in out + err


def test_scope_keeps_a_typed_compactness_and_offers_volume_only_with_3_axes(viewer, widget):
    from lnsnet.volume import DEFAULTS

    viewer.add_image(np.stack([_scene(seed=s) for s in range(4)]), name="stack")
    widget.scope_box.setCurrentText(VOLUME)
    assert widget.compactness_box.value() == DEFAULTS["compactness"]  # untouched: the 3-D default
    widget.compactness_box.setValue(7.0)
    widget.scope_box.setCurrentText(PLANE)
    widget.scope_box.setCurrentText(VOLUME)
    assert widget.compactness_box.value() == 7.0  # the user's value stays
    widget.preset_box.setCurrentText("paper")  # choosing a preset sets its value
    assert widget.compactness_box.value() == lnsnet.PRESETS["paper"]["compactness"]
    volume_item = widget.scope_box.model().item(widget.scope_box.findText(VOLUME))
    assert volume_item.isEnabled()
    widget.channels_box.setChecked(True)  # (C, Y, X): 2 spatial axes
    assert not volume_item.isEnabled() and widget.scope_box.currentText() == PLANE
    viewer.add_image(_rgb(), name="rgb")
    widget.layer_box.setCurrentText("rgb")
    assert not volume_item.isEnabled()
    widget.layer_box.setCurrentText("stack")
    assert volume_item.isEnabled()


def test_a_volume_run_shows_its_passes_in_the_widget_bar(viewer, widget, qtbot, errors):
    """segment's passes over a volume (statistics, edge weights, 11 seed rounds,
    connectivity: 14) reach the widget's bar through a progress callable; a plane of a small
    image reports none, and the bar stays a busy indicator."""
    vol = np.stack([_scene(32, 40, seed=s) for s in range(6)])
    viewer.add_image(vol, name="vol")
    widget.scope_box.setCurrentText(VOLUME)
    _run(widget, qtbot)
    assert errors == [] and (widget.progress.maximum(), widget.progress.value()) == (14, 14)
    widget.scope_box.setCurrentText(PLANE)
    _run(widget, qtbot)
    assert errors == [] and widget.progress.maximum() == 0  # busy: no steps reported



def test_a_duplicate_a_flipped_axis_a_cast_layer_and_undo(viewer, widget, qtbot, errors):
    """A final user's review: (1) a duplicate of the labels layer is the user's snapshot:
    runs go on into the widget's own layer, and the copy's record is its own; (2) an image
    with a flipped axis (negative scale) is segmented with the axis' length; (3) a labels
    layer the user cast to another type keeps the other positions' labels; (4) undo after a
    run cannot put back labels from before it."""
    series = np.stack([np.stack([_scene(24, 30, seed=10 * t + z) for z in range(4)]) for t in range(2)])
    image = viewer.add_image(series, name="d", scale=(1.0, 2.0, -1.0, 1.0))
    widget.scope_box.setCurrentText(VOLUME)
    widget.k_box.setValue(12)
    viewer.dims.set_current_step(0, 0)
    _run(widget, qtbot)
    assert errors == [] and widget.last_error is None  # (2): the flipped y axis was refused before
    own = viewer.layers["d supervoxels (3D)"]
    assert tuple(own.scale) == tuple(image.scale)  # the labels keep the signed scale: they overlay
    copy_layer = viewer.add_labels(own.data.copy(), name="snapshot", metadata=dict(own.metadata))
    widget.k_box.setValue(30)
    viewer.dims.set_current_step(0, 1)
    _run(widget, qtbot)
    assert errors == []
    assert own.data[1].max() > 0 and not copy_layer.data[1].any()  # (1): written into the widget's layer
    assert "axis 0=1" in own.metadata["lnsnet"]["runs"] and "axis 0=1" not in copy_layer.metadata["lnsnet"]["runs"]
    own.data = own.data.astype(np.uint16)  # (3): cast by the user
    widget.k_box.setValue(12)
    viewer.dims.set_current_step(0, 0)
    _run(widget, qtbot)
    assert errors == [] and viewer.layers["d supervoxels (3D)"] is own and own.data[1].max() > 0
    assert own.data.dtype == np.int32
    own.paint((0, 1, 5, 5), 999)  # (4): a paint stroke, then a run over it, then undo
    _run(widget, qtbot)
    kept = own.data[0].copy()
    own.undo()
    np.testing.assert_array_equal(own.data[0], kept)  # the run's labels stay, not older ones


def test_a_position_outside_the_layer_is_refused_not_clipped(viewer, widget, qtbot, errors):
    """Two layers of different depth: at a z the shorter one does not reach, napari shows
    none of it, and the widget says so instead of segmenting its edge slice."""
    viewer.add_image(np.stack([_scene(24, 30, seed=z) for z in range(8)]), name="deep")
    short = viewer.add_image(np.stack([_scene(24, 30, seed=z) for z in range(3)]), name="short")
    viewer.dims.set_current_step(0, 6)
    widget.layer_box.setCurrentText("short")
    assert widget.selected_layer() is short
    _run(widget, qtbot)
    assert widget.last_error is not None and "does not reach the viewer's position" in widget.last_error
    assert "short superpixels (2D)" not in [layer.name for layer in viewer.layers]
    viewer.dims.set_current_step(0, 2)
    _run(widget, qtbot)
    assert widget.last_error is None and viewer.layers["short superpixels (2D)"].data[2].max() > 0


def test_new_data_of_another_ndim_in_the_chosen_layer_updates_the_controls(viewer, widget, qtbot, errors):
    """A layer whose data is replaced by a stack (or back by a plane) gets the controls of its
    new data: the status line, "whole volume" offered or not, the channels box."""
    layer = viewer.add_image(_scene(), name="img")
    volume_item = widget.scope_box.model().item(widget.scope_box.findText(VOLUME))
    assert not volume_item.isEnabled() and not widget.channels_box.isEnabled()
    assert "2-D" in widget.status.text()
    layer.data = np.stack([_scene(seed=s) for s in range(4)])
    assert volume_item.isEnabled() and widget.channels_box.isEnabled()
    assert "3-D" in widget.status.text() and "4x" in widget.status.text()
    widget.scope_box.setCurrentText(VOLUME)
    layer.data = _scene()
    assert not volume_item.isEnabled() and widget.scope_box.currentText() == PLANE
    assert not widget.channels_box.isEnabled() and "2-D" in widget.status.text()
    widget.run()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60000)
    assert not errors
    labels = next(x for x in viewer.layers if x is not layer and x.data.ndim == 2 and x.data.dtype.kind == "i")
    assert labels.data.shape == _scene().shape and labels.data.min() >= 1
