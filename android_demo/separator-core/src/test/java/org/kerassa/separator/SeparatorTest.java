package org.kerassa.separator;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;

import org.junit.Test;

/**
 * Whole recordings through the stream, progress, cancellation and the tensor plumbing of the separator, with simple
 * fake models whose outputs are known in closed form.
 */
public class SeparatorTest {
    private static final SignalConfig SIGNAL = new SignalConfig(16000, 1024, 256, 512, 64, 48, "log", 1000f,
            Arrays.asList("vocals", "accompaniment"));

    /** Equal masks: the vocal share is exactly 1/2 everywhere. */
    private static final MaskModel HALF = new MaskModel() {
        @Override
        public void predict(float[][] features, float[][][] masks) {
            for (float[][] row : masks) {
                for (float[] bin : row) {
                    Arrays.fill(bin, 0.7f);
                }
            }
        }
    };

    private static AudioBuffer noise(int channels, int frames, int rate, long seed) {
        Random random = new Random(seed);
        float[][] samples = new float[channels][frames];
        for (float[] channel : samples) {
            for (int i = 0; i < frames; i++) {
                channel[i] = (float) (0.2 * random.nextGaussian());
            }
        }
        return new AudioBuffer(samples, rate);
    }

    /** Tones well inside the model band: they survive resampling to 16 kHz and back. */
    private static AudioBuffer tones(int channels, int frames, int rate) {
        float[][] samples = new float[channels][frames];
        for (int c = 0; c < channels; c++) {
            for (int i = 0; i < frames; i++) {
                samples[c][i] = (float) (0.3 * Math.sin(2 * Math.PI * (220 + 110 * c) * i / rate) + 0.1 * Math.sin(2 * Math.PI * 3000 * i / rate));
            }
        }
        return new AudioBuffer(samples, rate);
    }

    @Test
    public void halfSharesGiveHalfTheInput() {
        // share = 1/2 everywhere: vocals = x / 2 to STFT rounding, at every length (frames at both ends included).
        for (int frames : new int[] {1, 255, 256, 1025, 17_333}) {
            AudioBuffer audio = noise(2, frames, 16000, 5);
            Separator.Stems stems = new Separator(SIGNAL, HALF).separate(audio, null);
            for (int c = 0; c < 2; c++) {
                for (int i = 0; i < audio.frames(); i++) {
                    float x = audio.samples[c][i];
                    assertEquals(frames + " samples, at " + i, x / 2, stems.vocals.samples[c][i], 1e-6);
                    assertEquals(x - stems.vocals.samples[c][i], stems.accompaniment.samples[c][i], 0f);
                }
            }
        }
    }

    @Test
    public void otherRatesGoThroughTheModelRateAndBack() {
        AudioBuffer audio = tones(2, 44100, 44100);
        Separator.Stems stems = new Separator(SIGNAL, HALF).separate(audio, null);
        assertEquals(44100, stems.vocals.sampleRate);
        assertEquals(audio.frames(), stems.vocals.frames());
        double worst = 0;
        for (int c = 0; c < 2; c++) {
            for (int i = 2000; i < audio.frames() - 2000; i++) {
                worst = Math.max(worst, Math.abs(audio.samples[c][i] / 2 - stems.vocals.samples[c][i]));
            }
        }
        assertTrue("44.1 kHz tones: error " + worst, worst <= 1e-4);
    }

    @Test
    public void progressIsMonotonicAndReachesTheEnd() {
        final List<Long> reported = new ArrayList<Long>();
        AudioBuffer audio = noise(1, 40_000, 16000, 9);
        new Separator(SIGNAL, HALF).separate(audio, new Separator.ProgressListener() {
            @Override
            public void onProgress(long done, long total) {
                assertEquals(40_000, total);
                reported.add(done);
            }
        });
        assertTrue(reported.size() > 3);
        for (int i = 1; i < reported.size(); i++) {
            assertTrue(reported.get(i) >= reported.get(i - 1));
        }
        assertEquals(40_000L, (long) reported.get(reported.size() - 1));
    }

    @Test
    public void anInterruptedThreadStops() {
        Thread.currentThread().interrupt();
        try {
            new Separator(SIGNAL, HALF).separate(noise(1, 16000, 16000, 1), null);
            fail();
        } catch (CancellationException expected) {
            assertTrue(Thread.interrupted()); // still flagged; clears it for the next test
        }
    }

    @Test
    public void floatModelsGetFloatTensors() throws Exception {
        String json = new String(Golden.bytes("contract.json"), java.nio.charset.StandardCharsets.UTF_8)
                .replace("\"dtype\": \"int8\"", "\"dtype\": \"float32\"");
        AudioContract contract = AudioContract.parse(json);
        final int elements = contract.signal.patchFrames * contract.signal.nBins;
        final float[] seen = new float[2];
        TensorModel model = new TensorModel() {
            @Override
            public void run(ByteBuffer input, ByteBuffer output) {
                assertEquals(elements * 4, input.remaining());
                seen[0] = Math.max(seen[0], input.getFloat(0));
                for (int i = 0; i < elements * 2; i++) {
                    output.putFloat(i % 2 == 0 ? 0.25f : 0.75f); // vocals, accompaniment
                }
            }
        };
        ContractMaskModel masks = new ContractMaskModel(model, contract);
        Separator separator = new Separator(contract.signal, masks);
        float[][] share = separator.vocalShare(new Stft(contract.signal).forward(noise(1, 8000, 16000, 4).samples[0]));
        assertEquals((0.25f + 1e-6f) / (0.25f + 0.75f + 2e-6f), share[5][100], 0f);
        int nyquist = contract.signal.spectrumBins() - 1;
        assertEquals(share[5][contract.signal.nBins - 1], share[5][nyquist], 0f); // the highest model bin's share
        assertEquals(1, masks.calls());
        assertTrue(masks.modelSeconds() >= 0);
    }

    @Test
    public void signalChainSpeed() {
        // The chain around the model on 30 s of stereo 44.1 kHz audio (the model replaced by constant masks).
        AudioBuffer audio = noise(2, 30 * 44100, 44100, 11);
        Separator separator = new Separator(SIGNAL, HALF);
        separator.separate(noise(2, 44100, 44100, 12), null); // warm up the JIT
        long start = System.nanoTime();
        separator.separate(audio, null);
        double seconds = (System.nanoTime() - start) / 1e9;
        Compare.report("speed", "signal chain without the model, 30 s stereo 44.1 kHz: %.2f s (real-time factor %.3f)",
                seconds, seconds / 30);
        AudioBuffer mono = noise(1, 30 * 16000, 16000, 13);
        start = System.nanoTime();
        separator.separate(mono, null);
        seconds = (System.nanoTime() - start) / 1e9;
        Compare.report("speed", "signal chain without the model, 30 s mono 16 kHz: %.2f s (real-time factor %.3f)",
                seconds, seconds / 30);
    }
}
