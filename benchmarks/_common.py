"""What the benchmark scripts share: where BSDS500 is."""

import os
from pathlib import Path

#: $LNSNET_BSDS500, else ../shared/data/bsds500 beside the checkout
BSDS500_DEFAULT = os.environ.get("LNSNET_BSDS500", str(Path(__file__).resolve().parents[2] / "shared/data/bsds500"))


def add_root(ap) -> None:
    """The ``--root`` option (the BSDS500 folder) of an ``argparse`` parser."""
    ap.add_argument("--root", default=BSDS500_DEFAULT, help="BSDS500 folder (or set LNSNET_BSDS500)")
