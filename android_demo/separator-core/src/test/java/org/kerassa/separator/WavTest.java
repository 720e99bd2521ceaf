package org.kerassa.separator;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import org.junit.Test;

/**
 * WAV decoding against libsndfile (files it wrote, and the samples it decodes from them: every
 * encoding must match exactly), refusal of unsupported and corrupt files with clear messages,
 * and encoding round trips.
 */
public class WavTest {
    private static AudioBuffer decode(byte[] bytes) throws IOException {
        return WavReader.read(new ByteArrayInputStream(bytes));
    }

    private static void assertRefused(byte[] bytes, Class<? extends AudioFormatException> kind, String reason) {
        try {
            decode(bytes);
            fail("expected " + kind.getSimpleName() + " (" + reason + ")");
        } catch (IOException e) {
            assertTrue("expected " + kind.getSimpleName() + ", got " + e, kind.isInstance(e));
            assertTrue("message '" + e.getMessage() + "' should mention '" + reason + "'", e.getMessage().contains(reason));
        }
    }

    @Test
    public void decodesEveryEncodingLikeLibsndfile() throws Exception {
        int checked = 0;
        for (JsonElement element : Golden.manifest().getAsJsonArray("wav")) {
            JsonObject fixture = element.getAsJsonObject();
            if (fixture.has("unsupported")) {
                continue;
            }
            String file = fixture.get("file").getAsString();
            AudioBuffer audio = decode(Golden.bytes(file));
            assertEquals(file, fixture.get("sample_rate").getAsInt(), audio.sampleRate);
            assertEquals(file, fixture.get("channels").getAsInt(), audio.channels());
            JsonObject decoded = fixture.getAsJsonObject("decoded");
            int[] shape = Golden.shape(decoded);
            float[] expected = Golden.floats(decoded);
            assertEquals(file, shape[1], audio.frames());
            for (int c = 0; c < shape[0]; c++) {
                float[] channel = Arrays.copyOfRange(expected, c * shape[1], (c + 1) * shape[1]);
                assertArrayEquals(file + " channel " + c, channel, audio.samples[c], 0f);
            }
            checked++;
        }
        assertEquals(8, checked);
    }

    @Test
    public void refusesCompressedWavEncodings() throws Exception {
        assertRefused(Golden.bytes("wav/ulaw_mono.wav"), UnsupportedAudioFormatException.class, "mu-law");
        assertRefused(Golden.bytes("wav/ima_adpcm_mono.wav"), UnsupportedAudioFormatException.class, "IMA ADPCM");
    }

