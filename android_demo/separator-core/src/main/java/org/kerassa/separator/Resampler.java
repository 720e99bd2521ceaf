package org.kerassa.separator;

/**
 * Band-limited sample-rate conversion by a rational factor: a polyphase filter whose taps are a
 * Kaiser-windowed sinc.
 *
 * <p><b>Design.</b> Converting from rate {@code from} to rate {@code to} (reduced to {@code L / M}
 * with {@code L = to / g}, {@code M = from / g}, {@code g = gcd}) is interpolation by {@code L},
 * low-pass filtering and decimation by {@code M}; the polyphase form evaluates only the outputs
 * kept. Output sample {@code j} lies at input time {@code tau = j M / L} and is
 * {@code y[j] = sum_k x[k] h(tau - k)} with the continuous kernel
 * <pre>
 *   h(t) = 2 fc sinc(2 fc t) * kaiser(t / T, beta),   |t| &lt; T
 * </pre>
 * where times are in input samples, so only {@code L} distinct sets of taps (phases) exist; they
 * are tabulated once. The kernel is symmetric: the filter is linear-phase with its delay
 * compensated, so output sample 0 is aligned with input sample 0 and nothing is shifted.
 *
 * <p><b>Parameters</b>, chosen to match soxr's "HQ" recipe, which the Python package uses
 * ({@code keras_sa.audio.io.resample}): the band up to {@link #PASSBAND} = 0.913 of the lower
 * rate's Nyquist frequency is kept flat, the stopband starts at that Nyquist frequency
 * ({@link #STOPBAND} = 1.0, so nothing aliases), and the stopband attenuation is
 * {@link #ATTENUATION_DB} = 120 dB. The cut-off {@code fc} is the middle of the transition band;
 * Kaiser's formulas give {@code beta = 0.1102 (A - 8.7)} and the length
 * {@code N = (A - 7.95) / (14.36 df) + 1} taps for a transition of {@code df} cycles per input
 * sample, {@code T = N / 2}. Each phase's taps are scaled to sum to 1 (exact unit gain at DC).
 * For 44.1 kHz to 16 kHz that is 497 taps per output sample (at 44.1 kHz); 16 kHz to 44.1 kHz
 * is 183 taps.
 *
 * <p>Samples outside the input are zeros. The output has {@code round(n * to / from)} samples,
 * soxr's length for a whole signal. Where {@code L} times the tap count would exceed
 * {@link #MAX_TABLE} (rates with a large reduced ratio, e.g. 44101 Hz), taps are interpolated
 * linearly from a finely sampled kernel instead (relative error below 1e-5).
 */
public final class Resampler {
    /** Flat band, as a fraction of the lower rate's Nyquist frequency. */
    public static final double PASSBAND = 0.913;
    /** Start of the stopband, as a fraction of the lower rate's Nyquist frequency. */
    public static final double STOPBAND = 1.0;
    /** Stopband attenuation in dB. */
    public static final double ATTENUATION_DB = 120.0;
    /** Largest tabulated polyphase filter (taps, all phases). */
    static final int MAX_TABLE = 1 << 22;
    private static final int KERNEL_STEPS = 1024;

    public final int from;
    public final int to;
    private final int up;
    private final int down;
    private final double cutoff;
    private final double halfWidth;
    private final double beta;
    private final int reach;
    private final float[][] phases;
    private final double[] kernel;

    public Resampler(int from, int to) {
        this(from, to, false);
    }

