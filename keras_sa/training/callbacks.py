"""Callbacks that select, save and score the separation model during ``fit``."""

import json
import logging
from pathlib import Path

import keras

from keras_sa.models.saving import save_model
from keras_sa.training.options import BEST_MODEL, LAST_MODEL

log = logging.getLogger("keras_sa.training")


class SaveSeparationModel(keras.callbacks.Callback):
    """Saves the inner separation model: the best on validation, and the last.

    The best value so far is kept in ``best.json`` beside the models, so
    that a resumed run compares against it; a ``best.json`` of another
    monitor (a run resumed with another selection) is not comparable and
    starts the selection afresh. Epochs whose log lacks the monitor, or
    holds NaN for it (a GNSDR not computed that epoch), select nothing.

    Args:
        separation_model: the model to save.
        directory: the run folder.
        config: its :class:`keras_sa.models.ModelConfig`, saved in the files.
        monitor: the log that selects ``best.keras``.
        mode: ``"min"`` or ``"max"``: whether lower or higher is better.
    """

    def __init__(self, separation_model, directory, config=None, monitor="val_final_l1", mode="min"):
        super().__init__()
        self.separation_model = separation_model
        self.config = config
        self.directory = Path(directory)
        self.monitor = monitor
        self.sign = 1.0 if mode == "min" else -1.0
        self.state_path = self.directory / "best.json"
        self.best = self.sign * float("inf")
        if self.state_path.exists():
            state = json.loads(self.state_path.read_text())
            if state.get("monitor", "val_final_l1") == monitor:
                self.best = state["value"]
            else:
                log.warning("%s selected by %s; from now on by %s", directory, state.get("monitor"), monitor)

    def _save(self, path):
        if self.config is None:
            self.separation_model.save(path)
        else:
            save_model(self.separation_model, self.config, path)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self._save(self.directory / LAST_MODEL)
        value = logs.get(self.monitor)
        if value is not None and self.sign * value < self.sign * self.best:
            self.best = float(value)
            self._save(self.directory / BEST_MODEL)
            state = {"epoch": epoch + 1, "monitor": self.monitor, "value": self.best}
            self.state_path.write_text(json.dumps(state, indent=2))
            log.info("epoch %d: new best %s = %.5f", epoch + 1, self.monitor, self.best)


class GNSDRValidation(keras.callbacks.Callback):
    """Separates whole validation songs and logs their GNSDR, every few epochs.

    At the end of every ``every``-th epoch, and of the last, the separation
    model separates each clip with :class:`keras_sa.separation.Separator`
    (as ``keras-sa separate`` would), the estimates are scored with the
    MIR-1K protocol (:func:`keras_sa.evaluation.evaluate_tracks`, mir_eval)
    and :func:`keras_sa.evaluation.summarize` gives the GNSDR of each source,
    logged as ``val_gnsdr_<source>``. Other epochs log NaN, so that every
    row of ``history.csv`` has the same columns.

    Args:
        separation_model: the (float32) separation model, trained in place
            or kept up to date by the callbacks before this one.
        config: its :class:`keras_sa.models.ModelConfig`.
        clips: re-iterable :class:`keras_sa.evaluation.Clip` s, such as
            :class:`keras_sa.evaluation.TrackClips`.
        every: epochs between evaluations.
        epochs: the run's last epoch, always evaluated.
    """

    def __init__(self, separation_model, config, clips, every, epochs):
        super().__init__()
        if every < 1:
            raise ValueError(f"select_every must be at least 1, got {every}")
        self.separation_model = separation_model
        self.config = config
        self.clips = clips
        self.every = every
        self.epochs = epochs
        self._separator = None

    def on_epoch_end(self, epoch, logs=None):
        from keras_sa import evaluation

        keys = [f"val_gnsdr_{source}" for source in self.config.signal.sources]
        logs = logs if logs is not None else {}
        if (epoch + 1) % self.every and epoch + 1 != self.epochs:
            logs.update(dict.fromkeys(keys, float("nan")))
            return
        if self._separator is None:  # one predictor: its inference function is traced once
            from keras_sa import predictors
            from keras_sa.separation import Separator

            self._separator = Separator(predictors.KerasPredictor(self.separation_model, self.config))
        records = evaluation.evaluate_tracks(
            self.clips,
            self._separator.estimator(),
            sample_rate=self.config.signal.sample_rate,
            progress=False,
            sources=self.config.signal.sources,
        )
        summary = evaluation.summarize(records)
        logs.update({key: summary[f"{source}_gnsdr"] for key, source in zip(keys, self.config.signal.sources)})
        log.info(
            "epoch %d: %s on %d validation clips",
            epoch + 1,
            ", ".join(f"{key} {logs[key]:.3f} dB" for key in keys),
            summary["evaluated"],
        )
