package org.kerassa.separator;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Seeded generators for {@link MutationTest}: valid WAV files and contracts, and the mutations
 * that break them (bit flips, "interesting" values written over header fields, truncations,
 * spliced and deleted ranges, changed JSON values), plus a meter of the bytes a thread allocates.
 */
final class Mutations {
    private Mutations() {
    }

    // ---------------------------------------------------------------- WAV seeds

    /** A valid WAV file from a seeded choice of encoding, layout and chunks. */
    static byte[] wavSeed(Random random) {
        int[][] encodings = {{1, 8}, {1, 16}, {1, 24}, {1, 32}, {3, 32}, {3, 64}};
        int[] encoding = encodings[random.nextInt(encodings.length)];
        int tag = encoding[0];
        int bits = encoding[1];
        int channels = 1 + random.nextInt(random.nextInt(8) == 0 ? 8 : 2);
        int[] rates = {8000, 16000, 22050, 44100, 48000, 96000, 1, 1000000};
        int rate = rates[random.nextInt(rates.length)];
        int frames = random.nextInt(4) == 0 ? 1 + random.nextInt(3) : random.nextInt(300);
        boolean extensible = random.nextInt(4) == 0;
        int layout = random.nextInt(3); // fmt of 16 bytes, 18 (cbSize 0) or an odd 17 with a pad byte

        int blockAlign = channels * bits / 8;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer fmt;
        if (extensible) {
            fmt = le(40).putShort((short) 0xFFFE);
        } else {
            fmt = le(layout == 1 ? 18 : layout == 2 ? 17 : 16).putShort((short) tag);
        }
        fmt.putShort((short) channels).putInt(rate).putInt(rate * blockAlign).putShort((short) blockAlign).putShort((short) bits);
        if (extensible) {
            fmt.putShort((short) 22).putShort((short) bits).putInt(channels == 2 ? 3 : 0).putShort((short) tag)
                    .put(new byte[] {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, (byte) 0x80, 0x00, 0x00, (byte) 0xAA, 0x00, 0x38,
                        (byte) 0x9B, 0x71});
        } else if (layout == 1) {
            fmt.putShort((short) 0);
        } else if (layout == 2) {
            fmt.put((byte) 0);
        }
        List<byte[]> before = new ArrayList<byte[]>();
        if (random.nextBoolean()) {
            before.add(chunk("LIST", listInfo(random)));
        }
        if (random.nextBoolean()) {
            byte[] junk = new byte[random.nextInt(40)]; // odd sizes too: the pad byte follows
            random.nextBytes(junk);
            before.add(chunk(random.nextBoolean() ? "junk" : "bext", junk));
        }
        if (tag == 3 && random.nextBoolean()) {
            before.add(chunk("fact", le(4).putInt(frames).array()));
            before.add(chunk("PEAK", le(8 + 8 * channels).putInt(1).putInt(0).array()));
        }
        byte[] samples = new byte[frames * blockAlign];
        fillSamples(random, samples, tag, bits);
        int dataSizeKind = random.nextInt(8); // mostly exact; the streaming markers; an odd size

        byte[] fmtChunk = chunk("fmt ", fmt.array(), !extensible && layout == 2 ? 17 : -1);
        out.write(fmtChunk, 0, fmtChunk.length);
        for (byte[] other : before) {
            out.write(other, 0, other.length);
        }
        long dataSize = dataSizeKind == 0 ? 0xFFFFFFFFL : dataSizeKind == 1 ? 0 : samples.length;
        boolean oddTail = dataSizeKind == 2 && blockAlign > 1 && frames > 0;
        byte[] data = oddTail ? Arrays.copyOf(samples, samples.length + 1) : samples;
        if (oddTail) {
            dataSize = data.length; // a size that is not a whole number of frames
        }
        out.write("data".getBytes(StandardCharsets.US_ASCII), 0, 4);
        out.write(le(4).putInt((int) dataSize).array(), 0, 4);
        out.write(data, 0, data.length);
        if (dataSize != 0 && dataSize != 0xFFFFFFFFL) {
            if ((data.length & 1) == 1) {
                out.write(0);
            }
            if (random.nextInt(4) == 0) {
                byte[] tail = chunk("LIST", listInfo(random)); // chunks after the data are not audio
                out.write(tail, 0, tail.length);
            }
        }
        byte[] body = out.toByteArray();
        ByteBuffer file = le(12 + body.length);
        file.put("RIFF".getBytes(StandardCharsets.US_ASCII)).putInt(dataSize == 0xFFFFFFFFL ? -1 : 4 + body.length)
                .put("WAVE".getBytes(StandardCharsets.US_ASCII)).put(body);
        return file.array();
    }

