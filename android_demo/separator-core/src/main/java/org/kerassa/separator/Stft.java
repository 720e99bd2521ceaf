package org.kerassa.separator;

/**
 * The STFT convention of the Python package ({@code keras_sa.audio.signal.stft} / {@code istft},
 * librosa with a Hann window and {@code center=True}):
 *
 * <ul>
 *   <li>a periodic Hann window of {@code n_fft} samples, {@code w[k] = 0.5 - 0.5 cos(2 pi k / n_fft)};
 *   <li>centred frames: the signal is zero-padded by {@code n_fft / 2} on both sides, frame
 *       {@code i} is centred on sample {@code i * hop}, and {@code n} samples give
 *       {@code 1 + n / hop} frames;
 *   <li>the inverse overlap-adds the windowed inverse FFTs and divides by the summed squared
 *       window (where that sum is above float's smallest normal number), so
 *       {@code inverse(forward(x)) == x} up to rounding.
 * </ul>
 *
 * Frames are windowed and transformed in double precision and stored as float, like librosa
 * (float64 window times float32 samples, stored complex64). Instances hold scratch buffers: use
 * one per thread.
 */
public final class Stft {
    private static final double FLOAT_TINY = Float.MIN_NORMAL;

    public final int nFft;
    public final int hopLength;
    private final double[] window;
    private final Fft fft;
    private final double[] frame;
    private final double[] binRe;
    private final double[] binIm;

    public Stft(int nFft, int hopLength) {
        if (hopLength <= 0 || hopLength > nFft) {
            throw new IllegalArgumentException("need 0 < hop <= n_fft");
        }
        this.nFft = nFft;
        this.hopLength = hopLength;
        this.window = hann(nFft);
        this.fft = new Fft(nFft);
        this.frame = new double[nFft];
        this.binRe = new double[nFft / 2 + 1];
        this.binIm = new double[nFft / 2 + 1];
    }

    public Stft(SignalConfig signal) {
        this(signal.nFft, signal.hopLength);
    }

    /** The periodic ("DFT-even") Hann window of {@code n} samples: {@code 0.5 - 0.5 cos(2 pi k / n)}. */
    public static double[] hann(int n) {
        double[] w = new double[n];
        for (int k = 0; k < n; k++) {
            w[k] = 0.5 - 0.5 * Math.cos(2 * Math.PI * k / n);
        }
        return w;
    }

    /** The analysis window (a copy). */
    public double[] window() {
        return window.clone();
    }

    /** Frames of the centred STFT of {@code n} samples. */
    public int frames(int n) {
        return 1 + n / hopLength;
    }

    /** The centred STFT of {@code samples}: {@code frames(n) x (n_fft / 2 + 1)}. */
    public Spectrogram forward(float[] samples) {
        int n = samples.length;
        int frames = frames(n);
        Spectrogram out = Spectrogram.zeros(frames, nFft / 2 + 1);
        for (int f = 0; f < frames; f++) {
            frame(samples, 0, n, (long) f * hopLength - nFft / 2, out.re[f], out.im[f]);
        }
        return out;
    }

    /**
     * One frame: samples {@code [start, start + n_fft)} of a signal of {@code n} samples (zeros
     * outside {@code [0, n)}), windowed and transformed; sample {@code t} is {@code x[t - origin]}.
     */
    private void frame(float[] x, long origin, long n, long start, float[] re, float[] im) {
        for (int k = 0; k < nFft; k++) {
            long t = start + k;
            frame[k] = t >= 0 && t < n ? window[k] * x[(int) (t - origin)] : 0.0;
        }
        fft.forward(frame, binRe, binIm);
        for (int k = 0; k < re.length; k++) {
            re[k] = (float) binRe[k];
            im[k] = (float) binIm[k];
        }
    }

    /**
     * The inverse of {@link #forward}: {@code length} samples (librosa's {@code istft(...,
     * center=True, length=length)}: frames beyond the ones that reach the output are ignored,
     * samples no frame reaches are zero).
     */
    public float[] inverse(Spectrogram spectrum, int length) {
        int frames = (int) Math.min(spectrum.frames(), (length + 2L * (nFft / 2) + hopLength - 1) / hopLength);
        Synthesis synthesis = synthesis();
        for (int f = 0; f < frames; f++) {
            synthesis.push(spectrum.re[f], spectrum.im[f]);
        }
        return synthesis.finish(length);
    }

    /** A streaming forward transform on this instance's window and scratch buffers. */
    public Analysis analysis() {
        return new Analysis();
    }

    /** A streaming inverse transform on this instance's window and scratch buffers. */
    public Synthesis synthesis() {
        return new Synthesis();
    }

