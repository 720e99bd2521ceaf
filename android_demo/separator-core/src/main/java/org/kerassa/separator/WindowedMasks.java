package org.kerassa.separator;

import java.util.ArrayList;
import java.util.concurrent.CancellationException;

/**
 * The model's sliding windows over a stream of spectrogram frames: model-band magnitudes in, one
 * frame at a time, masks out, one window's kept frames at a time.
 *
 * <p>Window {@code w} covers frames {@code [w window_hop - window_margin, + patch_frames)}, zeros
 * outside the signal; it is normalized on its own ({@link Features}) and keeps the masks of the
 * frames {@code [w window_hop, (w + 1) window_hop)}. So window {@code w} can run once frame
 * {@code (w + 1) window_hop + window_look_ahead - 1} has arrived, and {@code ceil(frames / window_hop)}
 * windows cover a signal. Holds {@code patch_frames} frames.
 */
final class WindowedMasks {
    /** Frames by absolute index; {@code null} for a frame outside the signal (zeros). */
    interface Frames {
        float[] frame(long index);
    }

    private final SignalConfig signal;
    private final MaskModel model;
    private final ArrayList<float[]> frames = new ArrayList<float[]>();
    private final float[][][] predicted;
    private long first; // index of frames.get(0)
    private long pushed;
    private long total = -1;
    private long windows;

    WindowedMasks(SignalConfig signal, MaskModel model) {
        this.signal = signal;
        this.model = model;
        this.predicted = new float[signal.patchFrames][signal.nBins][signal.sources.size()];
    }

    /** The features of window {@code index} ({@code patch_frames x n_bins}). */
    static float[][] features(SignalConfig signal, Frames source, long index) {
        int patch = signal.patchFrames;
        long start = index * signal.windowHop - signal.windowMargin();
        float[][] raw = new float[patch][];
        for (int f = 0; f < patch; f++) {
            float[] frame = source.frame(start + f);
            raw[f] = frame != null ? frame : new float[signal.nBins];
        }
        return Features.normalize(raw, signal);
    }

    /** Adds the next frame's model-band magnitudes ({@code n_bins}; kept, not copied). */
    void push(float[] magnitude) {
        if (total >= 0) {
            throw new IllegalStateException("frames already finished");
        }
        frames.add(magnitude);
        pushed++;
    }

    /** No more frames: the last windows (zero-padded) can run. */
    void finish() {
        total = pushed;
    }

    /** Frames held for the windows still to run. */
    int held() {
        return frames.size();
    }

    /** Windows run so far. */
    long windows() {
        return windows;
    }

    /** Whether the next window can run now. */
    boolean hasWindow() {
        int hop = signal.windowHop;
        if (total >= 0) {
            return windows * hop < total;
        }
        return pushed >= (windows + 1) * hop + signal.windowLookAhead();
    }

    /**
     * Runs the next window: the masks {@code [count][n_bins][n_sources]} of its kept frames
     * (fewer than {@code window_hop} for the last window of a signal).
     *
     * @throws CancellationException the thread is interrupted.
     */
    float[][][] next() {
        if (!hasWindow()) {
            throw new IllegalStateException("window " + windows + " needs frames not yet received");
        }
        if (Thread.currentThread().isInterrupted()) {
            throw new CancellationException("separation cancelled");
        }
        final long end = total >= 0 ? total : pushed;
        model.predict(features(signal, new Frames() {
            @Override
            public float[] frame(long index) {
                return index >= 0 && index < end ? get(index) : null;
            }
        }, windows), predicted);
        int hop = signal.windowHop;
        int margin = signal.windowMargin();
        long begin = windows * hop;
        int count = (int) Math.min(hop, end - begin);
        float[][][] masks = new float[count][signal.nBins][];
        for (int f = 0; f < count; f++) {
            for (int k = 0; k < signal.nBins; k++) {
                masks[f][k] = predicted[margin + f][k].clone();
            }
        }
        windows++;
        int drop = (int) Math.min(Math.max(windows * hop - margin - first, 0), frames.size());
        frames.subList(0, drop).clear();
        first += drop;
        return masks;
    }

    private float[] get(long index) {
        if (index < first) {
            throw new IllegalStateException("frame " + index + " no longer held");
        }
        return frames.get((int) (index - first));
    }
}