    Resampler(int from, int to, boolean interpolatedKernel) {
        if (from <= 0 || to <= 0) {
            throw new IllegalArgumentException("rates must be positive, got " + from + " and " + to);
        }
        this.from = from;
        this.to = to;
        int g = gcd(from, to);
        up = to / g;
        down = from / g;
        double ratio = Math.min(1.0, to / (double) from);
        double transition = (STOPBAND - PASSBAND) * 0.5 * ratio;
        cutoff = (PASSBAND + STOPBAND) / 2 * 0.5 * ratio;
        beta = 0.1102 * (ATTENUATION_DB - 8.7);
        double taps = (ATTENUATION_DB - 7.95) / (14.36 * transition) + 1;
        halfWidth = taps / 2;
        reach = (int) Math.ceil(halfWidth);
        if (up == down) {
            phases = null;
            kernel = null;
        } else if (!interpolatedKernel && (long) up * (2 * reach + 1) <= MAX_TABLE) {
            phases = new float[up][];
            for (int p = 0; p < up; p++) {
                phases[p] = taps(p / (double) up);
            }
            kernel = null;
        } else {
            phases = null;
            kernel = new double[reach * KERNEL_STEPS + 2];
            for (int i = 0; i < kernel.length; i++) {
                kernel[i] = h(i / (double) KERNEL_STEPS);
            }
        }
    }

    /** Resamples one channel from {@code from} to {@code to} Hz. */
    public static float[] resample(float[] samples, int from, int to) {
        return from == to ? samples.clone() : new Resampler(from, to).process(samples);
    }

    /** Samples out for {@code n} samples in: {@code round(n * to / from)}, halves rounded up. */
    public static int outputLength(int n, int from, int to) {
        return (int) outputLength((long) n, from, to);
    }

    static long outputLength(long n, int from, int to) {
        return (2L * n * to + from) / (2L * from);
    }

    /** Kernel taps this filter spans on each side of an output sample, in input samples. */
    public double halfWidth() {
        return halfWidth;
    }

    /**
     * Samples of input this filter reads beyond an output sample's own time: output {@code j} is
     * final once the input up to sample {@code floor(j from / to) + lookAhead()} has arrived.
     */
    public int lookAhead() {
        return up == down ? 0 : reach;
    }

    /** Resamples one channel (a whole signal: a {@link Stream} fed once and flushed). */
    public float[] process(float[] x) {
        if (up == down) {
            return x.clone();
        }
        Stream stream = stream();
        float[] head = stream.process(x, 0, x.length);
        float[] tail = stream.flush();
        float[] y = java.util.Arrays.copyOf(head, head.length + tail.length);
        System.arraycopy(tail, 0, y, head.length, tail.length);
        return y;
    }

    /** A new stream through this filter (the filter's taps are shared, the stream's state is its own). */
    public Stream stream() {
        return new Stream();
    }

    /**
     * Streaming resampling of one channel: input in chunks of any size, each output sample
     * computed as soon as the input it reads has arrived. The samples are those {@link #process}
     * gives for the whole signal, exactly, however the input is cut: each output is the same dot
     * product over the same input samples (zeros beyond the ends are left out in both, at the
     * start because no sample precedes 0, at the end because {@link #flush} knows the length).
     * Holds {@code 2 lookAhead() + 1} input samples plus one chunk.
     */
    public final class Stream {
        private final SampleQueue input = new SampleQueue();
        private final double[] scratch = phases == null && up != down ? new double[2 * reach + 1] : null;
        private long produced;
        private boolean flushed;

        private Stream() {
        }

        /** Input samples received so far. */
        public long received() {
            return input.end();
        }

        /** Input samples held for the outputs still to come. */
        int held() {
            return input.size();
        }

        /** Output samples produced so far. */
        public long produced() {
            return produced;
        }

        /** Feeds {@code x[offset .. offset + length)}; returns the output samples they complete. */
        public float[] process(float[] x, int offset, int length) {
            if (flushed) {
                throw new IllegalStateException("stream already flushed");
            }
            if (up == down) {
                produced += length;
                return java.util.Arrays.copyOfRange(x, offset, offset + length);
            }
            input.append(x, offset, length);
            long n = input.end();
            // Output j is complete once x[floor(j down / up) + reach] has arrived.
            // floor(j down / up) <= last  <=>  j < (last + 1) up / down
            long last = n - reach - 1;
            long ready = last < 0 ? 0 : ((last + 1) * up + down - 1) / down;
            return run(ready, Long.MAX_VALUE);
        }

        /** Ends the stream: the remaining outputs, up to {@code round(n to / from)} in all. */
        public float[] flush() {
            if (flushed) {
                throw new IllegalStateException("stream already flushed");
            }
            flushed = true;
            if (up == down) {
                return new float[0];
            }
            long n = input.end();
            return run(outputLength(n, from, to), n);
        }