    private static void fillSamples(Random random, byte[] samples, int tag, int bits) {
        if (tag == 3) {
            ByteBuffer b = ByteBuffer.wrap(samples).order(ByteOrder.LITTLE_ENDIAN);
            while (b.remaining() >= bits / 8) {
                double value = random.nextGaussian() * 0.3;
                if (bits == 32) {
                    b.putFloat((float) value);
                } else {
                    b.putDouble(value);
                }
            }
        } else {
            random.nextBytes(samples);
        }
    }

    private static byte[] listInfo(Random random) {
        byte[] name = ("song " + random.nextInt(1000)).getBytes(StandardCharsets.US_ASCII);
        byte[] inam = chunk("INAM", Arrays.copyOf(name, name.length + 1)); // NUL-terminated, odd or even
        ByteBuffer b = le(4 + inam.length);
        b.put("INFO".getBytes(StandardCharsets.US_ASCII)).put(inam);
        return b.array();
    }

    /** A RIFF chunk: id, size, body, and the pad byte of an odd size. */
    static byte[] chunk(String id, byte[] body) {
        return chunk(id, body, -1);
    }

    private static byte[] chunk(String id, byte[] body, int declared) {
        int size = declared >= 0 ? declared : body.length;
        int length = body.length + (body.length & 1);
        if (declared >= 0 && (declared & 1) == 1 && body.length == declared + 1) {
            length = body.length; // the body already holds the pad byte
        }
        ByteBuffer b = le(8 + length);
        b.put(id.getBytes(StandardCharsets.ISO_8859_1)).putInt(size).put(body);
        return b.array();
    }

