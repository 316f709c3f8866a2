"""docs/napari.png: napari with the shipped example (File > Open Sample > lnsnet > Coffee),
its LNS-Net superpixels and boundaries, and the Superpixels widget docked, as napari draws
them (``viewer.screenshot`` of the whole window).

napari's canvas needs OpenGL, which Qt's headless ``offscreen`` platform does not give; on a
machine without a display, run it under Xvfb (Debian: ``apt-get install xvfb`` and the xcb
libraries PyQt6 needs, e.g. ``libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1``), where Mesa's
llvmpipe renders::

    xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/napari_screenshot.py [-k 200] [-o docs/napari.png]

The PNG is reduced to a 256-colour palette when it would be over 300 KB.
"""

import argparse
import time
from pathlib import Path

MAX_BYTES = 300_000


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", type=int, default=200, help="K, the number of superpixels (default 200)")
    ap.add_argument("-o", "--output", default=str(Path(__file__).resolve().parents[1] / "docs" / "napari.png"))
    ap.add_argument("--size", default="1280x760", help="window size WxH (default 1280x760)")
    args = ap.parse_args(argv)

    import napari
    import numpy as np
    from PIL import Image
    from qtpy.QtWidgets import QApplication
    from vispy.gloo import gl

    viewer = napari.Viewer(show=True, title="napari: lnsnet superpixels")
    w, h = (int(v) for v in args.size.split("x"))
    viewer.window._qt_window.resize(w, h)
    print("OpenGL:", gl.glGetParameter(gl.GL_RENDERER), gl.glGetParameter(gl.GL_VERSION))
    viewer.open_sample("lnsnet", "coffee")
    _, widget = viewer.window.add_plugin_dock_widget("lnsnet", "Superpixels")
    widget.k_box.setValue(args.k)
    worker = widget.run()
    assert worker is not None, widget.last_error
    t0 = time.time()
    while widget.worker is not None and time.time() - t0 < 300:
        QApplication.processEvents()
        time.sleep(0.02)
    if widget.last_error:
        raise SystemExit(widget.last_error)
    print(widget.status.text())
    viewer.layers.selection.active = viewer.layers["coffee superpixels"]
    viewer.reset_view()
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.02)
    shot = viewer.screenshot(canvas_only=False, flash=False)
    image = Image.fromarray(np.asarray(shot)[..., :3])
    out = Path(args.output)
    image.save(out, optimize=True)
    if out.stat().st_size > MAX_BYTES:
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, optimize=True)
    print(f"{out}: {image.size[0]}x{image.size[1]}, {out.stat().st_size / 1000:.0f} KB")
    plugins = viewer.window.plugins_menu if hasattr(viewer.window, "plugins_menu") else None
    if plugins is not None:
        for action in plugins.actions():
            sub = action.menu()
            print("Plugins >", action.text(), *([">", [a.text() for a in sub.actions()]] if sub else []))
    viewer.close()


if __name__ == "__main__":
    main()
