package org.kerassa.separator;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.Test;

/**
 * Randomized mutation tests of the two readers of outside data, {@link WavReader} and
 * {@link AudioContract}: seeded generators (no coverage-guided fuzzer for Java is available from
 * the package registries this project uses) start from valid WAV files (PCM 8/16/24/32-bit,
 * float 32/64, {@code WAVE_FORMAT_EXTENSIBLE}, fmt chunks of 16, 17 and 18 bytes, {@code LIST},
 * {@code fact}, {@code PEAK} and odd-sized chunks, chunks after the data, the streaming size
 * markers) and from the contracts committed beside the models, and break them (see
 * {@link Mutations}). Every input must, within the bounds below, either
 *
 * <ul>
 *   <li>decode, to audio that obeys the reader's promises (1 to 64 channels of equal length, at
 *       least one frame, finite samples, no more samples than the input has bytes, no longer than
 *       the limit asked for), or a contract that names a usable model (tensors of at most
 *       {@link AudioContract#MAX_TENSOR_ELEMENTS} elements, n_fft at most
 *       {@link AudioContract#MAX_N_FFT}, finite quantization), or
 *   <li>be refused with the documented exception ({@link AudioFormatException},
 *       {@link AudioContract.ContractException}) and a message of one line.
 * </ul>
 *
 * <p>Bounds, per input: <b>time</b> at most 1 s (an input over it is timed again, to tell a slow
 * input from a pause of the loaded machine; a watchdog fails the test on an input still running
 * after {@link #HANG_SECONDS} s); <b>memory</b>: the bytes the decoding thread allocates (HotSpot
 * counts them per thread) at most {@link #WAV_FIXED_BYTES} plus {@link #WAV_BYTES_PER_INPUT_BYTE}
 * per byte of a WAV input, and {@link #CONTRACT_FIXED_BYTES} plus
 * {@link #CONTRACT_BYTES_PER_CHAR} per character of a contract. A reader that sized an
 * allocation by a header field (a 4 GB data size, a shape of 2<sup>31</sup>) breaks the bound.
 *
 * <p>Iterations: {@value #DEFAULT_WAV_ITERATIONS} WAV and {@value #DEFAULT_CONTRACT_ITERATIONS}
 * contract mutations, from fixed seeds, so a run is reproducible; the system properties (or
 * environment variables) {@code KERASSA_MUTATION_ITERATIONS} (a multiplier) and
 * {@code KERASSA_MUTATION_SEED} run a longer or another campaign. Whatever such a run finds is
 * kept below as a regression case.
 */
public class MutationTest {
    static final int DEFAULT_WAV_ITERATIONS = 40000;
    static final int DEFAULT_CONTRACT_ITERATIONS = 12000;
    static final double SECONDS_PER_INPUT = 1.0;
    static final double HANG_SECONDS = 10.0;
    /** Fixed part of the WAV bound: the decoder's first arrays and read buffer (at most 2 MiB). */
    static final long WAV_FIXED_BYTES = 4L << 20;
    /**
     * Per input byte: 8-bit samples become 4-byte floats, the arrays grow by doubling (at most
     * 4 samples allocated per sample kept) and are trimmed once at the end.
     */
    static final long WAV_BYTES_PER_INPUT_BYTE = 32;
    static final long CONTRACT_FIXED_BYTES = 4L << 20;
    /** Per character of contract text: Gson's tree of it, its text and the parse's strings. */
    static final long CONTRACT_BYTES_PER_CHAR = 256;

    private static long setting(String name, long fallback) {
        String value = System.getProperty(name, System.getenv(name));
        return value == null || value.isEmpty() ? fallback : Long.parseLong(value);
    }

    private static final long MULTIPLIER = setting("KERASSA_MUTATION_ITERATIONS", 1);
    private static final long SEED = setting("KERASSA_MUTATION_SEED", 20261206L);

    // ---------------------------------------------------------------- the oracle

