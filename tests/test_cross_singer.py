"""scripts/cross_singer.py: a recipe registered before it runs, and the adoption rule."""

import json
import shutil
from pathlib import Path

import pytest
from script_loader import load_script

SCORES = Path(__file__).resolve().parents[1] / "results" / "cross_singer"


def fake_recipe_scores(results, name, speed):
    """A recipe folder holding the real per-clip scores of the notebook's rows 8 and 11."""
    for singer, listener in (("amy", "abjones"), ("abjones", "amy")):
        folder = results / name / f"{singer}_to_{listener}"
        folder.mkdir(parents=True)
        stem = f"{singer}_to_{listener}_speed{speed}_seed11"
        shutil.copy(SCORES / f"{stem}_clips.csv", folder / "sa_shn_mobile_clips.csv")
        shutil.copy(SCORES / f"{stem}_summary.json", folder / "sa_shn_mobile_summary.json")
    (results / name / "recipe.json").write_text("{}\n")


def test_a_name_keeps_the_recipe_it_was_registered_with(tmp_path):
    script = load_script("cross_singer")
    path = tmp_path / "probe" / "recipe.json"
    recipe = {"steps": 1250, "seed": 11, "train_args": ["--vocal-speed", "0.3"]}
    script.register(path, recipe)
    script.register(path, dict(recipe))  # the same recipe again: a resumed run
    assert json.loads(path.read_text()) == recipe
    with pytest.raises(SystemExit, match="registers another recipe"):
        script.register(path, dict(recipe, steps=2500))


def test_the_recipe_may_not_set_what_the_script_fixes(tmp_path, capsys):
    script = load_script("cross_singer")
    with pytest.raises(SystemExit):
        script.main(["probe", "--results", str(tmp_path), "--", "--steps", "99"])
    assert "may not set --steps" in capsys.readouterr().err
    assert not (tmp_path / "probe").exists()


def test_report_applies_the_adoption_rule_to_both_directions(tmp_path, capsys):
    script = load_script("cross_singer")
    fake_recipe_scores(tmp_path, "speed0", "0")
    fake_recipe_scores(tmp_path, "speed03", "0.3")
    assert script.main(["speed03", "--baseline", "speed0", "--results", str(tmp_path),
                        "--report-only"]) == 0
    out = capsys.readouterr().out
    gains = []
    for singer, listener in (("amy", "abjones"), ("abjones", "amy")):
        new, old = (
            json.loads((SCORES / f"{singer}_to_{listener}_speed{s}_seed11_summary.json").read_text())
            for s in ("0.3", "0")
        )
        gains.append(new["vocals_gnsdr"] - old["vocals_gnsdr"])
        assert f"{singer} -> {listener} ({new['evaluated']} clips)" in out
    verdict = out.strip().splitlines()[-1]
    assert f"vocals {gains[0]:+.2f} / {gains[1]:+.2f} dB" in verdict
    assert "decision ADOPT" in verdict  # +0.2 and +1.7 dB (rows 8 and 11)
    assert out.count("Wilcoxon p") == 4  # both sources in both directions

    # The other way round, the change loses far more than 0.1 dB: rejected.
    assert script.main(["speed0", "--baseline", "speed03", "--results", str(tmp_path),
                        "--report-only"]) == 0
    assert "decision reject" in capsys.readouterr().out.strip().splitlines()[-1]
