package org.kerassa.separator;

import java.util.ArrayDeque;

/**
 * Separates a recording that arrives in pieces: the Java twin of
 * {@code keras_sa.StreamingSeparator}, and the one definition of the separation
 * ({@link Separator#separate} feeds the whole recording through it).
 *
 * <p>Feed chunks of any size ({@link #process}, one sample up) and call {@link #flush} at the
 * end; each call returns the vocals and accompaniment samples it has finished. Output sample
 * {@code i} is the stem of input sample {@code i}, and the returns joined are the same whatever
 * the chunk sizes, exactly. The chain, each stage streaming and each computing what the
 * offline pieces compute for a whole signal (the same samples, exactly):
 * <ol>
 *   <li>each channel resampled to the model rate ({@link Resampler.Stream});
 *   <li>the centred STFT of each channel ({@link Stft.Analysis}); the down-mix's spectrum is the
 *       mean of the channels' (the STFT is linear), its model-band magnitudes go to the model's
 *       sliding windows ({@link WindowedMasks}: {@code patch_frames} frames every
 *       {@code window_hop}, each normalized on its own, each keeping the masks of the
 *       {@code window_hop} frames after its first {@code window_margin});
 *   <li>ratio masks, {@code share = (m_vocals + 1e-6) / (m_vocals + m_accompaniment + 2e-6)}
 *       (bins above {@code n_bins} take bin {@code n_bins - 1}'s), applied to each channel's
 *       spectrum and inverted by overlap-add ({@link Stft.Synthesis});
 *   <li>the vocals resampled back to the input rate; accompaniment = the input, delayed to match,
 *       minus the vocals, so the two add up to the input.
 * </ol>
 *
 * <p><b>Latency.</b> Outputs lag the input by exactly {@link #latency()} samples: after {@code n}
 * samples in, {@code max(0, n - latency)} samples have come out (and the rest at {@link #flush}).
 * At the model rate that is the model's look-ahead,
 * {@code (patch_frames - window_margin - 1) hop + n_fft - 1} samples (22015 at 16 kHz, 1.376 s,
 * for the bundled models): the first sample of a window's kept frames is final only when the
 * last frame that window reads has arrived. At another rate the two resamplers' look-ahead is added (rounded up).
 * Memory holds the look-ahead and one chunk, whatever the length of the stream.
 *
 * <p>Not thread-safe: feed it from one thread. A thread that is interrupted stops with a
 * {@link java.util.concurrent.CancellationException} at the next model window.
 */
public final class StreamingSeparator {
    public final SignalConfig signal;
    /** Rate of the input and outputs, in Hz. */
    public final int sampleRate;
    /** Channels of the input and outputs. */
    public final int channels;

    private final int vocalsIndex;
    private final int accompanimentIndex;
    private final int latency;
    private final Resampler.Stream[] down;
    private final Resampler.Stream[] up;
    private final Stft.Analysis[] analysis;
    private final Stft.Synthesis[] synthesis;
    private final WindowedMasks masks;
    /** Per frame waiting for its masks: {@code [re or im][channel][bin]}. */
    private final ArrayDeque<float[][][]> spectra = new ArrayDeque<float[][][]>();
    private final SampleQueue[] input;
    private final SampleQueue[] vocals;
    private final float[] meanRe;
    private final float[] meanIm;
    private final float[] share;
    private final float[] maskedRe;
    private final float[] maskedIm;
    private long received;
    private long released;
    private boolean flushed;

