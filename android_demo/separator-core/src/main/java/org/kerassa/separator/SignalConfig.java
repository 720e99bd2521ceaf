package org.kerassa.separator;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The signal settings of a model: how samples become model inputs and masks become samples.
 *
 * <p>The Java twin of {@code keras_sa.audio.signal.SignalConfig}, read from the {@code "signal"}
 * object of a model's audio contract (see {@link AudioContract}).
 */
public final class SignalConfig {
    /** Rate, in Hz, the model works at. */
    public final int sampleRate;
    /** STFT window and FFT size. */
    public final int nFft;
    /** STFT hop in samples. */
    public final int hopLength;
    /** Frequency bins the model sees, counted from DC. */
    public final int nBins;
    /** STFT frames in one model input. */
    public final int patchFrames;
    /** Frames between successive model windows; each keeps {@code windowHop} of its frames. */
    public final int windowHop;
    /**
     * Frames of each window before the {@code windowHop} it keeps; the other
     * {@link #windowLookAhead()} come after them.
     */
    public final int windowMargin;
    /** {@code "log"} or {@code "none"}. */
    public final String compression;
    /** {@code c} of {@code log1p(c * m)}. */
    public final float compressionStrength;
    /** Names of the model's output masks, in order. */
    public final List<String> sources;

    /** A config whose windows keep their central frames. */
    public SignalConfig(int sampleRate, int nFft, int hopLength, int nBins, int patchFrames, int windowHop,
            String compression, float compressionStrength, List<String> sources) {
        this(sampleRate, nFft, hopLength, nBins, patchFrames, windowHop, null, compression, compressionStrength,
                sources);
    }

    /**
     * A config; {@code windowMargin} {@code null} centres the kept frames, {@code (patch_frames -
     * window_hop) / 2}, as the Python twin does.
     */
    public SignalConfig(int sampleRate, int nFft, int hopLength, int nBins, int patchFrames, int windowHop,
            Integer windowMargin, String compression, float compressionStrength, List<String> sources) {
        // The ranges of the Python twin: a contract is outside data, and these sizes allocate.
        checkRange("sample_rate", sampleRate, 1, 10000000);
        checkRange("n_fft", nFft, 2, 1 << 16);
        checkRange("hop_length", hopLength, 1, nFft);
        checkRange("n_bins", nBins, 1, 1 << 16);
        checkRange("patch_frames", patchFrames, 1, 1 << 12);
        checkRange("window_hop", windowHop, 1, 1 << 12);
        if (!(compressionStrength > 0) || Float.isInfinite(compressionStrength)) {
            throw new IllegalArgumentException("compression_strength must be a positive number, got " + compressionStrength);
        }
        if (nBins <= 0 || nBins > nFft / 2 + 1) {
            throw new IllegalArgumentException("n_bins=" + nBins + " must lie in [1, n_fft // 2 + 1]");
        }
        if (!"log".equals(compression) && !"none".equals(compression)) {
            throw new IllegalArgumentException("unknown compression '" + compression + "'");
        }
        if (windowHop <= 0 || windowHop > patchFrames) {
            throw new IllegalArgumentException("window_hop must lie in (0, patch_frames]");
        }
        int spare = patchFrames - windowHop;
        if (windowMargin == null && spare % 2 != 0) {
            throw new IllegalArgumentException(
                    "patch_frames - window_hop must be even for a centred window (or set window_margin)");
        }
        if (windowMargin != null && (windowMargin < 0 || windowMargin > spare)) {
            throw new IllegalArgumentException(
                    "window_margin must lie in [0, patch_frames - window_hop = " + spare + "], got " + windowMargin);
        }
        if (sources == null || sources.isEmpty() || sources.size() > 16 || new java.util.HashSet<String>(sources).size() != sources.size()
                || sources.contains(null) || sources.contains("")) {
            throw new IllegalArgumentException("sources must be 1 to 16 distinct names, got " + sources);
        }
        this.sampleRate = sampleRate;
        this.nFft = nFft;
        this.hopLength = hopLength;
        this.nBins = nBins;
        this.patchFrames = patchFrames;
        this.windowHop = windowHop;
        this.windowMargin = windowMargin != null ? windowMargin : spare / 2;
        this.compression = compression;
        this.compressionStrength = compressionStrength;
        this.sources = Collections.unmodifiableList(new ArrayList<String>(sources));
    }

    private static void checkRange(String name, int value, int low, int high) {
        if (value < low || value > high) {
            throw new IllegalArgumentException(name + " must be a whole number in [" + low + ", " + high + "], got " + value);
        }
    }

    /** Bins of the one-sided spectrum: {@code n_fft / 2 + 1}. */
    public int spectrumBins() {
        return nFft / 2 + 1;
    }

    /** Frames of the centred STFT of {@code numSamples} samples: {@code 1 + n / hop}. */
    public int numFrames(int numSamples) {
        return 1 + numSamples / hopLength;
    }

    /** Zero frames in front of the first window: {@code window_margin}. */
    public int windowMargin() {
        return windowMargin;
    }

    /** Frames of each window after the ones it keeps: {@code patch_frames - window_hop - window_margin}. */
    public int windowLookAhead() {
        return patchFrames - windowHop - windowMargin;
    }

    /** Position of a source in the model output, or -1. */
    public int sourceIndex(String name) {
        return sources.indexOf(name);
    }

    @Override
    public String toString() {
        return "SignalConfig{sample_rate=" + sampleRate + ", n_fft=" + nFft + ", hop_length=" + hopLength
                + ", n_bins=" + nBins + ", patch_frames=" + patchFrames + ", window_hop=" + windowHop + ", window_margin=" + windowMargin
                + ", compression=" + compression + ", compression_strength=" + compressionStrength
                + ", sources=" + sources + "}";
    }
}
