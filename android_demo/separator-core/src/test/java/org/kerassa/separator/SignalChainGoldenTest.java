package org.kerassa.separator;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import org.junit.BeforeClass;
import org.junit.Test;

/**
 * The Java chain against the Python package's, stage by stage, on a real MIR-1K excerpt at the
 * model rate (16 kHz, 25700 samples: with the committed model's contract 101 STFT frames, 3 model
 * windows; the manifest records how many for the model the vectors were written for).
 *
 * <p>Tolerances: both sides compute the FFT in double precision and round to float, so STFT
 * magnitudes agree to a few float ulps (bounded here relative to the spectrum's peak); features
 * are a float computation of those, bounded in absolute terms; int8 inputs may differ by one
 * step where a feature lies within rounding of a quantization boundary; stages downstream of the
 * (golden) masks repeat the same float operations and must agree to float rounding.
 */
public class SignalChainGoldenTest {
    private static AudioContract contract;
    private static AudioBuffer mixture;
    private static Spectrogram spectrum;

    @BeforeClass
    public static void load() throws Exception {
        contract = Golden.contract();
        mixture = Golden.input("mono");
        spectrum = new Stft(contract.signal).forward(mixture.samples[0]);
    }

    @Test
    public void decodesTheFloatWavInput() {
        assertEquals(1, mixture.channels());
        assertEquals(16000, mixture.sampleRate);
        assertEquals(Golden.testCase("mono").getAsJsonObject("input").get("frames").getAsInt(), mixture.frames());
    }

    @Test
    public void stftMagnitudesMatch() throws Exception {
        float[] expected = Golden.floats("mono", "stft_magnitude");
        assertArrayEquals(new int[] {spectrum.frames(), spectrum.bins()}, Golden.shape("mono", "stft_magnitude"));
        float[] actual = Compare.flatten(spectrum.magnitude(spectrum.bins()));
        double error = Compare.maxAbs(expected, actual);
        double peak = Compare.peak(expected);
        Compare.report("stft", "magnitude max abs error %.3g (peak %.3g, relative %.2g)", error, peak, error / peak);
        assertTrue("STFT magnitude error " + error, error <= 1e-6 * peak);
    }

    @Test
    public void featuresOfTheFirstWindowMatch() throws Exception {
        Separator separator = new Separator(contract.signal, null);
        float[][] magnitude = spectrum.magnitude(contract.signal.nBins);
        float[] expected = Golden.floats("mono", "features_window0");
        float[] actual = Compare.flatten(separator.window(magnitude, 0));
        double error = Compare.maxAbs(expected, actual);
        Compare.report("features", "window 0 max abs error %.3g", error);
        assertTrue("feature error " + error, error <= 1e-6);
    }

    @Test
    public void quantizedInputsMatchToOneStep() throws Exception {
        Separator separator = new Separator(contract.signal, null);
        float[][][] windows = separator.windows(spectrum.magnitude(contract.signal.nBins));
        byte[] expected = Golden.int8("mono", "features_q");
        assertEquals(expected.length, windows.length * contract.signal.patchFrames * contract.signal.nBins);
        int at = 0;
        int worst = 0;
        int differing = 0;
        for (float[][] window : windows) {
            for (float[] row : window) {
                for (float value : row) {
                    int difference = Math.abs(Quantization.quantize(value, contract.input) - expected[at++]);
                    worst = Math.max(worst, difference);
                    differing += difference == 0 ? 0 : 1;
                }
            }
        }
        Compare.report("quantize", "int8 inputs: %d of %d differ, by at most %d step(s)", differing, expected.length, worst);
        assertTrue("int8 inputs differ by " + worst + " steps", worst <= 1);
        assertTrue(differing + " int8 inputs differ", differing <= expected.length / 1000);
    }

    @Test
    public void dequantizedMasksMatch() throws Exception {
        GoldenTensorModel fake = GoldenTensorModel.of("mono");
        Separator separator = Separator.forContract(contract, fake);
        float[][][] masks = separator.masks(spectrum.magnitude(contract.signal.nBins));
        assertEquals(Golden.testCase("mono").get("windows").getAsInt(), fake.calls());
        float[] expected = Golden.floats("mono", "masks");
        double error = Compare.maxAbs(expected, Compare.flatten(masks));
        Compare.report("masks", "dequantized frame masks max abs error %.3g; fake model saw %d of %d int8 inputs differ (max %d)",
                error, fake.differingInputs(), fake.comparedInputs(), fake.maxInputDifference());
        assertEquals(0.0, error, 0.0);
        assertTrue(fake.maxInputDifference() <= 1);
    }

    @Test
    public void vocalShareMatches() throws Exception {
        Separator separator = Separator.forContract(contract, GoldenTensorModel.of("mono"));
        float[] expected = Golden.floats("mono", "vocal_share");
        double error = Compare.maxAbs(expected, Compare.flatten(separator.vocalShare(spectrum)));
        Compare.report("share", "vocal share max abs error %.3g", error);
        assertTrue("share error " + error, error <= 1e-7);
    }

    @Test
    public void separatedOutputsMatch() throws Exception {
        GoldenTensorModel fake = GoldenTensorModel.of("mono");
        Separator separator = Separator.forContract(contract, fake);
        Separator.Stems stems = separator.separate(mixture, null);
        float[] vocals = Golden.floats("mono", "vocals");
        float[] accompaniment = Golden.floats("mono", "accompaniment");
        double vocalsError = Compare.maxAbs(vocals, stems.vocals.samples[0]);
        double accompanimentError = Compare.maxAbs(accompaniment, stems.accompaniment.samples[0]);
        Compare.report("separate", "vocals max abs error %.3g (peak %.3g), accompaniment %.3g; SNR %.1f dB",
                vocalsError, Compare.peak(vocals), accompanimentError, Compare.snrDb(vocals, stems.vocals.samples[0]));
        assertEquals(Golden.testCase("mono").get("windows").getAsInt(), fake.calls());
        assertTrue("vocals error " + vocalsError, vocalsError <= 5e-7);
        assertTrue("accompaniment error " + accompanimentError, accompanimentError <= 5e-7);
        for (int i = 0; i < mixture.frames(); i++) {
            assertEquals(mixture.samples[0][i] - stems.vocals.samples[0][i], stems.accompaniment.samples[0][i], 0f);
        }
    }
}