    StreamingSeparator(SignalConfig signal, MaskModel model, int sampleRate, int channels) {
        if (sampleRate <= 0) {
            throw new IllegalArgumentException("sample rate must be positive, got " + sampleRate);
        }
        if (channels <= 0) {
            throw new IllegalArgumentException("audio needs at least one channel, got " + channels);
        }
        this.signal = signal;
        this.sampleRate = sampleRate;
        this.channels = channels;
        this.vocalsIndex = signal.sourceIndex("vocals");
        this.accompanimentIndex = signal.sourceIndex("accompaniment");
        if (vocalsIndex < 0 || accompanimentIndex < 0) {
            throw new IllegalArgumentException("the model needs 'vocals' and 'accompaniment' masks, has " + signal.sources);
        }
        int modelRate = signal.sampleRate;
        Stft stft = new Stft(signal); // its scratch buffers serve every stage, one after the other
        masks = new WindowedMasks(signal, model);
        analysis = new Stft.Analysis[channels];
        synthesis = new Stft.Synthesis[channels];
        input = new SampleQueue[channels];
        vocals = new SampleQueue[channels];
        boolean resampled = sampleRate != modelRate;
        Resampler downFilter = resampled ? new Resampler(sampleRate, modelRate) : null;
        Resampler upFilter = resampled ? new Resampler(modelRate, sampleRate) : null;
        down = resampled ? new Resampler.Stream[channels] : null;
        up = resampled ? new Resampler.Stream[channels] : null;
        for (int c = 0; c < channels; c++) {
            analysis[c] = stft.analysis();
            synthesis[c] = stft.synthesis();
            input[c] = new SampleQueue();
            vocals[c] = new SampleQueue();
            if (resampled) {
                down[c] = downFilter.stream();
                up[c] = upFilter.stream();
            }
        }
        long lookAhead = modelLatency(signal);
        latency = (int) (resampled
                ? (((long) upFilter.lookAhead() + lookAhead) * sampleRate + modelRate - 1) / modelRate + downFilter.lookAhead()
                : lookAhead);
        int bins = signal.spectrumBins();
        meanRe = new float[bins];
        meanIm = new float[bins];
        share = new float[bins];
        maskedRe = new float[bins];
        maskedIm = new float[bins];
    }

    /**
     * The look-ahead at the model rate, in samples: {@code (patch_frames - window_margin - 1) hop +
     * n_fft - 1}. Sample {@code u} needs every frame up to {@code F = floor((u + n_fft / 2) / hop)};
     * frame {@code F}'s masks come from the window whose kept frames hold it, which reads frames up
     * to {@code patch_frames - window_margin - 1} past the window's first kept frame, and each frame
     * reads {@code n_fft / 2} samples past its centre. The most is needed by the earliest sample
     * whose last frame is a window's first kept frame.
     */
    static long modelLatency(SignalConfig signal) {
        int pad = signal.nFft / 2;
        return (long) (signal.patchFrames - signal.windowMargin() - 1) * signal.hopLength + (signal.nFft - pad) + pad - 1;
    }

    /** Outputs lag the input by this many samples (at the input rate) until {@link #flush}. */
    public int latency() {
        return latency;
    }

    /** Input samples (per channel) fed so far. */
    public long received() {
        return received;
    }

    /** Output samples (per channel) returned so far. */
    public long released() {
        return released;
    }

    /**
     * Values (samples, spectrum values) held in the stream's buffers: bounded by the look-ahead
     * and one chunk, whatever the length of the stream.
     */
    long held() {
        long held = (long) spectra.size() * 2 * channels * signal.spectrumBins() + (long) masks.held() * signal.nBins;
        for (int c = 0; c < channels; c++) {
            held += input[c].size() + vocals[c].size() + analysis[c].held() + synthesis[c].held();
            if (down != null) {
                held += down[c].held() + up[c].held();
            }
        }
        return held;
    }

    /** Model windows run so far. */
    public long windows() {
        return masks.windows();
    }

    /** Feeds a chunk {@code [channels][n]} (any {@code n >= 0}); returns the finished samples. */
    public Separator.Stems process(float[][] chunk) {
        if (chunk.length != channels) {
            throw new IllegalArgumentException("chunk has " + chunk.length + " channels, the stream " + channels);
        }
        return process(chunk, 0, chunk[0].length);
    }

    /**
     * Feeds {@code chunk[c][offset .. offset + length)} of every channel {@code c}; returns the
     * samples finished, {@code [channels][m]}: exactly those that bring the output to
     * {@code max(0, received - latency)} samples.
     */
    public Separator.Stems process(float[][] chunk, int offset, int length) {
        if (flushed) {
            throw new IllegalStateException("stream already flushed");
        }
        if (chunk.length != channels) {
            throw new IllegalArgumentException("chunk has " + chunk.length + " channels, the stream " + channels);
        }
        for (float[] channel : chunk) {
            if (offset < 0 || length < 0 || offset + length > channel.length) {
                throw new IllegalArgumentException("samples [" + offset + ", " + (offset + length) + ") outside a channel of " + channel.length);
            }
        }
        for (int c = 0; c < channels; c++) {
            input[c].append(chunk[c], offset, length);
            if (down != null) {
                float[] atRate = down[c].process(chunk[c], offset, length);
                analysis[c].push(atRate, 0, atRate.length);
            } else {
                analysis[c].push(chunk[c], offset, length);
            }
        }
        received += length;
        pump();
        for (int c = 0; c < channels; c++) {
            addVocals(c, synthesis[c].take(), false);
        }
        return release(Math.max(received - latency, released));
    }