        /** Outputs {@code produced .. until - 1}, for an input of {@code n} samples ({@code Long.MAX_VALUE}: not yet known). */
        private float[] run(long until, long n) {
            int count = (int) Math.max(until - produced, 0);
            float[] y = new float[count];
            float[] x = input.array();
            for (int i = 0; i < count; i++) {
                long j = produced + i;
                long position = j * down;
                long base = position / up; // floor(tau)
                int phase = (int) (position % up);
                // taps[o + reach] weighs x[base - o], o in [-reach, reach]
                int oLo = (int) Math.max(-reach, base - (n - 1));
                int oHi = (int) Math.min(reach, base);
                int at = input.index(base - oLo);
                double sum = 0;
                if (phases != null) {
                    sum = dot(phases[phase], oLo + reach, x, at, oHi - oLo + 1);
                } else {
                    double frac = phase / (double) up;
                    double total = 0;
                    for (int o = -reach; o <= reach; o++) {
                        double w = interpolated(frac + o);
                        scratch[o + reach] = w;
                        total += w;
                    }
                    for (int o = oLo; o <= oHi; o++) {
                        sum += scratch[o + reach] * x[at - (o - oLo)];
                    }
                    sum /= total;
                }
                y[i] = (float) sum;
            }
            produced += count;
            input.discardBefore(((produced * down) / up) - reach);
            return y;
        }
    }

    /**
     * {@code sum_i taps[t + i] * x[s - i]} for {@code i < count}, with four independent partial
     * sums (the additions of one chain would otherwise wait on each other).
     */
    private static double dot(float[] taps, int t, float[] x, int s, int count) {
        double a = 0;
        double b = 0;
        double c = 0;
        double d = 0;
        int i = 0;
        for (; i + 3 < count; i += 4) {
            a += taps[t + i] * x[s - i];
            b += taps[t + i + 1] * x[s - i - 1];
            c += taps[t + i + 2] * x[s - i - 2];
            d += taps[t + i + 3] * x[s - i - 3];
        }
        for (; i < count; i++) {
            a += taps[t + i] * x[s - i];
        }
        return (a + b) + (c + d);
    }

    /** Taps of one phase: {@code h(frac + o)} for {@code o} in {@code [-reach, reach]}, summing to 1. */
    private float[] taps(double frac) {
        double[] w = new double[2 * reach + 1];
        double total = 0;
        for (int o = -reach; o <= reach; o++) {
            w[o + reach] = h(frac + o);
            total += w[o + reach];
        }
        float[] taps = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            taps[i] = (float) (w[i] / total);
        }
        return taps;
    }

    /** The continuous kernel at {@code t} input samples from the output sample. */
    private double h(double t) {
        double a = Math.abs(t);
        if (a >= halfWidth) {
            return 0.0;
        }
        double x = 2 * cutoff * t;
        double sinc = x == 0 ? 1.0 : Math.sin(Math.PI * x) / (Math.PI * x);
        double r = a / halfWidth;
        return 2 * cutoff * sinc * besselI0(beta * Math.sqrt(1 - r * r)) / besselI0(beta);
    }

    private double interpolated(double t) {
        double position = Math.abs(t) * KERNEL_STEPS;
        int i = (int) position;
        if (i + 1 >= kernel.length) {
            return 0.0;
        }
        double f = position - i;
        return kernel[i] + f * (kernel[i + 1] - kernel[i]);
    }

    /** The modified Bessel function of the first kind, order 0 (power series; converges for all x). */
    static double besselI0(double x) {
        double sum = 1.0;
        double term = 1.0;
        double quarter = x * x / 4;
        for (int k = 1; k < 500; k++) {
            term *= quarter / ((double) k * k);
            sum += term;
            if (term < sum * 1e-17) {
                break;
            }
        }
        return sum;
    }

    private static int gcd(int a, int b) {
        while (b != 0) {
            int t = a % b;
            a = b;
            b = t;
        }
        return a;
    }
}
