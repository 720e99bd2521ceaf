package org.kerassa.separator;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;

import org.junit.Test;

/** Per-window normalization, window cutting and int8 quantization on synthetic data. */
public class FeaturesTest {
    private static final SignalConfig SIGNAL = new SignalConfig(16000, 1024, 256, 512, 64, 48, "log", 1000f,
            Arrays.asList("vocals", "accompaniment"));
    private static final TensorSpec INPUT = new TensorSpec("features", new int[] {1, 64, 512, 1}, "int8", 1f / 255, -128);

    @Test
    public void featuresLieInTheUnitIntervalWithThePeakAtOne() {
        float[][] magnitude = new float[64][512];
        for (int f = 0; f < 64; f++) {
            for (int k = 0; k < 512; k++) {
                magnitude[f][k] = (float) Math.abs(Math.sin(f * 0.3 + k * 0.07)) * 40f;
            }
        }
        magnitude[10][20] = 123f;
        float[][] features = Features.normalize(magnitude, SIGNAL);
        float max = 0;
        for (float[] row : features) {
            for (float v : row) {
                assertTrue(v >= 0f && v <= 1f);
                max = Math.max(max, v);
            }
        }
        assertEquals(1f, features[10][20], 0f);
        assertEquals(1f, max, 0f);
        // log1p(1000 m) / log1p(1000) for an ordinary bin
        double m = magnitude[3][4] / 123.0;
        assertEquals(Math.log1p(1000 * m) / Math.log1p(1000), features[3][4], 1e-6);
    }

    @Test
    public void silenceGivesZerosNotNaN() {
        float[][] features = Features.normalize(new float[64][512], SIGNAL);
        for (float[] row : features) {
            for (float v : row) {
                assertEquals(0f, v, 0f);
            }
        }
        SignalConfig linear = new SignalConfig(16000, 1024, 256, 512, 64, 48, "none", 1f, SIGNAL.sources);
        float[][] quiet = new float[64][512];
        quiet[0][0] = 2f;
        quiet[1][1] = 1f;
        float[][] out = Features.normalize(quiet, linear);
        assertEquals(1f, out[0][0], 0f);
        assertEquals(0.5f, out[1][1], 0f);
    }

    @Test
    public void windowsArePaddedAndHopped() {
        Separator separator = new Separator(SIGNAL, null);
        assertEquals(3, separator.windowCount(101));
        assertEquals(1, separator.windowCount(48));
        assertEquals(2, separator.windowCount(49));
        float[][] magnitude = new float[101][512];
        for (int f = 0; f < 101; f++) {
            magnitude[f][0] = f + 1; // frame number in bin 0, the peak of each frame
        }
        // Window 1 starts at frame 1 * 48 - 8 = 40 and covers frames 40 .. 103 (the last two are padding).
        float[][] window = separator.window(magnitude, 1);
        float[][] raw = new float[64][512];
        for (int f = 0; f < 64; f++) {
            int frame = 40 + f;
            raw[f][0] = frame < 101 ? frame + 1 : 0;
        }
        float[][] expected = Features.normalize(raw, SIGNAL);
        for (int f = 0; f < 64; f++) {
            assertEquals(expected[f][0], window[f][0], 0f);
        }
        assertEquals(0f, window[63][0], 0f);
        // Window 0 starts with 8 zero frames.
        assertEquals(0f, separator.window(magnitude, 0)[7][0], 0f);
        assertTrue(separator.window(magnitude, 0)[8][0] > 0f);
    }

    @Test
    public void quantizationRoundsHalfToEvenAndClips() {
        assertEquals(-128, Quantization.quantize(0f, INPUT));
        assertEquals(127, Quantization.quantize(1f, INPUT));
        assertEquals(127, Quantization.quantize(1.5f, INPUT));
        assertEquals(-128, Quantization.quantize(-0.5f, INPUT));
        assertEquals(-128, Quantization.quantize(Float.NaN, INPUT));
        TensorSpec unit = new TensorSpec("x", new int[] {1}, "int8", 1f, 0);
        assertEquals(2, Quantization.quantize(2.5f, unit)); // half to even, as numpy.round
        assertEquals(4, Quantization.quantize(3.5f, unit));
        assertEquals(-2, Quantization.quantize(-2.5f, unit));
        TensorSpec output = new TensorSpec("masks", new int[] {1}, "int8", 1f / 256, -128);
        assertEquals(0f, Quantization.dequantize(-128, output), 0f);
        assertEquals(255f / 256, Quantization.dequantize(127, output), 0f);
        TensorSpec unsigned = new TensorSpec("u", new int[] {1}, "uint8", 0.5f, 10);
        assertEquals(255, Quantization.quantize(1000f, unsigned));
        assertEquals(0, Quantization.quantize(-1000f, unsigned));
        assertEquals(-5f, Quantization.dequantize(0, unsigned), 0f);
    }
}