    /**
     * The centred STFT of a signal that arrives in pieces: frame {@code f} (centred on sample
     * {@code f hop}) is ready once the samples up to {@code f hop + n_fft / 2 - 1} have arrived;
     * after {@link #finish} the frames over the end (zero-padded) follow, {@code 1 + n / hop} in
     * all. The frames are those {@link #forward} gives for the whole signal, exactly.
     */
    public final class Analysis {
        private final SampleQueue samples = new SampleQueue();
        private long next;
        private long total = -1;

        private Analysis() {
        }

        public void push(float[] x, int offset, int length) {
            if (total >= 0) {
                throw new IllegalStateException("analysis already finished");
            }
            samples.append(x, offset, length);
        }

        /** No more samples: the frames over the end can be computed. */
        public void finish() {
            total = samples.end();
        }

        /** Frames computed so far. */
        public long frames() {
            return next;
        }

        /** Samples held for the frames still to come. */
        int held() {
            return samples.size();
        }

        /** Whether frame {@link #frames()} can be computed now. */
        public boolean hasFrame() {
            if (total >= 0) {
                return next < 1 + total / hopLength;
            }
            return samples.end() >= next * hopLength - nFft / 2 + nFft;
        }

        /** Computes the next frame into {@code re} and {@code im} ({@code n_fft / 2 + 1} bins each). */
        public void next(float[] re, float[] im) {
            if (!hasFrame()) {
                throw new IllegalStateException("frame " + next + " needs samples not yet received");
            }
            long start = next * hopLength - nFft / 2;
            frame(samples.array(), samples.origin() - samples.index(samples.origin()),
                    total >= 0 ? total : Long.MAX_VALUE, start, re, im);
            next++;
            samples.discardBefore(next * hopLength - nFft / 2);
        }
    }

    /**
     * The inverse of {@link Analysis}: frames in, in order, overlap-added; sample {@code t} is
     * final once every frame that reaches it has arrived (frame {@code f} reaches samples
     * {@code f hop - n_fft / 2} to {@code f hop + n_fft / 2 - 1}). Sums in the same order as
     * {@link #inverse}, so the samples are the same, exactly. Holds {@code n_fft} samples.
     */
    public final class Synthesis {
        private double[] sum = new double[2 * nFft];
        private double[] weight = new double[2 * nFft];
        private long origin; // sample of sum[0]
        private long next;   // frames pushed
        private final double[] re = new double[nFft / 2 + 1];
        private final double[] im = new double[nFft / 2 + 1];
        private final double[] out = new double[nFft];

        private Synthesis() {
        }

        /** Frames pushed so far. */
        public long frames() {
            return next;
        }

        /** Samples of overlap-add buffer (sums and weights) held. */
        int held() {
            return 2 * sum.length;
        }

        /** Adds the next frame ({@code n_fft / 2 + 1} bins). */
        public void push(float[] frameRe, float[] frameIm) {
            for (int k = 0; k < re.length; k++) {
                re[k] = frameRe[k];
                im[k] = frameIm[k];
            }
            fft.inverse(re, im, out);
            long start = next * hopLength - nFft / 2;
            int from = (int) Math.max(0, -start);
            reserve(start + nFft);
            for (int k = from; k < nFft; k++) {
                int at = (int) (start + k - origin);
                sum[at] += window[k] * out[k];
                weight[at] += window[k] * window[k];
            }
            next++;
        }

        /** Samples no later frame will reach: all before {@code frames() hop - n_fft / 2}. */
        public long ready() {
            return Math.max(next * hopLength - nFft / 2, 0);
        }

        /** Removes and returns the final samples not yet taken. */
        public float[] take() {
            return take(ready());
        }

        /** The remaining samples of a signal of {@code length} samples (zeros where no frame reached). */
        public float[] finish(long length) {
            return take(length);
        }

        private float[] take(long until) {
            int count = (int) Math.max(until - origin, 0);
            reserve(origin + count);
            float[] samples = new float[count];
            for (int t = 0; t < count; t++) {
                samples[t] = (float) (weight[t] > FLOAT_TINY ? sum[t] / weight[t] : sum[t]);
            }
            int keep = sum.length - count;
            System.arraycopy(sum, count, sum, 0, keep);
            System.arraycopy(weight, count, weight, 0, keep);
            java.util.Arrays.fill(sum, keep, sum.length, 0.0);
            java.util.Arrays.fill(weight, keep, weight.length, 0.0);
            origin += count;
            return samples;
        }

        /** Room for samples up to {@code end} (exclusive). */
        private void reserve(long end) {
            if (end - origin > sum.length) {
                int capacity = (int) Math.max(2L * sum.length, end - origin);
                sum = java.util.Arrays.copyOf(sum, capacity);
                weight = java.util.Arrays.copyOf(weight, capacity);
            }
        }
    }
}
