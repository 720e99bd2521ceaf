package org.kerassa.separator;

import java.io.IOException;
import java.util.concurrent.CancellationException;

/**
 * Separates vocals from accompaniment: the Java twin of {@code keras_sa.separation.Separator}.
 *
 * <p>How a recording of any rate, length and channel count is separated (each step as the
 * Python package does it, so the two agree to float rounding given the same masks):
 * <ol>
 *   <li><b>Masks from the mono down-mix at the model rate.</b> Each channel is resampled to the
 *       model rate and transformed ({@link Stft}); the down-mix's spectrum is the mean of the
 *       channels' (the STFT is linear). Its model-band magnitudes are cut into windows of
 *       {@code patch_frames} frames, {@code window_hop} apart, after
 *       {@code window_margin} zero frames; each window is normalized on its
 *       own ({@link Features}) and keeps the masks of the {@code window_hop} frames after its
 *       first {@code window_margin}.
 *   <li><b>Ratio masks.</b> {@code share = (m_vocals + 1e-6) / (m_vocals + m_accompaniment + 2e-6)};
 *       bins above {@code n_bins} take the share of bin {@code n_bins - 1}.
 *   <li><b>Vocals per channel:</b> {@code istft(share * stft(channel))}, resampled back to the
 *       input rate.
 *   <li><b>Accompaniment = input - vocals</b>, so the two outputs add up to the input.
 * </ol>
 * Every stage streams: {@link #stream} gives a {@link StreamingSeparator}, which takes the
 * recording in chunks and hands out finished samples; {@link #separate} and
 * {@link #separateVocals} feed a whole recording through one, in chunks of
 * {@link #CHUNK_SECONDS}, so memory holds the look-ahead (about a second) and one chunk,
 * whatever the length. The whole-spectrogram methods ({@link #windows}, {@link #masks},
 * {@link #vocalShare}) run the same windows on a spectrogram in memory.
 *
 * <p>Not thread-safe (it holds STFT scratch buffers): one separation at a time per instance. A
 * separation running on a thread that is interrupted stops with a {@link CancellationException}.
 */
public final class Separator {
    static final float SHARE_EPS = 1e-6f;

    /** Progress of a separation, in input frames. */
    public interface ProgressListener {
        void onProgress(long doneFrames, long totalFrames);
    }

    /** Receives finished, consecutive pieces of the vocals. */
    public interface VocalsSink {
        /**
         * Frames {@code [start, start + length)} of the vocals: {@code vocals[channel][0 .. length)}.
         * The array is reused after the call returns.
         */
        void accept(int start, float[][] vocals, int length) throws IOException;
    }

    /** The two outputs of a separation, each shaped like the input. */
    public static final class Stems {
        public final AudioBuffer vocals;
        public final AudioBuffer accompaniment;

        Stems(AudioBuffer vocals, AudioBuffer accompaniment) {
            this.vocals = vocals;
            this.accompaniment = accompaniment;
        }
    }

    /** Input fed to the stream per step by {@link #separateVocals}, in seconds. */
    public static final double CHUNK_SECONDS = 1.0;

    public final SignalConfig signal;
    private final MaskModel model;
    private final int vocalsIndex;
    private final int accompanimentIndex;

    public Separator(SignalConfig signal, MaskModel model) {
        this.signal = signal;
        this.model = model;
        this.vocalsIndex = signal.sourceIndex("vocals");
        this.accompanimentIndex = signal.sourceIndex("accompaniment");
        if (vocalsIndex < 0 || accompanimentIndex < 0) {
            throw new IllegalArgumentException("the model needs 'vocals' and 'accompaniment' masks, has " + signal.sources);
        }
    }

    /** A separator for a model and its contract. */
    public static Separator forContract(AudioContract contract, TensorModel model) {
        return new Separator(contract.signal, new ContractMaskModel(model, contract));
    }

    /** A stream separating {@code channels} channels at {@code sampleRate} Hz (see {@link StreamingSeparator}). */
    public StreamingSeparator stream(int sampleRate, int channels) {
        return new StreamingSeparator(signal, model, sampleRate, channels);
    }

    public MaskModel model() {
        return model;
    }

    // ------------------------------------------------------------------
    // masks at the model rate

    /** Model windows for {@code frames} spectrogram frames: {@code ceil(frames / window_hop)}. */
    public int windowCount(int frames) {
        return (frames + signal.windowHop - 1) / signal.windowHop;
    }

    /**
     * The features of window {@code index} of a model-band magnitude spectrogram
     * ({@code frames x n_bins}): frames {@code [index * window_hop - margin, + patch_frames)},
     * zeros outside, normalized.
     */
    public float[][] window(final float[][] magnitude, int index) {
        return WindowedMasks.features(signal, new WindowedMasks.Frames() {
            @Override
            public float[] frame(long i) {
                return i >= 0 && i < magnitude.length ? magnitude[(int) i] : null;
            }
        }, index);
    }