    /** What went wrong with one input, or null. */
    private static String checkWav(byte[] input, Random random) {
        double maxSeconds = random.nextInt(8) == 0 ? 0.001 * random.nextInt(20) : 0;
        InputStream in = random.nextInt(4) == 0 ? new Mutations.TrickleStream(input, random) : new ByteArrayInputStream(input);
        long before = Mutations.allocatedBytes();
        String problem = null;
        try {
            AudioBuffer audio = WavReader.read(in, maxSeconds);
            problem = checkAudio(audio, input.length, maxSeconds);
        } catch (AudioFormatException e) {
            problem = checkMessage(e.getMessage(), "");
        } catch (Throwable e) { // CHECKSTYLE:OK: anything else is what this test looks for
            problem = "threw " + describe(e);
        }
        long allocated = before < 0 ? 0 : Mutations.allocatedBytes() - before;
        if (problem == null && allocated > WAV_FIXED_BYTES + WAV_BYTES_PER_INPUT_BYTE * input.length) {
            problem = "allocated " + allocated + " bytes for an input of " + input.length;
        }
        return problem;
    }

    private static String checkAudio(AudioBuffer audio, int inputBytes, double maxSeconds) {
        int channels = audio.channels();
        if (channels < 1 || channels > 64) {
            return channels + " channels";
        }
        long frames = audio.frames();
        if (frames < 1) {
            return "decoded to no frames";
        }
        if (frames * channels > inputBytes) {
            return frames + " frames of " + channels + " channels from " + inputBytes + " bytes";
        }
        if (audio.sampleRate < 1 || audio.sampleRate > 1000000) {
            return "rate " + audio.sampleRate;
        }
        if (maxSeconds > 0 && frames > maxSeconds * audio.sampleRate) {
            return frames + " frames over the limit of " + maxSeconds + " s";
        }
        for (float[] channel : audio.samples) {
            if (channel.length != frames) {
                return "channels of different lengths";
            }
            for (float value : channel) {
                if (Float.isNaN(value) || Float.isInfinite(value)) {
                    return "a non-finite sample";
                }
            }
        }
        return null;
    }

    private static String checkMessage(String message, String prefix) {
        if (message == null || message.trim().isEmpty()) {
            return "an empty message";
        }
        if (!message.startsWith(prefix)) {
            return "message '" + message + "' does not start with '" + prefix + "'";
        }
        for (int i = 0; i < message.length(); i++) {
            if (Character.isISOControl(message.charAt(i))) {
                return "message with a control character (" + (int) message.charAt(i) + "): " + message;
            }
        }
        if (message.length() > 300) {
            return "message of " + message.length() + " characters";
        }
        return null;
    }

