"""Sample data: the example image shipped with the package (File > Open Sample > lnsnet)."""

from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "coffee.jpg"


def coffee():
    """The shipped example, ``src/lnsnet/examples/coffee.jpg``, as an RGB image layer."""
    import numpy as np
    from PIL import Image

    with Image.open(EXAMPLE) as im:
        data = np.asarray(im.convert("RGB"))
    return [(data, {"name": "coffee", "rgb": True})]