    static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Offsets of the chunk headers (id then size) after the RIFF header, walking the declared sizes. */
    static List<Integer> chunkOffsets(byte[] file) {
        List<Integer> offsets = new ArrayList<Integer>();
        long at = 12;
        while (at + 8 <= file.length && offsets.size() < 64) {
            offsets.add((int) at);
            long size = ByteBuffer.wrap(file, (int) at + 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt() & 0xFFFFFFFFL;
            at += 8 + size + (size & 1);
        }
        return offsets;
    }

    // ---------------------------------------------------------------- byte mutations

    private static final long[] INTERESTING = {0, 1, 2, 3, 7, 8, 15, 16, 17, 18, 39, 40, 64, 65, 127, 128, 255, 256,
        0x7FFF, 0x8000, 0xFFFE, 0xFFFF, 0x10000, 0x7FFFFFFFL, 0x80000000L, 0xFFFFFFFEL, 0xFFFFFFFFL, 1000000, 1000001};
    private static final String[] CHUNK_IDS = {"data", "fmt ", "LIST", "fact", "RIFF", "RIFX", "RF64", "WAVE", "ds64",
        "\0\0\0\0", "\n\r\t\u00ff"};

    /** One to four random mutations of a WAV file. */
    static byte[] mutateWav(Random random, byte[] seed) {
        byte[] bytes = seed;
        int count = 1 + random.nextInt(random.nextInt(4) == 0 ? 4 : 2);
        for (int i = 0; i < count; i++) {
            bytes = mutateWavOnce(random, bytes);
        }
        return bytes;
    }

    private static byte[] mutateWavOnce(Random random, byte[] in) {
        byte[] b = in.clone();
        List<Integer> chunks = chunkOffsets(b);
        switch (random.nextInt(10)) {
            case 0: // flip bits
                for (int n = 1 + random.nextInt(4); n > 0 && b.length > 0; n--) {
                    b[headerBiased(random, b.length)] ^= (byte) (1 << random.nextInt(8));
                }
                return b;
            case 1: // a random byte
                if (b.length > 0) {
                    b[headerBiased(random, b.length)] = (byte) random.nextInt(256);
                }
                return b;
            case 2: // an interesting value over a fmt field (fmt body starts at 20 in the seeds)
                putLe(random, b, 20 + 2 * random.nextInt(20), random.nextBoolean() ? 2 : 4);
                return b;
            case 3: // an interesting value over a chunk size (data's among them) or the RIFF size
                if (chunks.isEmpty() || random.nextInt(5) == 0) {
                    putLe(random, b, 4, 4);
                } else {
                    putLe(random, b, chunks.get(random.nextInt(chunks.size())) + 4, 4);
                }
                return b;
            case 4: // another chunk id
                if (!chunks.isEmpty()) {
                    byte[] id = CHUNK_IDS[random.nextInt(CHUNK_IDS.length)].getBytes(StandardCharsets.ISO_8859_1);
                    System.arraycopy(id, 0, b, chunks.get(random.nextInt(chunks.size())), 4);
                }
                return b;
            case 5: // truncate (in the header more often than its size says)
                return Arrays.copyOf(b, b.length == 0 ? 0 : random.nextInt(4) == 0 ? headerBiased(random, b.length) : random.nextInt(b.length + 1));
            case 6: { // delete a range
                if (b.length == 0) {
                    return b;
                }
                int from = random.nextInt(b.length);
                int to = Math.min(b.length, from + 1 + random.nextInt(16));
                byte[] out = new byte[b.length - (to - from)];
                System.arraycopy(b, 0, out, 0, from);
                System.arraycopy(b, to, out, from, b.length - to);
                return out;
            }
            case 7: { // insert random bytes or a copy of a range
                int at = random.nextInt(b.length + 1);
                byte[] insert;
                if (b.length > 0 && random.nextBoolean()) {
                    int from = random.nextInt(b.length);
                    insert = Arrays.copyOfRange(b, from, Math.min(b.length, from + 1 + random.nextInt(64)));
                } else {
                    insert = new byte[1 + random.nextInt(16)];
                    random.nextBytes(insert);
                }
                byte[] out = new byte[b.length + insert.length];
                System.arraycopy(b, 0, out, 0, at);
                System.arraycopy(insert, 0, out, at, insert.length);
                System.arraycopy(b, at, out, at + insert.length, b.length - at);
                return out;
            }
            case 8: { // append garbage or a whole extra chunk
                byte[] tail = random.nextBoolean() ? chunk(CHUNK_IDS[random.nextInt(CHUNK_IDS.length)].substring(0, 4),
                        new byte[random.nextInt(9)]) : new byte[1 + random.nextInt(32)];
                byte[] out = Arrays.copyOf(b, b.length + tail.length);
                System.arraycopy(tail, 0, out, b.length, tail.length);
                return out;
            }
            default: // an interesting value anywhere in the first 128 bytes
                putLe(random, b, random.nextInt(128), 1 + random.nextInt(4));
                return b;
        }
    }

    /** An offset, within the first 64 bytes three times in four. */
    private static int headerBiased(Random random, int length) {
        return random.nextInt(4) != 0 ? random.nextInt(Math.min(length, 64)) : random.nextInt(length);
    }

    private static void putLe(Random random, byte[] b, int at, int width) {
        long value = random.nextInt(3) == 0 ? random.nextLong() : INTERESTING[random.nextInt(INTERESTING.length)];
        if (random.nextInt(8) == 0) {
            value = -value;
        }
        for (int i = 0; i < width && at + i < b.length; i++) {
            b[at + i] = (byte) (value >>> (8 * i));
        }
    }

    // ---------------------------------------------------------------- contract mutations

    private static final String[] TEXT_INSERTS = {"{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\ud800", "null",
        "true", "NaN", "-Infinity", "1e999999999", "-0", "9223372036854775808", "0x10", "//", "/*", "\n", "\u0000",
        "\u00e9", "\ud83c\udfb5", "[[[[[[[[[[[[[[[[", "{\"a\":{\"a\":{\"a\":"};

    /** One to three mutations of contract text: of its JSON tree or of the text itself. */
    static String mutateContract(Random random, JsonObject seed) {
        String text;
        if (random.nextInt(4) != 0) {
            JsonObject tree = seed.deepCopy();
            for (int n = 1 + random.nextInt(3); n > 0; n--) {
                mutateTree(random, tree);
            }
            text = tree.toString();
        } else {
            text = seed.toString();
        }
        if (random.nextInt(3) == 0) {
            text = mutateText(random, text);
        }
        return text;
    }

    private static void mutateTree(Random random, JsonObject root) {
        List<JsonElement> containers = new ArrayList<JsonElement>();
        collectContainers(root, containers);
        JsonElement container = containers.get(random.nextInt(containers.size()));
        if (container.isJsonObject()) {
            JsonObject object = container.getAsJsonObject();
            List<String> keys = new ArrayList<String>();
            for (Map.Entry<String, JsonElement> entry : object.entrySet()) {
                keys.add(entry.getKey());
            }
            if (keys.isEmpty() || random.nextInt(12) == 0) {
                object.add("extra" + random.nextInt(3), value(random, null));
                return;
            }
            String key = keys.get(random.nextInt(keys.size()));
            if (random.nextInt(6) == 0) {
                object.remove(key);
            } else {
                object.add(key, value(random, object.get(key)));
            }
        } else {
            JsonArray array = container.getAsJsonArray();
            int choice = random.nextInt(4);
            if (array.size() == 0 || choice == 0) {
                array.add(value(random, array.size() > 0 ? array.get(0) : null));
            } else if (choice == 1) {
                array.remove(random.nextInt(array.size()));
            } else {
                int i = random.nextInt(array.size());
                array.set(i, value(random, array.get(i)));
            }
        }
    }

    private static void collectContainers(JsonElement element, List<JsonElement> out) {
        if (element.isJsonObject()) {
            out.add(element);
            for (Map.Entry<String, JsonElement> entry : element.getAsJsonObject().entrySet()) {
                collectContainers(entry.getValue(), out);
            }
        } else if (element.isJsonArray()) {
            out.add(element);
            for (JsonElement item : element.getAsJsonArray()) {
                collectContainers(item, out);
            }
        }
    }

    /** A replacement for {@code old}: a nearby or extreme number, another type, a long or odd string. */
    private static JsonElement value(Random random, JsonElement old) {
        double[] numbers = {0, -1, 1, 2, 3, 0.5, 1e-320, 1e308, -1e308, Double.NaN, Double.POSITIVE_INFINITY,
            Integer.MAX_VALUE, Integer.MIN_VALUE, 2147483648.0, 65536, 65537, 1 << 20, 1 << 30, 4294967296.0, 1e15};
        switch (random.nextInt(9)) {
            case 0:
            case 1:
                if (old != null && old.isJsonPrimitive() && old.getAsJsonPrimitive().isNumber()) {
                    double v = old.getAsDouble();
                    double[] near = {v + 1, v - 1, v * 2, v / 2, -v, v * 1000, Math.floor(v / 3)};
                    return new JsonPrimitive(near[random.nextInt(near.length)]);
                }
                return new JsonPrimitive(numbers[random.nextInt(numbers.length)]);
            case 2: {
                if (random.nextBoolean()) {
                    // Numbers as written, beyond double and long: Gson keeps their text.
                    String[] texts = {"1e999999999", "-1e999999999", "1e-999999999", "123456789012345678901234567890", "4.0e1",
                        "64.000000000000000000001", "0.0", "-0"};
                    return new JsonPrimitive(new com.google.gson.internal.LazilyParsedNumber(texts[random.nextInt(texts.length)]));
                }
                return new JsonPrimitive(numbers[random.nextInt(numbers.length)]);
            }
            case 3: {
                String[] strings = {"", "vocals", "accompaniment", "int8", "uint8", "float32", "float16", "log", "none",
                    "hann, periodic", "hann, symmetric", "keras_sa.tflite", "a\nb", "\u0000", "\t\r", "1", "true"};
                return new JsonPrimitive(strings[random.nextInt(strings.length)]);
            }
            case 4: {
                StringBuilder s = new StringBuilder();
                for (int i = random.nextInt(3000); i > 0; i--) {
                    s.append((char) (random.nextInt(4) == 0 ? random.nextInt(0x3000) : 'a' + random.nextInt(26)));
                }
                return new JsonPrimitive(s.toString());
            }
            case 5:
                return random.nextBoolean() ? JsonNull.INSTANCE : new JsonPrimitive(random.nextBoolean());
            case 6: {
                JsonArray array = new JsonArray();
                int size = random.nextInt(4) == 0 ? random.nextInt(5000) : random.nextInt(6);
                for (int i = 0; i < size; i++) {
                    if (random.nextInt(8) == 0) {
                        array.add(numbers[random.nextInt(numbers.length)]);
                    } else {
                        array.add(random.nextInt(4) == 0 ? random.nextInt(1024) : 1 + random.nextInt(3));
                    }
                }
                return array;
            }
            case 7:
                return new JsonObject();
            default: {
                JsonElement nested = old != null ? old.deepCopy() : new JsonPrimitive(1);
                for (int depth = random.nextInt(4) == 0 ? random.nextInt(2000) : 1 + random.nextInt(3); depth > 0; depth--) {
                    JsonArray wrap = new JsonArray();
                    wrap.add(nested);
                    nested = wrap;
                }
                return nested;
            }
        }
    }

    private static String mutateText(Random random, String text) {
        StringBuilder s = new StringBuilder(text);
        for (int n = 1 + random.nextInt(3); n > 0; n--) {
            int at = s.length() == 0 ? 0 : random.nextInt(s.length());
            switch (random.nextInt(5)) {
                case 0:
                    if (s.length() > 0) {
                        s.setCharAt(at, (char) (s.charAt(at) ^ (1 << random.nextInt(7))));
                    }
                    break;
                case 1:
                    s.setLength(s.length() == 0 ? 0 : random.nextInt(s.length()));
                    break;
                case 2:
                    s.delete(at, Math.min(s.length(), at + 1 + random.nextInt(20)));
                    break;
                case 3: {
                    String insert = TEXT_INSERTS[random.nextInt(TEXT_INSERTS.length)];
                    if (insert.startsWith("[[[") && random.nextInt(4) == 0) {
                        StringBuilder deep = new StringBuilder();
                        for (int i = random.nextInt(20000); i > 0; i--) {
                            deep.append('[');
                        }
                        insert = deep.toString();
                    }
                    s.insert(at, insert);
                    break;
                }
                default: { // a digit changed into another
                    for (int tries = 0; tries < 50; tries++) {
                        int i = random.nextInt(Math.max(1, s.length()));
                        if (i < s.length() && Character.isDigit(s.charAt(i))) {
                            s.setCharAt(i, (char) ('0' + random.nextInt(10)));
                            break;
                        }
                    }
                    break;
                }
            }
        }
        return s.toString();
    }

    // ---------------------------------------------------------------- streams and allocation

    /**
     * An input stream that hands out at most a few bytes per call and skips nothing, as a pipe
     * may: readers must loop until they have what they need.
     */
    static final class TrickleStream extends InputStream {
        private final byte[] data;
        private final Random random;
        private int at;

        TrickleStream(byte[] data, Random random) {
            this.data = data;
            this.random = random;
        }

        @Override
        public int read() {
            return at < data.length ? data[at++] & 0xFF : -1;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) {
            if (length == 0) {
                return 0;
            }
            if (at >= data.length) {
                return -1;
            }
            int count = Math.min(Math.min(length, 1 + random.nextInt(700)), data.length - at);
            System.arraycopy(data, at, buffer, offset, count);
            at += count;
            return count;
        }

        @Override
        public long skip(long count) {
            return 0; // a pipe may skip nothing: the reader must read instead
        }
    }

    /**
     * Bytes allocated on the heap by the current thread so far (HotSpot's
     * {@code com.sun.management.ThreadMXBean}), or -1 where the JVM does not count them.
     */
    static long allocatedBytes() {
        java.lang.management.ThreadMXBean bean = ManagementFactory.getThreadMXBean();
        if (bean instanceof com.sun.management.ThreadMXBean) {
            com.sun.management.ThreadMXBean hotspot = (com.sun.management.ThreadMXBean) bean;
            if (hotspot.isThreadAllocatedMemorySupported() && hotspot.isThreadAllocatedMemoryEnabled()) {
                return hotspot.getThreadAllocatedBytes(Thread.currentThread().getId());
            }
        }
        return -1;
    }

    /** A short printable rendering of an input, for failure messages and regression cases. */
    static String hex(byte[] bytes) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < bytes.length && i < 4096; i++) {
            s.append(String.format("%02x", bytes[i] & 0xFF));
        }
        return bytes.length > 4096 ? s + "... (" + bytes.length + " bytes)" : s.toString();
    }

    static byte[] unhex(String hex) {
        byte[] out = new byte[hex.length() / 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16);
        }
        return out;
    }

    static String readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        int n;
        while ((n = in.read(buffer)) >= 0) {
            out.write(buffer, 0, n);
        }
        return new String(out.toByteArray(), StandardCharsets.UTF_8);
    }
}
