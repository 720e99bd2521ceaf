package org.kerassa.separator;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.Random;

import org.junit.Test;

/**
 * The streaming separator with fake models whose masks are known functions of the features (so a
 * window cut or normalized differently shows in the outputs): chunk-size independence, the
 * fixed output delay and its tightness, alignment of an impulse, outputs that add up to the
 * input, short inputs, and memory that does not grow with the stream.
 */
public class StreamingSeparatorTest {
    static final SignalConfig SIGNAL = new SignalConfig(16000, 1024, 256, 512, 64, 48, "log", 1000f,
            Arrays.asList("vocals", "accompaniment"));

    /** Vocals mask = the feature, accompaniment mask = 1 - feature: the outputs depend on every window's contents. */
    static final class FeatureMasks implements MaskModel {
        int calls;

        @Override
        public void predict(float[][] features, float[][][] masks) {
            calls++;
            for (int f = 0; f < masks.length; f++) {
                for (int k = 0; k < masks[f].length; k++) {
                    masks[f][k][0] = features[f][k];
                    masks[f][k][1] = 1f - features[f][k];
                }
            }
        }
    }

    /** Equal masks: the vocal share is exactly 1/2. */
    static final MaskModel HALF = new MaskModel() {
        @Override
        public void predict(float[][] features, float[][][] masks) {
            for (float[][] row : masks) {
                for (float[] bin : row) {
                    Arrays.fill(bin, 0.7f);
                }
            }
        }
    };

    /** Music-like test audio: tones with a slow tremolo, and noise. */
    static float[][] audio(int channels, int frames, int rate, long seed) {
        Random random = new Random(seed);
        float[][] x = new float[channels][frames];
        for (int c = 0; c < channels; c++) {
            for (int i = 0; i < frames; i++) {
                double t = i / (double) rate;
                x[c][i] = (float) (0.3 * Math.sin(2 * Math.PI * (220 + 55 * c) * t) * (0.6 + 0.4 * Math.sin(2 * Math.PI * 1.3 * t))
                        + 0.1 * Math.sin(2 * Math.PI * 2500 * t) + 0.05 * random.nextGaussian());
            }
        }
        return x;
    }

    /** Chunk sizes: a fixed size, or (size 0) random sizes from 0 to 5000. */
    static int[] chunks(int total, int size, long seed) {
        Random random = new Random(seed);
        int[] sizes = new int[total + 1];
        int count = 0;
        for (int done = 0; done < total; ) {
            int n = Math.min(size > 0 ? size : random.nextInt(5001), total - done);
            sizes[count++] = n;
            done += n;
        }
        return Arrays.copyOf(sizes, count);
    }

    /** The outputs of a stream fed {@code x} in chunks of {@code sizes}: {@code [vocals, accompaniment][channel][frame]}. */
    static float[][][] run(StreamingSeparator stream, float[][] x, int[] sizes) {
        int channels = x.length;
        int total = x[0].length;
        float[][][] out = new float[2][channels][total];
        int fed = 0;
        int at = 0;
        for (int n : sizes) {
            at = collect(stream.process(x, fed, n), out, at);
            fed += n;
            assertEquals("released after " + fed + " samples", Math.max(0, fed - stream.latency()), stream.released());
        }
        at = collect(stream.flush(), out, at);
        assertEquals(total, at);
        for (int c = 0; c < channels; c++) {
            for (int i = 0; i < total; i++) {
                assertEquals("accompaniment = input - vocals", x[c][i] - out[0][c][i], out[1][c][i], 0f);
            }
        }
        return out;
    }

    private static int collect(Separator.Stems piece, float[][][] out, int at) {
        int n = piece.vocals.frames();
        assertEquals(n, piece.accompaniment.frames());
        for (int c = 0; c < piece.vocals.channels(); c++) {
            System.arraycopy(piece.vocals.samples[c], 0, out[0][c], at, n);
            System.arraycopy(piece.accompaniment.samples[c], 0, out[1][c], at, n);
        }
        return at + n;
    }

