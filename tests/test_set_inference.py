"""scripts/set_inference.py: a saved model's window setting and name change, its weights do not."""

import numpy as np
import pytest

from script_loader import load_script


def test_sets_the_window_and_the_name_and_keeps_the_weights(small_model_file, tmp_path, capsys):
    from keras_sa import models

    out = tmp_path / "bundled.keras"
    assert load_script("set_inference").main(
        [small_model_file, "-o", str(out), "--window-hop", "6", "--window-margin", "4", "--name", "tiny"]
    ) == 0
    assert "tiny, window_hop 6, window_margin 4" in capsys.readouterr().out
    before, old = models.load_model(small_model_file)
    after, new = models.load_model(out)
    assert (new.name, new.signal.window_hop, new.signal.window_margin) == ("tiny", 6, 4)
    assert new.replace(name=old.name, signal=old.signal) == old
    for a, b in zip(before.get_weights(), after.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_refuses_to_overwrite_and_to_set_an_impossible_window(small_model_file, tmp_path, capsys):
    script = load_script("set_inference")
    taken = tmp_path / "taken.keras"
    taken.write_bytes(b"the user's file")
    with pytest.raises(SystemExit):
        script.main([small_model_file, "-o", str(taken), "--name", "x"])
    assert taken.read_bytes() == b"the user's file"
    assert "exists" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # patch_frames is 16: a hop of 17 would skip frames
        script.main([small_model_file, "-o", str(tmp_path / "new.keras"), "--window-hop", "17"])
    assert "window_hop" in capsys.readouterr().err
    assert not (tmp_path / "new.keras").exists()
