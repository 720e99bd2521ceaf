"""Change how a saved model's sliding window runs, leaving its weights alone.

    python scripts/set_inference.py IN.keras -o OUT.keras --window-margin 12 [--window-hop 48] [--name NAME]

The window hop and margin (``keras_sa.audio.signal.SignalConfig``) are
inference choices: the network sees the same 64-frame windows whatever they
are, so they are chosen on the validation songs after training and recorded
in the model's config, which travels into its TFLite contracts and the Java
twin. ``--name`` renames the model, as a trained candidate takes its preset's
name when it is bundled (the name labels its scores and exports). The weights
are copied unchanged; OUT must not exist unless ``--overwrite`` is given.
"""

import argparse
import dataclasses
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help=".keras file written by keras_sa.models.save_model")
    parser.add_argument("-o", "--out", required=True, help="the .keras file to write")
    parser.add_argument("--window-hop", type=int, help="frames between windows (default: unchanged)")
    parser.add_argument("--window-margin", type=int, help="frames of each window before the kept ones")
    parser.add_argument("--name", help="the model's new name (default: unchanged)")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        parser.error(f"{out} exists (--overwrite replaces it)")
    from keras_sa.models import load_model, save_model
    from keras_sa.native_logs import import_tensorflow

    import_tensorflow()  # without its start-up notices

    model, config = load_model(args.model)
    changes = {}
    if args.window_hop is not None:
        changes["window_hop"] = args.window_hop
    if args.window_margin is not None or "window_hop" in changes:
        changes["window_margin"] = args.window_margin  # None: centred for the new hop
    try:
        signal = dataclasses.replace(config.signal, **changes)
        config = config.replace(signal=signal, name=args.name or config.name)
    except ValueError as error:
        parser.error(str(error))
    save_model(model, config, out)
    print(f"{out}: {config.name}, window_hop {signal.window_hop}, window_margin {signal.window_margin}, "
          f"look-ahead {signal.window_look_ahead} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