    private static void assertChunkIndependent(int rate, int channels, int frames) {
        float[][] x = audio(channels, frames, rate, 3);
        Separator separator = new Separator(SIGNAL, new FeatureMasks());
        float[][][] whole = run(separator.stream(rate, channels), x, new int[] {frames});
        Separator.Stems offline = separator.separate(new AudioBuffer(x, rate), null);
        for (int c = 0; c < channels; c++) {
            assertArrayEquals("offline separate", whole[0][c], offline.vocals.samples[c], 0f);
        }
        for (int size : new int[] {1, 7, 1000, 4096, 0}) {
            float[][][] chunked = run(separator.stream(rate, channels), x, chunks(frames, size, size + 17));
            for (int c = 0; c < channels; c++) {
                assertArrayEquals(rate + " Hz, chunks of " + (size == 0 ? "random size" : size), whole[0][c], chunked[0][c], 0f);
                assertArrayEquals(whole[1][c], chunked[1][c], 0f);
            }
        }
    }

    @Test
    public void sameSamplesWhateverTheChunksAtTheModelRate() {
        assertChunkIndependent(16000, 1, 3 * 16000 + 1234);
    }

    @Test
    public void sameSamplesWhateverTheChunksAtAnotherRate() {
        assertChunkIndependent(44100, 2, 2 * 44100 + 777);
    }

    @Test
    public void latencyIsTheLookAhead() {
        Separator separator = new Separator(SIGNAL, HALF);
        int atModelRate = separator.stream(16000, 1).latency();
        assertEquals((64 - 8 - 1) * 256 + 1024 - 1, atModelRate);
        for (int rate : new int[] {8000, 22050, 44100, 48000}) {
            int latency = separator.stream(rate, 2).latency();
            Compare.report("latency", "%d Hz: %d samples (%.3f s)", rate, latency, latency / (double) rate);
            assertTrue(latency >= atModelRate * (double) rate / 16000);
            assertTrue(latency <= (atModelRate + 200) * (double) rate / 16000 + 600);
        }
        Compare.report("latency", "16000 Hz: %d samples (%.3f s)", atModelRate, atModelRate / 16000.0);
    }

    @Test
    public void aWindowWithLessLookAheadHasLessLatency() {
        SignalConfig skewed = new SignalConfig(16000, 1024, 256, 512, 64, 48, 12, "log", 1000f, SIGNAL.sources);
        assertEquals(4, skewed.windowLookAhead());
        Separator separator = new Separator(skewed, new FeatureMasks());
        assertEquals((64 - 12 - 1) * 256 + 1024 - 1, separator.stream(16000, 1).latency());
        for (int rate : new int[] {44100, 48000}) {
            int latency = separator.stream(rate, 2).latency();
            Compare.report("latency", "window margin 12, %d Hz: %d samples (%.3f s)", rate, latency, latency / (double) rate);
        }
        float[][] x = audio(1, 3 * 16000 + 99, 16000, 4);
        for (int i = 0; i < x[0].length; i++) {
            x[0][i] *= 0.1f + i / 16000f; // a crescendo: each window's peak is at its end, so where it ends matters
        }
        // run() checks after every chunk that exactly fed - latency samples have come out.
        float[][][] whole = run(separator.stream(16000, 1), x, new int[] {x[0].length});
        float[][][] ones = run(separator.stream(16000, 1), x, chunks(x[0].length, 1, 1));
        assertArrayEquals(whole[0][0], ones[0][0], 0f);
        assertArrayEquals(whole[0][0], separator.separate(new AudioBuffer(x, 16000), null).vocals.samples[0], 0f);
        float[] centred = run(new Separator(SIGNAL, new FeatureMasks()).stream(16000, 1), x, new int[] {x[0].length})[0][0];
        assertFalse("the windows keep other frames", Arrays.equals(centred, whole[0][0]));
    }

    @Test
    public void theLatencyIsNeeded() {
        // Frame 48 opens window 1 and reaches outputs from u = 48 * 256 - 512 on, tapered by the
        // Hann window twice (analysis and synthesis); through window 1 they depend on input
        // u + latency, the last sample of the last frame that window reads. Output u + 128, where
        // frame 48 weighs w[128]^2 = 0.02, visibly changes with that input: a stream that
        // released it before that input arrived would be wrong, so the latency is needed to
        // within 128 samples (8 ms). Outputs up to u do not depend on it.
        int u = 48 * 256 - 512;
        Separator separator = new Separator(SIGNAL, new FeatureMasks());
        int latency = separator.stream(16000, 1).latency();
        float[][] x = audio(1, 3 * 16000, 16000, 8);
        float[][] changed = {x[0].clone()};
        // Frame 103 tapers that sample to w[1023] = 9.4e-6: large enough, it is the window's new
        // peak, and every feature of window 1 changes (per-window normalization).
        changed[0][u + latency] = 1e8f;
        float[] before = run(separator.stream(16000, 1), x, new int[] {x[0].length})[0][0];
        float[] after = run(separator.stream(16000, 1), changed, new int[] {x[0].length})[0][0];
        assertNotEquals(before[u + 128], after[u + 128], 1e-4f);
        for (int i = 0; i <= u; i++) {
            assertEquals("output " + i + " reads beyond its look-ahead", before[i], after[i], 0f);
        }
    }