    private static String checkContract(String text, boolean asStream) {
        long before = Mutations.allocatedBytes();
        String problem = null;
        try {
            AudioContract contract = asStream
                    ? AudioContract.read(new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)))
                    : AudioContract.parse(text);
            problem = checkAccepted(contract);
        } catch (AudioContract.ContractException e) {
            problem = checkMessage(e.getMessage(), "audio contract: ");
        } catch (Throwable e) { // CHECKSTYLE:OK
            problem = "threw " + describe(e);
        }
        long allocated = before < 0 ? 0 : Mutations.allocatedBytes() - before;
        if (problem == null && allocated > CONTRACT_FIXED_BYTES + CONTRACT_BYTES_PER_CHAR * text.length()) {
            problem = "allocated " + allocated + " bytes for a contract of " + text.length() + " characters";
        }
        return problem;
    }

    private static String checkAccepted(AudioContract contract) {
        SignalConfig s = contract.signal;
        if (s.nFft < 2 || s.nFft > AudioContract.MAX_N_FFT) {
            return "accepted n_fft " + s.nFft;
        }
        for (TensorSpec tensor : new TensorSpec[] {contract.input, contract.output}) {
            long elements = 1;
            for (int d : tensor.shape()) {
                if (d < 1) {
                    return "accepted a dimension " + d;
                }
                elements *= d;
                if (elements > AudioContract.MAX_TENSOR_ELEMENTS) {
                    return "accepted a tensor of more than " + AudioContract.MAX_TENSOR_ELEMENTS + " elements: " + tensor;
                }
            }
            if (tensor.isQuantized() && !(tensor.scale > 0 && !Float.isInfinite(tensor.scale))) {
                return "accepted scale " + tensor.scale;
            }
        }
        float c = s.compressionStrength;
        if (Float.isNaN(c) || Float.isInfinite(c) || ("log".equals(s.compression) && !(c > 0))) {
            return "accepted compression strength " + c;
        }
        if (contract.vocalsIndex() < 0 || contract.accompanimentIndex() < 0 || contract.vocalsIndex() == contract.accompanimentIndex()) {
            return "accepted sources " + s.sources;
        }
        return null;
    }

    private static String describe(Throwable e) {
        StackTraceElement[] trace = e.getStackTrace();
        return e + (trace.length > 0 ? " at " + trace[0] : "");
    }

    // ---------------------------------------------------------------- the time bound

    /** One input of a campaign: its check, and how to show it in a failure. */
    private interface Case {
        String check();

        String show();

        int size();
    }

    private interface Source {
        Case next(Random random);
    }

    /**
     * Runs {@code iterations} cases from {@code source} on a worker thread, each timed; fails on the
     * first problem, on an input over the time bound twice, or on one that never returns.
     */
    private static void campaign(final String name, final long iterations, final long seed, final Source source) throws Exception {
        final AtomicReference<String> failure = new AtomicReference<String>();
        final AtomicReference<Case> current = new AtomicReference<Case>();
        final long[] startedAt = {0};
        final long[] stats = {0, 0}; // done, slowest (ns)
        final java.util.Map<String, String> problems = new java.util.LinkedHashMap<String, String>();
        final long[] found = {0};
        final long[] slowest = {0};
        Thread worker = new Thread(new Runnable() {
            @Override
            public void run() {
                Random random = new Random(seed);
                try {
                    for (long i = 0; i < iterations; i++) {
                        Case input = source.next(random);
                        synchronized (stats) {
                            current.set(input);
                            startedAt[0] = System.nanoTime();
                        }
                        String problem = input.check();
                        long took = System.nanoTime() - startedAt[0];
                        if (problem == null && took > SECONDS_PER_INPUT * 1e9) {
                            long again = System.nanoTime();
                            input.check();
                            took = Math.min(took, System.nanoTime() - again);
                            if (took > SECONDS_PER_INPUT * 1e9) {
                                problem = String.format(Locale.ROOT, "took %.2f s, twice", took / 1e9);
                            }
                        }
                        synchronized (stats) {
                            current.set(null);
                            stats[0] = i + 1;
                            if (took > stats[1]) {
                                stats[1] = took;
                                slowest[0] = input.size();
                            }
                        }
                        if (problem != null) {
                            // Go on, to report up to 10 kinds of problem from one run.
                            String kind = problem.replaceAll("[0-9]+", "N");
                            kind = kind.substring(0, Math.min(kind.length(), 40));
                            synchronized (problems) {
                                if (!problems.containsKey(kind) && problems.size() < 10) {
                                    problems.put(kind, name + " input " + i + " (seed " + seed + "): " + problem + "\ninput: " + input.show());
                                }
                                found[0]++;
                            }
                        }
                    }
                } catch (Throwable e) { // CHECKSTYLE:OK: a generator failure fails the test too
                    failure.compareAndSet(null, name + ": " + describe(e));
                }
            }
        }, name);
        worker.setDaemon(true); // a hung input must not keep the JVM alive
        long start = System.nanoTime();
        worker.start();
        while (worker.isAlive()) {
            worker.join(100);
            synchronized (stats) {
                Case running = current.get();
                if (running != null && System.nanoTime() - startedAt[0] > HANG_SECONDS * 1e9) {
                    fail(name + ": an input has run for more than " + HANG_SECONDS + " s (seed " + seed + ", after " + stats[0]
                            + " inputs)\ninput: " + running.show());
                }
            }
        }
        if (failure.get() != null) {
            fail(failure.get());
        }
        if (!problems.isEmpty()) {
            StringBuilder report = new StringBuilder(name + ": " + found[0] + " of " + stats[0] + " inputs failed; the first of each kind:");
            for (String example : problems.values()) {
                report.append("\n").append(example);
            }
            fail(report.toString());
        }
        assertEquals(iterations, stats[0]);
        System.out.printf(Locale.ROOT, "%s: %d inputs, seed %d, %.1f s, slowest input %.1f ms (%d bytes or characters)%n", name,
                stats[0], seed, (System.nanoTime() - start) / 1e9, stats[1] / 1e6, slowest[0]);
    }

    // ---------------------------------------------------------------- the campaigns

    @Test
    public void mutatedWavFilesDecodeOrAreRefused() throws Exception {
        assertTrue("HotSpot counts the bytes a thread allocates", Mutations.allocatedBytes() >= 0);
        campaign("WAV mutations", DEFAULT_WAV_ITERATIONS * MULTIPLIER, SEED, new Source() {
            @Override
            public Case next(final Random random) {
                final byte[] input = Mutations.mutateWav(random, Mutations.wavSeed(random));
                final long caseSeed = random.nextLong();
                return new Case() {
                    @Override
                    public String check() {
                        return checkWav(input, new Random(caseSeed));
                    }

                    @Override
                    public String show() {
                        return Mutations.hex(input);
                    }

                    @Override
                    public int size() {
                        return input.length;
                    }
                };
            }
        });
    }

    /** Offset of the data chunk's samples in a seed, its declared size and its format. */
    private static long[] dataLayout(byte[] wav) {
        long[] layout = null;
        int channels = 0;
        int rate = 0;
        int blockAlign = 0;
        for (int at : Mutations.chunkOffsets(wav)) {
            String id = new String(wav, at, 4, StandardCharsets.US_ASCII);
            ByteBuffer b = ByteBuffer.wrap(wav).order(ByteOrder.LITTLE_ENDIAN);
            if ("fmt ".equals(id)) {
                channels = b.getShort(at + 10);
                rate = b.getInt(at + 12);
                blockAlign = b.getShort(at + 20);
            } else if ("data".equals(id)) {
                layout = new long[] {at + 8, b.getInt(at + 4) & 0xFFFFFFFFL, channels, rate, blockAlign};
                break;
            }
        }
        return layout;
    }

    @Test
    public void everyTruncationOfAValidFileIsRefusedAsTruncated() throws Exception {
        long start = System.nanoTime();
        Random random = new Random(SEED);
        int cuts = 0;
        for (int n = 0; n < 300 * MULTIPLIER; n++) {
            byte[] seed = Mutations.wavSeed(random);
            long[] layout = dataLayout(seed);
            int dataStart = (int) layout[0];
            long size = layout[1];
            int rate = (int) layout[3];
            int blockAlign = (int) layout[4];
            boolean unknown = size == 0 || size == 0xFFFFFFFFL;
            long declaredFrames = unknown ? -1 : size / blockAlign;
            long end = unknown ? seed.length : dataStart + declaredFrames * blockAlign;
            if (declaredFrames == 0 || end == dataStart) {
                continue; // nothing to decode whole; cuts give "no samples", checked by the campaign
            }
            AudioBuffer whole = WavReader.read(new ByteArrayInputStream(seed));
            for (int cut = 0; cut < end; cut += 1 + random.nextInt(7)) {
                byte[] part = java.util.Arrays.copyOf(seed, cut);
                String expected;
                if (cut == 0) {
                    expected = "empty file";
                } else if (cut < dataStart) {
                    expected = "truncated WAV file: ";
                } else if (unknown) {
                    int frames = (cut - dataStart) / blockAlign;
                    expected = (cut - dataStart) % blockAlign != 0 ? WavReader.PARTIAL_FRAME_MESSAGE : frames == 0 ? "no samples" : null;
                    if (expected == null) {
                        AudioBuffer audio = WavReader.read(new ByteArrayInputStream(part));
                        assertEquals(frames, audio.frames());
                        assertEquals(whole.samples[0][frames - 1], audio.samples[0][frames - 1], 0f);
                        continue;
                    }
                } else {
                    expected = WavReader.truncatedMessage(declaredFrames, (cut - dataStart) / blockAlign, rate);
                }
                try {
                    WavReader.read(new Mutations.TrickleStream(part, random));
                    fail("a cut at " + cut + " of " + seed.length + " was decoded: " + Mutations.hex(part));
                } catch (AudioFormatException e) {
                    assertTrue("cut at " + cut + " (data from " + dataStart + "): '" + e.getMessage() + "' should say '" + expected + "'",
                            e.getMessage().contains(expected));
                }
                cuts++;
            }
        }
        System.out.printf(Locale.ROOT, "WAV truncations: %d cuts refused as expected, %.1f s%n", cuts, (System.nanoTime() - start) / 1e9);
        assertTrue(cuts > 10000);
    }

    // ---------------------------------------------------------------- regression cases

    private static byte[] pcm16Header(long dataSize, byte[] between) {
        ByteBuffer b = Mutations.le(44 + between.length);
        b.put("RIFF".getBytes(StandardCharsets.US_ASCII)).putInt(36 + between.length).put("WAVE".getBytes(StandardCharsets.US_ASCII));
        b.put("fmt ".getBytes(StandardCharsets.US_ASCII)).putInt(16).putShort((short) 1).putShort((short) 2).putInt(44100)
                .putInt(44100 * 4).putShort((short) 4).putShort((short) 16);
        b.put(between).put("data".getBytes(StandardCharsets.US_ASCII)).putInt((int) dataSize);
        return b.array();
    }

    @Test
    public void wavRegressionCases() throws Exception {
        // A declared data size of 2 GB (and of 4 GB - 2) in a file of 144 bytes: the decoder
        // sized its arrays by it (16 M frames per channel, 128 MB here) before reading a sample.
        for (long size : new long[] {0x7FFFFFF0L, 0xFFFFFFFEL}) {
            byte[] file = java.util.Arrays.copyOf(pcm16Header(size, new byte[0]), 144);
            long before = Mutations.allocatedBytes();
            try {
                WavReader.read(new ByteArrayInputStream(file));
                fail();
            } catch (AudioFormatException e) {
                assertTrue(e.getMessage(), e.getMessage().startsWith("truncated: header declares "));
            }
            long allocated = Mutations.allocatedBytes() - before;
            assertTrue("allocated " + allocated, allocated < WAV_FIXED_BYTES);
        }
        // A chunk id of control characters, cut short: its name went into the message as it was
        // (mutation campaign, first run; 9 more ids of the same kind).
        byte[] odd = Mutations.chunk("\n\r\t\u00ff", new byte[0]);
        ByteBuffer header = ByteBuffer.wrap(odd).order(ByteOrder.LITTLE_ENDIAN);
        header.putInt(4, 100);
        byte[] file = java.util.Arrays.copyOf(pcm16Header(8, odd), 44 + odd.length - 8);
        try {
            WavReader.read(new ByteArrayInputStream(file));
            fail();
        } catch (AudioFormatException e) {
            assertEquals("truncated WAV file: incomplete 0x0a0d09ff chunk and no data chunk", e.getMessage());
        }
        for (int cut = 1; cut < 12; cut++) { // a header cut short is truncated, not "not a WAV file"
            try {
                WavReader.read(new ByteArrayInputStream(java.util.Arrays.copyOf(file, cut)));
                fail();
            } catch (AudioFormatException e) {
                assertEquals("truncated WAV file: it ends inside the header", e.getMessage());
            }
        }
    }

    private static String contract(String find, String replace) throws IOException {
        for (JsonObject seed : contractSeeds()) { // the first that has it
            String text = seed.toString();
            if (text.contains(find)) {
                return text.replace(find, replace);
            }
        }
        throw new AssertionError("no contract seed has " + find);
    }

    private static void assertRefusedContract(String text, String reason) {
        assertEquals(null, checkContract(text, false));
        try {
            AudioContract.parse(text);
            fail("accepted: " + reason);
        } catch (AudioContract.ContractException e) {
            assertTrue("'" + e.getMessage() + "' should mention '" + reason + "'", e.getMessage().contains(reason));
        }
    }

    @Test
    public void contractRegressionCases() throws Exception {
        // Found by the first run of the contract campaign: values the reader accepted.
        assertRefusedContract(contract("\"n_fft\":2048", "\"n_fft\":2147483647"), "n_fft must be a whole number in [2, 65536]");
        assertRefusedContract(contract("\"compression_strength\":1000.0", "\"compression_strength\":-2.14748365E9"),
                "compression_strength must be a positive number");
        assertRefusedContract(contract("\"scale\":0.00390625", "\"scale\":1e308"), "positive finite scale"); // Infinity as a float
        // ... and messages that quoted the contract's strings: line breaks, 3000 characters.
        assertRefusedContract(contract("\"window\":\"hann, periodic", "\"window\":\"a\\nb"), "STFT window 'a\\u000ab");
        StringBuilder longName = new StringBuilder();
        for (int i = 0; i < 3000; i++) {
            longName.append((char) ('a' + i % 26));
        }
        String text = contract("\"sources\":[\"vocals\",\"accompaniment\"]},\"stft\"",
                "\"sources\":[\"vocals\",\"" + longName + "\"]},\"stft\"");
        assertRefusedContract(text, "...");
        // Found reading the reader: getAsInt wraps 4294967360 around to 64, and a shape of it was
        // taken for 64; 64.0 and 6.4e1 are floats to the Python reader, which refuses them.
        String shape = "\"shape\":[1,64,1024,1]";
        assertRefusedContract(contract(shape, "\"shape\":[1,4294967360,1024,1]"), "must be an integer, got 4294967360");
        assertRefusedContract(contract(shape, "\"shape\":[1,1e999999999,1024,1]"), "must be an integer, got 1e999999999");
        assertRefusedContract(contract(shape, "\"shape\":[1,64.0,1024,1]"), "must be an integer");
        assertRefusedContract(contract("\"n_fft\":2048", "\"n_fft\":2.048e3"), "must be an integer");
        assertRefusedContract(contract(shape, "\"shape\":[1,64,1024,1,1,1,1,1,1]"), "a shape of 9 dimensions");
        // An endless stream (a contract path that names a device or a pipe) is not read to its end.
        InputStream endless = new InputStream() {
            @Override
            public int read() {
                return '[';
            }
        };
        try {
            AudioContract.read(endless);
            fail();
        } catch (AudioContract.ContractException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("not a contract"));
        }
        // The largest model output accepted: patch_frames 4096 x n_bins 32769 x 2 would be 268 M values.
        text = contract("\"n_fft\":2048", "\"n_fft\":65536").replace("\"n_bins\":1024", "\"n_bins\":32769")
                .replace("\"patch_frames\":64", "\"patch_frames\":4096");
        assertRefusedContract(text, "a model output of 268443648 values");
    }

    /** The contracts committed beside the bundled and exported models. */
    static List<JsonObject> contractSeeds() throws IOException {
        File dir = new File(System.getProperty("user.dir")).getAbsoluteFile();
        while (dir != null && !new File(dir, "keras_sa/pretrained").isDirectory()) {
            dir = dir.getParentFile();
        }
        assertTrue("the repository's keras_sa/pretrained/ (above " + System.getProperty("user.dir") + ")", dir != null);
        List<JsonObject> seeds = new ArrayList<JsonObject>();
        for (String folder : new String[] {"keras_sa/pretrained", "tflite/models"}) {
            File[] files = new File(dir, folder).listFiles();
            if (files == null) {
                continue;
            }
            java.util.Arrays.sort(files);
            for (File file : files) {
                if (file.getName().endsWith(".json") && new File(file.getPath().replaceAll("\\.json$", ".tflite")).isFile()) {
                    InputStream in = new FileInputStream(file);
                    try {
                        String text = Mutations.readAll(in);
                        AudioContract.parse(text); // each seed is valid
                        seeds.add(JsonParser.parseString(text).getAsJsonObject());
                    } finally {
                        in.close();
                    }
                }
            }
        }
        assertTrue("contract seeds: " + seeds.size(), seeds.size() >= 2);
        return seeds;
    }

    @Test
    public void mutatedContractsParseOrAreRefused() throws Exception {
        final List<JsonObject> seeds = contractSeeds();
        campaign("contract mutations", DEFAULT_CONTRACT_ITERATIONS * MULTIPLIER, SEED, new Source() {
            @Override
            public Case next(Random random) {
                final String text = Mutations.mutateContract(random, seeds.get(random.nextInt(seeds.size())));
                final boolean asStream = random.nextBoolean();
                return new Case() {
                    @Override
                    public String check() {
                        return checkContract(text, asStream);
                    }

                    @Override
                    public int size() {
                        return text.length();
                    }

                    @Override
                    public String show() {
                        return text.length() > 20000 ? text.substring(0, 20000) + "... (" + text.length() + " characters)" : text;
                    }
                };
            }
        });
    }
}