    /** A minimal 16-bit PCM file with the given chunks between the header and the data. */
    private static byte[] wav(int tag, int channels, int rate, int bits, byte[] extraChunks, byte[] data, long dataSize) {
        ByteBuffer b = ByteBuffer.allocate(44 + extraChunks.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put("RIFF".getBytes()).putInt(36 + extraChunks.length + data.length).put("WAVE".getBytes());
        b.put("fmt ".getBytes()).putInt(16).putShort((short) tag).putShort((short) channels).putInt(rate)
                .putInt(rate * channels * bits / 8).putShort((short) (channels * bits / 8)).putShort((short) bits);
        b.put(extraChunks);
        b.put("data".getBytes()).putInt((int) dataSize).put(data);
        return b.array();
    }

    private static byte[] pcm16(short... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (short v : values) {
            b.putShort(v);
        }
        return b.array();
    }

    @Test
    public void skipsUnknownChunksWithOddSizes() throws Exception {
        byte[] odd = ByteBuffer.allocate(8 + 3 + 1).order(ByteOrder.LITTLE_ENDIAN).put("junk".getBytes()).putInt(3)
                .put(new byte[] {1, 2, 3, 0}).array();
        AudioBuffer audio = decode(wav(1, 1, 8000, 16, odd, pcm16((short) 16384, (short) -32768, (short) 32767), 6));
        assertArrayEquals(new float[] {0.5f, -1f, 32767 / 32768f}, audio.samples[0], 0f);
    }

    @Test
    public void refusesADataChunkCutShort() throws Exception {
        // Stereo 8 kHz, the header promises 4 frames, 2.5 are there.
        byte[] bytes = wav(1, 2, 8000, 16, new byte[0], pcm16((short) 1, (short) 2, (short) 3, (short) 4, (short) 5), 16);
        assertRefused(bytes, AudioFormatException.class, "truncated: header declares 0.00 s of audio, the file holds 0.00 s");
        // 10.9 s declared, 3.6 s there (the case of the Python CLI's report), and a 2 GB data size.
        byte[] short16 = wav(1, 1, 8000, 16, new byte[0], new byte[8000 * 2 * 36 / 10], 8000 * 2 * 109 / 10);
        assertRefused(short16, AudioFormatException.class, "truncated: header declares 10.90 s of audio, the file holds 3.60 s");
        byte[] huge = wav(1, 2, 44100, 16, new byte[0], new byte[44100 * 4], 0x7FFFFFF0L);
        assertRefused(huge, AudioFormatException.class, "truncated: header declares 12173.94 s of audio, the file holds 1.00 s");
        // With a length limit below the declared length, still "truncated", not "too long".
        try {
            WavReader.read(new ByteArrayInputStream(huge), 900);
            fail();
        } catch (AudioFormatException e) {
            assertEquals("truncated: header declares 12173.94 s of audio, the file holds 1.00 s", e.getMessage());
        }
        // A whole data chunk whose size is not a whole number of frames is not truncated.
        assertEquals(2, decode(wav(1, 2, 8000, 16, new byte[0], pcm16((short) 1, (short) 2, (short) 3, (short) 4, (short) 5), 10)).frames());
    }

    @Test
    public void readsAStreamedDataSizeToTheEnd() throws Exception {
        for (long unknown : new long[] {0xFFFFFFFFL, 0}) {
            byte[] bytes = wav(1, 1, 8000, 16, new byte[0], pcm16((short) 100, (short) 200, (short) 300), unknown);
            AudioBuffer audio = decode(bytes);
            assertArrayEquals("data size " + unknown, new float[] {100 / 32768f, 200 / 32768f, 300 / 32768f}, audio.samples[0], 0f);
            // Such a stream that ends inside a sample frame is truncated.
            byte[] partial = wav(1, 2, 8000, 16, new byte[0], pcm16((short) 1, (short) 2, (short) 3), unknown);
            assertRefused(partial, AudioFormatException.class, "truncated (it ends inside a sample frame)");
        }
    }

    @Test
    public void refusesCorruptFiles() throws Exception {
        byte[] good = wav(1, 1, 8000, 16, new byte[0], pcm16((short) 1, (short) 2), 4);
        assertRefused(new byte[0], AudioFormatException.class, "empty file");
        assertRefused("hello, this is not audio at all".getBytes(), AudioFormatException.class, "not a WAV file");
        assertRefused(Arrays.copyOf(good, 20), AudioFormatException.class, "truncated");
        assertRefused(Arrays.copyOf(good, 36), AudioFormatException.class, "no data chunk");
        assertRefused(wav(1, 1, 8000, 16, new byte[0], new byte[0], 0), AudioFormatException.class, "no samples");
        byte[] badAlign = good.clone();
        badAlign[32] = 3; // block align
        assertRefused(badAlign, AudioFormatException.class, "block align");
        byte[] noChannels = good.clone();
        noChannels[22] = 0;
        assertRefused(noChannels, AudioFormatException.class, "0 channels");
        byte[] dataFirst = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).put("RIFF".getBytes()).putInt(16)
                .put("WAVE".getBytes()).put("data".getBytes()).putInt(2).put(new byte[] {0, 0}).array();
        assertRefused(dataFirst, AudioFormatException.class, "data chunk before the fmt chunk");
        byte[] rifx = good.clone();
        rifx[3] = 'X';
        assertRefused(rifx, UnsupportedAudioFormatException.class, "RIFX");
        assertRefused(wav(1, 1, 8000, 12, new byte[0], new byte[4], 4), UnsupportedAudioFormatException.class, "12-bit");
        assertRefused(wav(3, 1, 8000, 16, new byte[0], new byte[4], 4), UnsupportedAudioFormatException.class, "16-bit float");
        ByteBuffer nan = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(0.5f).putFloat(Float.NaN);
        assertRefused(wav(3, 1, 8000, 32, new byte[0], nan.array(), 8), AudioFormatException.class, "NaN");
    }