    /** All the windows' features: {@code [windows][patch_frames][n_bins]}. */
    public float[][][] windows(float[][] magnitude) {
        float[][][] windows = new float[windowCount(magnitude.length)][][];
        for (int i = 0; i < windows.length; i++) {
            windows[i] = window(magnitude, i);
        }
        return windows;
    }

    /** Masks {@code [frames][n_bins][n_sources]} of a model-band magnitude spectrogram. */
    public float[][][] masks(float[][] magnitude) {
        WindowedMasks windows = new WindowedMasks(signal, model);
        float[][][] masks = new float[magnitude.length][][];
        int done = 0;
        for (int f = 0; f <= magnitude.length; f++) {
            if (f < magnitude.length) {
                windows.push(magnitude[f]);
            } else {
                windows.finish();
            }
            while (windows.hasWindow()) {
                for (float[][] frame : windows.next()) {
                    masks[done++] = frame;
                }
            }
        }
        return masks;
    }

    /** Ratio-mask vocal share {@code [frames][n_fft / 2 + 1]} from masks {@code [frames][n_bins][n_sources]}. */
    public float[][] share(float[][][] masks, int spectrumBins) {
        float[][] share = new float[masks.length][spectrumBins];
        for (int f = 0; f < masks.length; f++) {
            share(masks[f], vocalsIndex, accompanimentIndex, share[f]);
        }
        return share;
    }

    /**
     * The vocal share of one frame, {@code out[k]} for every bin of the spectrum, from its masks
     * {@code [n_bins][n_sources]}: bins above {@code n_bins} take bin {@code n_bins - 1}'s share.
     */
    static void share(float[][] masks, int vocalsIndex, int accompanimentIndex, float[] out) {
        int nBins = masks.length;
        for (int k = 0; k < nBins; k++) {
            float vocals = masks[k][vocalsIndex];
            float accompaniment = masks[k][accompanimentIndex];
            out[k] = (vocals + SHARE_EPS) / (vocals + accompaniment + 2 * SHARE_EPS);
        }
        for (int k = nBins; k < out.length; k++) {
            out[k] = out[nBins - 1];
        }
    }

    /** Per-bin vocal share {@code [frames][n_fft / 2 + 1]} of a mono mixture's STFT. */
    public float[][] vocalShare(Spectrogram spectrum) {
        return share(masks(spectrum.magnitude(signal.nBins)), spectrum.bins());
    }

    // ------------------------------------------------------------------
    // any rate, any channel count, any length

    /** Vocals {@code [channels][n]} of a recording {@code [channels][n]} at {@code rate} Hz, in memory. */
    public float[][] vocalsOfSegment(float[][] samples, int rate) {
        return separate(new AudioBuffer(samples, rate), null).vocals.samples;
    }

    /**
     * The vocals of a recording, piece by piece: hands {@code sink} consecutive, final pieces
     * (so a caller can write them out as they come and hold no more than the stream does).
     */
    public void separateVocals(final AudioBuffer audio, final VocalsSink sink, ProgressListener progress) throws IOException {
        separate(audio, new StemsSink() {
            @Override
            public void accept(int start, Stems stems) throws IOException {
                sink.accept(start, stems.vocals.samples, stems.vocals.frames());
            }
        }, progress);
    }

    /** Separates a recording in memory: vocals and accompaniment, each shaped like the input. */
    public Stems separate(AudioBuffer audio, ProgressListener progress) {
        final int channels = audio.channels();
        final float[][] vocals = new float[channels][audio.frames()];
        final float[][] accompaniment = new float[channels][audio.frames()];
        try {
            separate(audio, new StemsSink() {
                @Override
                public void accept(int start, Stems piece) {
                    for (int c = 0; c < channels; c++) {
                        System.arraycopy(piece.vocals.samples[c], 0, vocals[c], start, piece.vocals.frames());
                        System.arraycopy(piece.accompaniment.samples[c], 0, accompaniment[c], start, piece.vocals.frames());
                    }
                }
            }, progress);
        } catch (IOException e) {
            throw new IllegalStateException(e); // the in-memory sink does no I/O
        }
        return new Stems(new AudioBuffer(vocals, audio.sampleRate), new AudioBuffer(accompaniment, audio.sampleRate));
    }

    private interface StemsSink {
        void accept(int start, Stems piece) throws IOException;
    }

    private void separate(AudioBuffer audio, StemsSink sink, ProgressListener progress) throws IOException {
        int total = audio.frames();
        StreamingSeparator stream = stream(audio.sampleRate, audio.channels());
        int chunk = Math.max((int) (CHUNK_SECONDS * audio.sampleRate), 1);
        for (int start = 0; start < total; start += chunk) {
            long before = stream.released();
            emit(stream.process(audio.samples, start, Math.min(chunk, total - start)), before, sink, stream, progress, total);
        }
        long before = stream.released();
        emit(stream.flush(), before, sink, stream, progress, total);
    }

    private static void emit(Stems piece, long start, StemsSink sink, StreamingSeparator stream, ProgressListener progress,
            int total) throws IOException {
        if (piece.vocals.frames() > 0) {
            sink.accept((int) start, piece);
        }
        if (progress != null) {
            progress.onProgress(stream.released(), total);
        }
    }
}
