"""Audio files and the STFT contract between samples and models."""

from keras_sa.audio.io import AudioError, AudioWriter, audio_info, load_audio, resample, save_audio
from keras_sa.audio.signal import (
    SignalConfig,
    istft,
    model_input,
    stft,
    tf_istft,
    tf_stft,
)

__all__ = [
    "AudioError",
    "AudioWriter",
    "SignalConfig",
    "audio_info",
    "istft",
    "load_audio",
    "model_input",
    "resample",
    "save_audio",
    "stft",
    "tf_istft",
    "tf_stft",
]
