package org.kerassa.separator;

import static org.junit.Assume.assumeTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.GZIPInputStream;

/**
 * The golden vectors written by {@code android_demo/tools/make_golden.py}, read from the test
 * classpath ({@code /golden/manifest.json} and the files it lists), or from the folder the
 * environment variable {@code KERAS_SA_GOLDEN} names (as the web demo's tests do), e.g. vectors
 * written for another model's contract with {@code make_golden.py --model ... --out FOLDER}.
 *
 * <p>Each array is raw little-endian float32 or int8 in C order, gzip-compressed; the manifest
 * gives its dtype and shape. Tests that need the vectors are skipped (not failed) when they are
 * absent, so the rest of the suite runs on a checkout without them.
 */
final class Golden {
    /** The folder {@code KERAS_SA_GOLDEN} names, or null: the test classpath's {@code /golden}. */
    static final String FOLDER = folder();

    private static JsonObject manifest;

    private Golden() {
    }

    private static String folder() {
        String folder = System.getenv("KERAS_SA_GOLDEN");
        return folder == null || folder.isEmpty() ? null : folder;
    }

    /** A golden file, or null when it is absent. */
    private static InputStream find(String file) {
        if (FOLDER == null) {
            return Golden.class.getResourceAsStream("/golden/" + file);
        }
        try {
            return new FileInputStream(new File(FOLDER, file));
        } catch (FileNotFoundException e) {
            return null;
        }
    }

    /** The manifest; skips the calling test when the golden vectors are absent. */
    static synchronized JsonObject manifest() {
        if (manifest == null) {
            InputStream in = find("manifest.json");
            assumeTrue((FOLDER == null
                    ? "golden vectors not found on the classpath (/golden/manifest.json)"
                    : "no golden vectors at " + FOLDER + " (KERAS_SA_GOLDEN)")
                    + "; run android_demo/tools/make_golden.py", in != null);
            try {
                manifest = JsonParser.parseReader(new InputStreamReader(in, StandardCharsets.UTF_8)).getAsJsonObject();
                in.close();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
        return manifest;
    }

    static JsonObject testCase(String name) {
        return manifest().getAsJsonObject(name);
    }

    static InputStream open(String file) {
        manifest();
        InputStream in = find(file);
        if (in == null) {
            throw new IllegalStateException("golden file missing: " + file);
        }
        return in;
    }

    static byte[] bytes(String file) throws IOException {
        InputStream in = open(file);
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buffer = new byte[1 << 16];
            int n;
            while ((n = in.read(buffer)) >= 0) {
                out.write(buffer, 0, n);
            }
            return out.toByteArray();
        } finally {
            in.close();
        }
    }

    static AudioContract contract() throws IOException {
        InputStream in = open(manifest().getAsJsonObject("model").get("contract").getAsString());
        try {
            return AudioContract.read(in);
        } finally {
            in.close();
        }
    }

    static AudioBuffer input(String testCase) throws IOException {
        InputStream in = open(testCase(testCase).getAsJsonObject("input").get("file").getAsString());
        try {
            return WavReader.read(in);
        } finally {
            in.close();
        }
    }

    /** One array's manifest entry. */
    static JsonObject entry(String testCase, String name) {
        JsonObject arrays = testCase(testCase).getAsJsonObject("arrays");
        if (!arrays.has(name)) {
            throw new IllegalStateException("no golden array " + testCase + "/" + name);
        }
        return arrays.getAsJsonObject(name);
    }

    static int[] shape(JsonObject entry) {
        JsonArray dims = entry.getAsJsonArray("shape");
        int[] shape = new int[dims.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = dims.get(i).getAsInt();
        }
        return shape;
    }

    static int[] shape(String testCase, String name) {
        return shape(entry(testCase, name));
    }

    private static byte[] raw(JsonObject entry, String dtype, int elementBytes) throws IOException {
        if (!dtype.equals(entry.get("dtype").getAsString())) {
            throw new IllegalStateException(entry.get("file").getAsString() + " is " + entry.get("dtype") + ", not " + dtype);
        }
        InputStream in = new GZIPInputStream(open(entry.get("file").getAsString()), 1 << 16);
        try {
            int count = 1;
            for (int d : shape(entry)) {
                count *= d;
            }
            byte[] data = new byte[count * elementBytes];
            if (WavReader.readFully(in, data, 0, data.length) != data.length || in.read() >= 0) {
                throw new IllegalStateException(entry.get("file").getAsString() + ": size does not match its shape");
            }
            return data;
        } finally {
            in.close();
        }
    }

    /** A float32 array, flat. */
    static float[] floats(JsonObject entry) throws IOException {
        byte[] data = raw(entry, "float32", 4);
        float[] values = new float[data.length / 4];
        ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
        return values;
    }

    static float[] floats(String testCase, String name) throws IOException {
        return floats(entry(testCase, name));
    }

    /** A float32 array of shape {@code [rows, columns]}. */
    static float[][] matrix(String testCase, String name) throws IOException {
        int[] shape = shape(testCase, name);
        float[] flat = floats(testCase, name);
        float[][] rows = new float[shape[0]][shape[1]];
        for (int r = 0; r < shape[0]; r++) {
            System.arraycopy(flat, r * shape[1], rows[r], 0, shape[1]);
        }
        return rows;
    }

    /** An int8 array, flat. */
    static byte[] int8(String testCase, String name) throws IOException {
        return raw(entry(testCase, name), "int8", 1);
    }
}
