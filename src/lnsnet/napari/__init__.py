"""napari plugin (npe2): the "Superpixels" dock widget and the shipped example as sample data.

``pip install ".[napari]"`` in the checkout, then in napari: Plugins > lnsnet > Superpixels. The manifest
is ``napari.yaml`` beside this file (entry point ``napari.manifest``); napari imports the
widget module only when the widget is opened, and nothing here imports napari or Qt at
package import (``import lnsnet`` stays light).
"""

__all__ = ["SuperpixelWidget", "plan_job"]


def __getattr__(name: str):
    if name == "SuperpixelWidget":
        from ._widget import SuperpixelWidget

        return SuperpixelWidget
    if name == "plan_job":
        from ._layers import plan_job

        return plan_job
    raise AttributeError(f"module 'lnsnet.napari' has no attribute {name!r}")
