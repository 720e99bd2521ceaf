package org.kerassa.separator;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

/**
 * The Java stream against the Python package's golden streams (its {@code StreamingSeparator}
 * fed in uneven chunks, with the int8 model under LiteRT): 6 s of a MIR-1K test clip at 16 kHz
 * and 4 s of a stereo 44.1 kHz song, each fed here in chunks of 1, 7, 1000 and 4096 samples and
 * of random sizes, with a fake model that replays the recorded int8 outputs window by window.
 *
 * <p>Checks: the same samples whatever the chunking (exactly); the Python stream's samples,
 * within the tolerances of the offline parity tests (16 kHz: 5e-7, float rounding; 44.1 kHz:
 * signal-to-error ratio of at least 55 dB, the two resamplers' difference); vocals plus
 * accompaniment equal to the input; the int8 inputs the Java chain gives the model within one
 * step of Python's at 16 kHz; and at 16 kHz the latency Python reports.
 */
public class StreamingGoldenTest {
    private static final int[] SIZES = {1, 7, 1000, 4096, 0};

    private static float[][][] stream(String testCase, AudioBuffer input, int size, GoldenTensorModel fake) throws Exception {
        Separator separator = Separator.forContract(Golden.contract(), fake);
        StreamingSeparator stream = separator.stream(input.sampleRate, input.channels());
        float[][][] out = StreamingSeparatorTest.run(stream, input.samples, StreamingSeparatorTest.chunks(input.frames(), size, 99));
        assertEquals(Golden.testCase(testCase).get("windows").getAsInt(), fake.calls());
        return out;
    }

    @Test
    public void monoStreamMatchesPythonWhateverTheChunks() throws Exception {
        AudioBuffer input = Golden.input("stream_mono");
        assertEquals(16000, input.sampleRate);
        float[] expected = Golden.floats("stream_mono", "vocals");
        int latency = Golden.testCase("stream_mono").get("latency").getAsInt();
        float[][][] first = null;
        for (int size : SIZES) {
            GoldenTensorModel fake = GoldenTensorModel.of("stream_mono");
            float[][][] out = stream("stream_mono", input, size, fake);
            double error = Compare.maxAbs(expected, out[0][0]);
            Compare.report("stream", "16 kHz, chunks of %s: vocals max abs error %.3g (peak %.3g) vs Python; int8 inputs: %d of %d differ (max %d)",
                    size == 0 ? "random size" : size, error, Compare.peak(expected), fake.differingInputs(), fake.comparedInputs(),
                    fake.maxInputDifference());
            assertTrue("vocals error " + error, error <= 5e-7);
            assertTrue(fake.maxInputDifference() <= 1);
            assertTrue(fake.differingInputs() <= fake.comparedInputs() / 1000);
            if (first == null) {
                first = out;
            } else {
                assertArrayEquals("chunks of " + size, first[0][0], out[0][0], 0f);
                assertArrayEquals(first[1][0], out[1][0], 0f);
            }
        }
        assertEquals("latency, as the Python stream reports it", latency,
                Separator.forContract(Golden.contract(), null).stream(16000, 1).latency());
    }

    @Test
    public void stereoStreamMatchesPythonToTheResamplerTolerance() throws Exception {
        AudioBuffer input = Golden.input("stream_stereo");
        assertEquals(44100, input.sampleRate);
        assertEquals(2, input.channels());
        float[][] expected = Golden.matrix("stream_stereo", "vocals");
        float[][][] first = null;
        for (int size : SIZES) {
            GoldenTensorModel fake = GoldenTensorModel.of("stream_stereo");
            float[][][] out = stream("stream_stereo", input, size, fake);
            double left = Compare.snrDb(expected[0], out[0][0]);
            double right = Compare.snrDb(expected[1], out[0][1]);
            Compare.report("stream", "44.1 kHz stereo, chunks of %s: vocals SNR %.1f / %.1f dB vs Python (soxr); int8 inputs: %d of %d differ (max %d)",
                    size == 0 ? "random size" : size, left, right, fake.differingInputs(), fake.comparedInputs(), fake.maxInputDifference());
            assertTrue("left SNR " + left, left >= 55);
            assertTrue("right SNR " + right, right >= 55);
            if (first == null) {
                first = out;
            } else {
                for (int c = 0; c < 2; c++) {
                    assertArrayEquals("chunks of " + size, first[0][c], out[0][c], 0f);
                    assertArrayEquals(first[1][c], out[1][c], 0f);
                }
            }
        }
        Compare.report("stream", "latency at 44.1 kHz: Java %d samples, Python %d (soxr's own look-ahead)",
                Separator.forContract(Golden.contract(), null).stream(44100, 2).latency(),
                Golden.testCase("stream_stereo").get("latency").getAsInt());
    }
}