    @Test
    public void refusesFilesLongerThanTheLimitFromTheHeader() throws Exception {
        byte[] bytes = wav(1, 1, 8000, 16, new byte[0], new byte[8000 * 2 * 3], 8000 * 2 * 3);
        assertEquals(3.0, WavReader.read(new ByteArrayInputStream(bytes), 5).durationSeconds(), 0);
        try {
            WavReader.read(new ByteArrayInputStream(bytes), 2);
            fail();
        } catch (AudioFormatException e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith("too long (3.0 s; the limit is 2 s)"));
        }
    }

    private static AudioBuffer testSignal() {
        float[][] samples = new float[2][1001];
        for (int i = 0; i < 1001; i++) {
            samples[0][i] = (float) (0.8 * Math.sin(i * 0.05));
            samples[1][i] = (float) (0.3 * Math.cos(i * 0.11) + 0.2 * Math.sin(i * 0.7));
        }
        samples[0][10] = 1.5f; // beyond full scale
        samples[1][11] = -1.25f;
        return new AudioBuffer(samples, 44100);
    }

    @Test
    public void floatRoundTripIsExact() throws Exception {
        AudioBuffer audio = testSignal();
        byte[] bytes = WavWriter.toBytes(audio, WavWriter.Encoding.FLOAT_32);
        assertEquals(0, bytes.length % 2);
        AudioBuffer back = decode(bytes);
        assertEquals(44100, back.sampleRate);
        assertArrayEquals(audio.samples[0], back.samples[0], 0f);
        assertArrayEquals(audio.samples[1], back.samples[1], 0f);
    }

    @Test
    public void pcmRoundTripsWithinHalfAStepAndClips() throws Exception {
        AudioBuffer audio = testSignal();
        for (WavWriter.Encoding encoding : new WavWriter.Encoding[] {WavWriter.Encoding.PCM_16, WavWriter.Encoding.PCM_24}) {
            double step = encoding == WavWriter.Encoding.PCM_16 ? 1 / 32768.0 : 1 / 8388608.0;
            byte[] bytes = WavWriter.toBytes(audio, encoding);
            AudioBuffer back = decode(bytes);
            for (int c = 0; c < 2; c++) {
                for (int i = 0; i < audio.frames(); i++) {
                    float expected = Math.max(-1f, Math.min(1f, audio.samples[c][i]));
                    assertEquals(encoding + " " + c + "/" + i, expected, back.samples[c][i], step / 2 + 1e-9 + (expected == 1f ? step : 0));
                }
            }
            assertEquals(1 - step, back.samples[0][10], 0); // clipped to full scale
            assertEquals(-1.0, back.samples[1][11], 0);
            // Decoding and re-encoding gives the same file.
            assertArrayEquals(bytes, WavWriter.toBytes(back, encoding));
        }
        // An odd data size (1 frame, 3 bytes) is padded to an even chunk.
        byte[] one = WavWriter.toBytes(AudioBuffer.mono(new float[] {0.25f}, 8000), WavWriter.Encoding.PCM_24);
        assertEquals(0, one.length % 2);
        assertEquals(0.25f, decode(one).samples[0][0], 0f);
    }

    @Test
    public void streamingWriterChecksItsLength() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        WavWriter writer = new WavWriter(out, 16000, 1, 10, WavWriter.Encoding.PCM_16);
        writer.write(new float[][] {new float[6]}, 0, 6);
        try {
            writer.finish();
            fail();
        } catch (IOException e) {
            assertTrue(e.getMessage().contains("6 of 10"));
        }
        writer.write(new float[][] {new float[6]}, 2, 4);
        writer.close();
        InputStream in = new ByteArrayInputStream(out.toByteArray());
        assertEquals(10, WavReader.read(in).frames());
        try {
            new WavWriter(new ByteArrayOutputStream(), 16000, 1, 2, WavWriter.Encoding.PCM_16).write(new float[][] {new float[3]}, 0, 3);
            fail();
        } catch (IOException e) {
            assertTrue(e.getMessage().contains("more frames"));
        }
    }

    @Test
    public void openEndedFilesGetTheirLengthAtTheEnd() throws Exception {
        float[][] samples = {{0f, 0.5f, -1f, 0.25f, 2f}, {0.1f, -0.2f, 0.3f, -0.4f, -3f}};
        for (WavWriter.Encoding encoding : WavWriter.Encoding.values()) {
            java.io.File file = java.io.File.createTempFile("open-ended", ".wav");
            try {
                WavWriter writer = WavWriter.openEnded(new java.io.FileOutputStream(file), 22050, 2, encoding);
                writer.write(samples, 0, 2);
                writer.write(samples, 2, 3);
                writer.close();
                WavWriter.fixLength(file, 22050, 2, writer.written(), encoding);
                AudioBuffer read = WavReader.read(file);
                byte[] expected = WavWriter.toBytes(new AudioBuffer(samples, 22050), encoding);
                assertArrayEquals(encoding + ": the same bytes as a writer told the length", expected,
                        java.nio.file.Files.readAllBytes(file.toPath()));
                assertEquals(5, read.frames());
                try {
                    WavWriter.fixLength(file, 22050, 2, 6, encoding);
                    fail();
                } catch (IOException e) {
                    assertTrue(e.getMessage().contains("not a WAV file of 6 frames"));
                }
            } finally {
                file.delete();
            }
        }
    }

    @Test
    public void interleavesPcm16LikeTheWriter() throws Exception {
        float[][] samples = {{0f, 0.5f, -1f, 1f}, {0.25f, -0.5f, 2f, -2f}, {0.9f, 0.9f, 0.9f, 0.9f}};
        short[] two = WavWriter.interleavePcm16(samples, 1, 3, 2);
        assertArrayEquals(new short[] {16384, -16384, -32768, 32767, 32767, -32768}, two);
        byte[] wav = WavWriter.toBytes(new AudioBuffer(new float[][] {samples[0], samples[1]}, 8000), WavWriter.Encoding.PCM_16);
        ByteBuffer data = ByteBuffer.wrap(wav, 44 + 4, 12).order(ByteOrder.LITTLE_ENDIAN);
        for (short value : two) {
            assertEquals(value, data.getShort());
        }
        assertArrayEquals(new short[] {0}, WavWriter.interleavePcm16(samples, 0, 1, 1));
    }
}