    @Test
    public void anImpulseComesOutWhereItWentIn() {
        for (int rate : new int[] {16000, 44100}) {
            Separator separator = new Separator(SIGNAL, HALF);
            int p = rate * 3 / 2 + 11;
            float[][] x = new float[1][3 * rate];
            x[0][p] = 1f;
            float[] vocals = run(separator.stream(rate, 1), x, chunks(x[0].length, 0, 5))[0][0];
            int peak = 0;
            for (int i = 0; i < vocals.length; i++) {
                if (Math.abs(vocals[i]) > Math.abs(vocals[peak])) {
                    peak = i;
                }
            }
            Compare.report("impulse", "%d Hz: in at %d, vocals peak %.4f at %d", rate, p, vocals[peak], peak);
            assertEquals(p, peak);
            if (rate == 16000) {
                assertEquals(0.5, vocals[p], 1e-6); // share 1/2 at the model rate: exactly half the impulse
            } else {
                assertEquals(vocals[p - 1], vocals[p + 1], 1e-5); // linear phase: symmetric about the impulse
                assertEquals(0.5 * 2 * 0.9565 * 8000 / 44100, vocals[p], 0.02); // half a band-limited impulse
            }
        }
    }

    @Test
    public void shortAndEmptyInputs() {
        FeatureMasks model = new FeatureMasks();
        Separator separator = new Separator(SIGNAL, model);
        StreamingSeparator empty = separator.stream(44100, 2);
        assertEquals(0, empty.process(new float[2][0]).vocals.frames());
        assertEquals(0, empty.flush().vocals.frames());
        assertEquals(0, model.calls);
        for (int rate : new int[] {16000, 44100, 8000}) {
            for (int frames : new int[] {1, 2, 255, 1023}) {
                float[][] x = audio(2, frames, rate, frames);
                float[][][] out = run(separator.stream(rate, 2), x, new int[] {frames});
                assertEquals(frames, out[0][0].length);
            }
        }
    }

    @Test
    public void memoryStaysBoundedOnALongStream() {
        // 40 s of stereo 44.1 kHz in 0.1 s chunks: what the stream holds must not grow with time.
        int rate = 44100;
        Separator separator = new Separator(SIGNAL, HALF);
        StreamingSeparator stream = separator.stream(rate, 2);
        float[][] chunk = audio(2, rate / 10, rate, 4);
        long early = 0;
        long late = 0;
        for (int i = 0; i < 400; i++) {
            stream.process(chunk);
            if (i >= 50 && i < 200) {
                early = Math.max(early, stream.held());
            } else if (i >= 200) {
                late = Math.max(late, stream.held());
            }
        }
        stream.flush();
        Compare.report("memory", "values held, most over 5-20 s: %d, over 20-40 s: %d (latency %d, chunk %d samples)",
                early, late, stream.latency(), chunk[0].length);
        assertTrue("held " + late + " after 20 s, " + early + " before", late <= early * 1.1);
        assertTrue(late < 2 * (2 * 64 * 513 + 64 * 512) + 8 * (stream.latency() + chunk[0].length));
    }

    @Test
    public void badChunksAreRefused() {
        StreamingSeparator stream = new Separator(SIGNAL, HALF).stream(16000, 2);
        try {
            stream.process(new float[1][10]);
            org.junit.Assert.fail();
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage().contains("channels"));
        }
        stream.flush();
        try {
            stream.process(new float[2][10]);
            org.junit.Assert.fail();
        } catch (IllegalStateException expected) {
            assertTrue(expected.getMessage().contains("flushed"));
        }
    }
}
