package org.kerassa.separator;

/**
 * A complex one-sided STFT, {@code frames x (n_fft / 2 + 1)}, stored as float real and imaginary
 * parts (numpy's complex64, what the Python package holds).
 */
public final class Spectrogram {
    public final float[][] re;
    public final float[][] im;

    public Spectrogram(float[][] re, float[][] im) {
        if (re.length != im.length) {
            throw new IllegalArgumentException("real and imaginary parts differ in frames");
        }
        this.re = re;
        this.im = im;
    }

    public static Spectrogram zeros(int frames, int bins) {
        return new Spectrogram(new float[frames][bins], new float[frames][bins]);
    }

    public int frames() {
        return re.length;
    }

    public int bins() {
        return re.length == 0 ? 0 : re[0].length;
    }

    /** {@code |X|} of bins {@code 0 .. bins - 1}, rounded to float (numpy's {@code abs} of complex64). */
    public float[][] magnitude(int bins) {
        float[][] magnitude = new float[frames()][bins];
        for (int f = 0; f < frames(); f++) {
            magnitude(re[f], im[f], magnitude[f]);
        }
        return magnitude;
    }

    /** {@code |X|} of one frame's first {@code out.length} bins. */
    static void magnitude(float[] re, float[] im, float[] out) {
        for (int k = 0; k < out.length; k++) {
            double r = re[k];
            double i = im[k];
            out[k] = (float) Math.sqrt(r * r + i * i);
        }
    }

    /** The mean of several spectrograms (numpy's float32 {@code mean(axis=0)}: summed in order, divided by the count). */
    public static Spectrogram mean(Spectrogram[] spectra) {
        if (spectra.length == 1) {
            return spectra[0];
        }
        int frames = spectra[0].frames();
        int bins = spectra[0].bins();
        Spectrogram mean = zeros(frames, bins);
        float[][] parts = new float[spectra.length][];
        for (int f = 0; f < frames; f++) {
            for (int s = 0; s < spectra.length; s++) {
                parts[s] = spectra[s].re[f];
            }
            mean(parts, mean.re[f]);
            for (int s = 0; s < spectra.length; s++) {
                parts[s] = spectra[s].im[f];
            }
            mean(parts, mean.im[f]);
        }
        return mean;
    }

    /** The mean of one frame's rows (real or imaginary parts), as {@link #mean(Spectrogram[])} computes it. */
    static void mean(float[][] rows, float[] out) {
        if (rows.length == 1) {
            System.arraycopy(rows[0], 0, out, 0, out.length);
            return;
        }
        float count = rows.length;
        for (int k = 0; k < out.length; k++) {
            float sum = 0f;
            for (float[] row : rows) {
                sum += row[k];
            }
            out[k] = sum / count;
        }
    }

    /** {@code share * this}, bin by bin, in float (a real mask on a complex64 spectrum). */
    public Spectrogram masked(float[][] share) {
        Spectrogram out = zeros(frames(), bins());
        for (int f = 0; f < frames(); f++) {
            masked(share[f], re[f], out.re[f]);
            masked(share[f], im[f], out.im[f]);
        }
        return out;
    }

    /** {@code share * part} for one frame's real or imaginary part. */
    static void masked(float[] share, float[] part, float[] out) {
        for (int k = 0; k < out.length; k++) {
            out[k] = share[k] * part[k];
        }
    }
}
