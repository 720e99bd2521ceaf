package org.kerassa.separator;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

/**
 * The windowed-sinc resampler: its length rule, gain, passband, stopband and phase on pure tones,
 * and its agreement with soxr (the Python package's resampler) on real music.
 *
 * <p>Tone tests skip the first and last {@code halfWidth} output samples (where the filter reaches
 * past the signal's ends). Tolerances follow from the design (0.913 passband, 120 dB stopband):
 * a tone in the passband comes out with its amplitude and phase to 1e-4, a tone above the lower
 * Nyquist frequency is gone (below -100 dB). Against soxr, whose HQ filter has the same passband
 * and stopband edges but another shape in between, the difference is the music's energy in the
 * 7.3 to 8 kHz transition band weighed by the two filters' difference there: the signal-to-error
 * ratio is required to exceed 55 dB (measured 65 to 75 dB on the golden excerpt; the largest single
 * difference is soxr's first output sample, its start-up, not the interior).
 */
public class ResamplerTest {
    private static float[] tone(double hz, int rate, int n, double amplitude, double phase) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (amplitude * Math.sin(2 * Math.PI * hz * i / rate + phase));
        }
        return x;
    }

    /** Largest error against an ideal tone over the interior, where the filter sees only signal. */
    private static double interiorError(float[] y, double hz, int rate, double amplitude, double phase, int skip) {
        double worst = 0;
        for (int i = skip; i < y.length - skip; i++) {
            double ideal = amplitude * Math.sin(2 * Math.PI * hz * i / rate + phase);
            worst = Math.max(worst, Math.abs(y[i] - ideal));
        }
        return worst;
    }

    private static double interiorPeak(float[] y, int skip) {
        double peak = 0;
        for (int i = skip; i < y.length - skip; i++) {
            peak = Math.max(peak, Math.abs(y[i]));
        }
        return peak;
    }

    @Test
    public void lengthIsRoundedLikeSoxr() {
        assertEquals(16000, Resampler.outputLength(44100, 44100, 16000));
        assertEquals(16000, Resampler.outputLength(44101, 44100, 16000)); // 16000.36
        assertEquals(16001, Resampler.outputLength(44102, 44100, 16000)); // 16000.73
        assertEquals(8000, Resampler.outputLength(22050, 44100, 16000));
        assertEquals(3, Resampler.outputLength(1, 16000, 44100)); // 2.76
        assertEquals(0, Resampler.outputLength(1, 48000, 16000)); // 0.33
        assertEquals(44100, new Resampler(16000, 44100).process(new float[16000]).length);
    }

    @Test
    public void sameRateIsACopy() {
        float[] x = tone(440, 16000, 1000, 0.5, 0.1);
        float[] y = Resampler.resample(x, 16000, 16000);
        assertArrayEquals(x, y, 0f);
        assertTrue(x != y);
    }

    @Test
    public void constantHasUnitGain() {
        float[] ones = new float[20000];
        java.util.Arrays.fill(ones, 0.25f);
        for (int[] rates : new int[][] {{44100, 16000}, {16000, 44100}, {48000, 16000}, {22050, 16000}, {8000, 16000}}) {
            Resampler resampler = new Resampler(rates[0], rates[1]);
            float[] y = resampler.process(ones);
            int skip = (int) Math.ceil(resampler.halfWidth() * rates[1] / rates[0]) + 1;
            for (int i = skip; i < y.length - skip; i++) {
                assertEquals(rates[0] + "->" + rates[1] + " at " + i, 0.25, y[i], 1e-6);
            }
        }
    }

    @Test
    public void passbandTonesKeepAmplitudeAndPhase() {
        double worst = 0;
        for (int[] rates : new int[][] {{44100, 16000}, {16000, 44100}, {48000, 16000}, {22050, 16000}, {11025, 16000}}) {
            int low = Math.min(rates[0], rates[1]);
            Resampler resampler = new Resampler(rates[0], rates[1]);
            int skip = (int) Math.ceil(resampler.halfWidth() * rates[1] / rates[0]) + 1;
            for (double fraction : new double[] {0.01, 0.25, 0.6, 0.85}) {
                double hz = fraction * low / 2;
                float[] y = resampler.process(tone(hz, rates[0], rates[0], 0.5, 0.3));
                double error = interiorError(y, hz, rates[1], 0.5, 0.3, skip);
                worst = Math.max(worst, error);
                assertTrue(rates[0] + "->" + rates[1] + " " + hz + " Hz: error " + error, error <= 1e-5);
            }
        }
        Compare.report("resample", "passband tones (1 to 85%% of the lower Nyquist): max error %.3g on amplitude 0.5", worst);
    }

    @Test
    public void tonesAboveTheLowerNyquistAreRemoved() {
        // 44.1 kHz -> 16 kHz: 9 kHz and 12 kHz would alias to 7 kHz and 4 kHz.
        Resampler resampler = new Resampler(44100, 16000);
        int skip = (int) Math.ceil(resampler.halfWidth() * 16000 / 44100.0) + 1;
        double worst = 0;
        for (double hz : new double[] {8100, 9000, 12000, 20000}) {
            worst = Math.max(worst, interiorPeak(resampler.process(tone(hz, 44100, 44100, 1.0, 0)), skip));
        }
        Compare.report("resample", "stopband tones (8.1 to 20 kHz, 44.1 -> 16 kHz): largest output %.1f dB", 20 * Math.log10(worst));
        assertTrue("stopband leak " + worst, worst <= 1e-5);
    }

    @Test
    public void interpolatedKernelAgreesWithTheTable() {
        float[] x = tone(1234, 44100, 30000, 0.7, 0.2);
        for (int i = 0; i < x.length; i += 7) {
            x[i] += 0.1f * (float) Math.sin(i * 0.37);
        }
        float[] exact = new Resampler(44100, 16000, false).process(x);
        float[] interpolated = new Resampler(44100, 16000, true).process(x);
        double error = Compare.maxAbs(exact, interpolated);
        Compare.report("resample", "interpolated-kernel path vs tabulated: max abs error %.3g", error);
        assertTrue(error <= 1e-5);
        // An awkward ratio (L = 16000 phases) takes the interpolated path and still keeps a tone.
        Resampler odd = new Resampler(44101, 16000);
        int skip = (int) Math.ceil(odd.halfWidth() * 16000 / 44101.0) + 1;
        float[] y = odd.process(tone(1000, 44101, 44101, 0.5, 0));
        assertTrue(interiorError(y, 1000, 16000, 0.5, 0, skip) <= 1e-4);
    }

    @Test
    public void closeToSoxrOnMusic() throws Exception {
        AudioBuffer song = Golden.input("stereo");
        float[][] soxr = Golden.matrix("stereo", "at_rate");
        Resampler down = new Resampler(song.sampleRate, 16000);
        double worst = Double.POSITIVE_INFINITY;
        for (int c = 0; c < 2; c++) {
            float[] ours = down.process(song.samples[c]);
            assertEquals(soxr[c].length, ours.length);
            double snr = Compare.snrDb(soxr[c], ours);
            worst = Math.min(worst, snr);
            Compare.report("resample", "44.1 -> 16 kHz channel %d vs soxr HQ: SNR %.1f dB, max abs error %.3g (peak %.3g)",
                    c, snr, Compare.maxAbs(soxr[c], ours), Compare.peak(soxr[c]));
        }
        float[][] vocalsAtRate = Golden.matrix("stereo", "vocals_at_rate");
        float[][] vocals = Golden.matrix("stereo", "vocals");
        Resampler up = new Resampler(16000, song.sampleRate);
        for (int c = 0; c < 2; c++) {
            float[] ours = java.util.Arrays.copyOf(up.process(vocalsAtRate[c]), vocals[c].length);
            double snr = Compare.snrDb(vocals[c], ours);
            worst = Math.min(worst, snr);
            Compare.report("resample", "16 -> 44.1 kHz channel %d vs soxr HQ: SNR %.1f dB", c, snr);
        }
        assertTrue("SNR against soxr " + worst + " dB", worst >= 55);
    }

    @Test
    public void streamingGivesTheSameSamplesWhateverTheChunks() {
        // 44101 Hz has a large reduced ratio: the interpolated-kernel path.
        int[][] pairs = {{44100, 16000}, {16000, 44100}, {48000, 16000}, {8000, 16000}, {44101, 16000}};
        java.util.Random random = new java.util.Random(2);
        for (int[] pair : pairs) {
            Resampler filter = new Resampler(pair[0], pair[1]);
            float[] x = new float[9000];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) random.nextGaussian();
            }
            float[] whole = filter.process(x);
            for (int size : new int[] {1, 7, 1000, 4096, 0}) {
                Resampler.Stream stream = filter.stream();
                float[] got = new float[0];
                for (int done = 0; done < x.length; ) {
                    int n = Math.min(size > 0 ? size : random.nextInt(3000), x.length - done);
                    got = concat(got, stream.process(x, done, n));
                    done += n;
                    // Output j is out once input floor(j from / to) + lookAhead() has arrived, not before.
                    long j = stream.produced();
                    assertTrue((j - 1) * pair[0] / pair[1] + filter.lookAhead() <= done - 1 || j == 0);
                    assertTrue(j * pair[0] / pair[1] + filter.lookAhead() > done - 1);
                }
                got = concat(got, stream.flush());
                assertArrayEquals(pair[0] + " -> " + pair[1] + " Hz in chunks of " + size, whole, got, 0f);
            }
        }
    }

    private static float[] concat(float[] a, float[] b) {
        float[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