    /** Ends the stream: the remaining samples, so that the outputs are as long as the input. */
    public Separator.Stems flush() {
        if (flushed) {
            throw new IllegalStateException("stream already flushed");
        }
        flushed = true;
        if (received == 0) {
            return release(0); // nothing to separate: no model call
        }
        for (int c = 0; c < channels; c++) {
            if (down != null) {
                float[] tail = down[c].flush();
                analysis[c].push(tail, 0, tail.length);
            }
            analysis[c].finish();
        }
        pump();
        masks.finish();
        while (masks.hasWindow()) {
            apply(masks.next());
        }
        long atRate = down != null ? down[0].produced() : received;
        for (int c = 0; c < channels; c++) {
            addVocals(c, synthesis[c].finish(atRate), true);
            long missing = received - vocals[c].end();
            if (missing > 0) {
                vocals[c].appendZeros((int) missing); // the resampled length fell short by rounding
            }
        }
        return release(received);
    }

    /** Computes every frame the samples received allow, and every window those frames allow. */
    private void pump() {
        int bins = signal.spectrumBins();
        float[][] re = new float[channels][];
        float[][] im = new float[channels][];
        while (analysis[0].hasFrame()) {
            float[][][] frame = new float[2][channels][bins];
            for (int c = 0; c < channels; c++) {
                analysis[c].next(frame[0][c], frame[1][c]);
                re[c] = frame[0][c];
                im[c] = frame[1][c];
            }
            Spectrogram.mean(re, meanRe);
            Spectrogram.mean(im, meanIm);
            float[] magnitude = new float[signal.nBins];
            Spectrogram.magnitude(meanRe, meanIm, magnitude);
            masks.push(magnitude);
            spectra.addLast(frame);
            while (masks.hasWindow()) {
                apply(masks.next());
            }
        }
    }

    /** Masks the frames of one window's masks {@code [frames][n_bins][n_sources]} and overlap-adds them. */
    private void apply(float[][][] frameMasks) {
        for (float[][] frameMask : frameMasks) {
            float[][][] frame = spectra.removeFirst();
            Separator.share(frameMask, vocalsIndex, accompanimentIndex, share);
            for (int c = 0; c < channels; c++) {
                Spectrogram.masked(share, frame[0][c], maskedRe);
                Spectrogram.masked(share, frame[1][c], maskedIm);
                synthesis[c].push(maskedRe, maskedIm);
            }
        }
    }

    private void addVocals(int c, float[] atModelRate, boolean last) {
        if (up == null) {
            vocals[c].append(atModelRate, 0, atModelRate.length);
            return;
        }
        float[] out = up[c].process(atModelRate, 0, atModelRate.length);
        vocals[c].append(out, 0, out.length);
        if (last) {
            out = up[c].flush();
            vocals[c].append(out, 0, out.length);
        }
    }

    /** Hands out the outputs up to sample {@code until}. */
    private Separator.Stems release(long until) {
        int count = (int) (until - released);
        float[][] v = new float[channels][];
        float[][] a = new float[channels][count];
        for (int c = 0; c < channels; c++) {
            if (vocals[c].end() < until) {
                // The latency is each stage's look-ahead added up: reaching here is a bug.
                throw new IllegalStateException("vocals up to " + vocals[c].end() + " of " + until + " samples");
            }
            v[c] = vocals[c].take(count);
            for (int i = 0; i < count; i++) {
                a[c][i] = input[c].get(released + i) - v[c][i];
            }
            input[c].discardBefore(until);
        }
        released = until;
        return new Separator.Stems(new AudioBuffer(v, sampleRate), new AudioBuffer(a, sampleRate));
    }
}
