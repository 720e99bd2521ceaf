package org.kerassa.separator;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A converted model's audio contract: the JSON file {@code X.json} written beside {@code X.tflite}
 * by {@code keras_sa.export.tflite} (function {@code contract}).
 *
 * <p>What the host code needs besides the model file: the signal settings (rate, STFT, windows,
 * feature compression), the source order, and the input and output tensors with their int8
 * quantization. The descriptive fields of the contract ({@code "stft"}, {@code "features"},
 * {@code "masks"}) state the conventions this library implements; they are checked for the
 * values this library implements, so a contract of a different convention is refused rather
 * than silently misread.
 *
 * <p>Parsed with Gson's tree API (no reflection, so nothing needs keeping from a shrinker).
 */
public final class AudioContract {
    /** The {@code "format"} a contract must have. */
    public static final String FORMAT = "keras_sa.tflite";
    /** The contract version this library reads. */
    public static final int VERSION = 1;
    /** Longest contract text {@link #read} reads. */
    public static final int MAX_CHARS = 1 << 20;
    /** Largest n_fft accepted ({@link SignalConfig}'s bound, as in Python). */
    public static final int MAX_N_FFT = 1 << 16;
    /**
     * Most elements accepted in the model's input or output tensor: the buffers for them are
     * allocated from the contract's shapes (64 MiB of float32 at most).
     */
    public static final int MAX_TENSOR_ELEMENTS = 1 << 24;

    public final int version;
    /** {@code "float32"}, {@code "float16"}, {@code "dynamic"} or {@code "int8"}. */
    public final String quantization;
    /** The model's name ({@code model.name}), e.g. {@code sa_shn_mobile}. */
    public final String modelName;
    /**
     * The SHA-256 of the model file, 64 lowercase hex digits ({@code "model_sha256"}), or null for
     * a contract written before the field existed. See {@link #verifyModel}.
     */
    public final String modelSha256;
    public final SignalConfig signal;
    public final TensorSpec input;
    public final TensorSpec output;
    private final JsonObject json;

    private AudioContract(JsonObject json) {
        this.json = json;
        String format = string(json, "format");
        if (!FORMAT.equals(format)) {
            throw new ContractException("not a keras_sa TFLite contract (format '" + format + "')");
        }
        version = integer(json, "version");
        if (version != VERSION) {
            throw new ContractException("contract version " + version + " is not supported (this app reads version " + VERSION + ")");
        }
        quantization = string(json, "quantization");
        modelSha256 = json.has("model_sha256") ? string(json, "model_sha256") : null;
        if (modelSha256 != null && !modelSha256.matches("[0-9a-f]{64}")) {
            throw new ContractException("model_sha256 must be 64 lowercase hexadecimal digits");
        }
        JsonObject model = object(json, "model");
        modelName = model.has("name") ? string(model, "name") : "model";
        signal = parseSignal(object(json, "signal"));
        input = parseTensor(object(json, "input"), "input");
        output = parseTensor(object(json, "output"), "output");
        checkConventions();
        long outputElements = (long) signal.patchFrames * signal.nBins * signal.sources.size();
        if (outputElements > MAX_TENSOR_ELEMENTS) {
            throw new ContractException("a model output of " + outputElements + " values (at most " + MAX_TENSOR_ELEMENTS + ")");
        }
        int[] expectedInput = {1, signal.patchFrames, signal.nBins, 1};
        if (!Arrays.equals(input.shape(), expectedInput)) {
            throw new ContractException("input shape " + Arrays.toString(input.shape()) + ", the signal settings need "
                    + Arrays.toString(expectedInput));
        }
        int[] expectedOutput = {1, signal.patchFrames, signal.nBins, signal.sources.size()};
        if (!Arrays.equals(output.shape(), expectedOutput)) {
            throw new ContractException("output shape " + Arrays.toString(output.shape()) + ", the signal settings need "
                    + Arrays.toString(expectedOutput));
        }
        for (String source : new String[] {"vocals", "accompaniment"}) {
            if (signal.sourceIndex(source) < 0) {
                throw new ContractException("the model has no '" + source + "' mask (sources " + signal.sources + ")");
            }
        }
    }

    /** Parses a contract from JSON text. */
    public static AudioContract parse(String text) {
        try {
            JsonElement root = JsonParser.parseString(text);
            if (!root.isJsonObject()) {
                throw new ContractException("the contract is not a JSON object");
            }
            return new AudioContract(root.getAsJsonObject());
        } catch (JsonParseException | IllegalStateException | UnsupportedOperationException | ClassCastException
                | NumberFormatException | NullPointerException e) {
            throw new ContractException("unreadable contract JSON (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Parses a contract from a UTF-8 stream (the stream is not closed); refuses one of more than
     * {@link #MAX_CHARS} characters (a contract has a few thousand) without reading further.
     */
    public static AudioContract read(InputStream in) throws IOException {
        Reader reader = new InputStreamReader(in, StandardCharsets.UTF_8);
        StringBuilder text = new StringBuilder();
        char[] buffer = new char[8192];
        int count;
        while ((count = reader.read(buffer)) >= 0) {
            text.append(buffer, 0, count);
            if (text.length() > MAX_CHARS) {
                throw new ContractException("more than " + MAX_CHARS + " characters: not a contract");
            }
        }
        return parse(text.toString());
    }

    /** The contract file of a model file: {@code X.tflite -> X.json}. */
    public static String contractPath(String modelPath) {
        if (!modelPath.endsWith(".tflite")) {
            throw new IllegalArgumentException(modelPath + ": TFLite model files end in .tflite");
        }
        return modelPath.substring(0, modelPath.length() - ".tflite".length()) + ".json";
    }

    /**
     * Checks a model file's bytes against the SHA-256 the contract records (nothing to check for a
     * contract without one). A model damaged inside its weights still loads and runs, giving wrong
     * stems; call this before handing the bytes to the interpreter.
     *
     * @param fileName the model file, named in the error
     * @param model its bytes from position to limit (the position is left as it is)
     * @throws ContractException the digests differ
     */
    public void verifyModel(String fileName, ByteBuffer model) {
        if (modelSha256 == null) {
            return;
        }
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this runtime has no SHA-256", e); // every Java platform must have it
        }
        digest.update(model.duplicate());
        StringBuilder hex = new StringBuilder(64);
        for (byte b : digest.digest()) {
            hex.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
        }
        if (!hex.toString().equals(modelSha256)) {
            throw ContractException.modelMismatch(fileName);
        }
    }

    /** {@link #verifyModel(String, ByteBuffer)} for bytes in an array. */
    public void verifyModel(String fileName, byte[] model) {
        verifyModel(fileName, ByteBuffer.wrap(model));
    }

    /** Index of the vocals mask in the model output. */
    public int vocalsIndex() {
        return signal.sourceIndex("vocals");
    }

    /** Index of the accompaniment mask in the model output. */
    public int accompanimentIndex() {
        return signal.sourceIndex("accompaniment");
    }

    /** A figure recorded when the model was verified ({@code "verification"}), or NaN. */
    public double verificationFigure(String key) {
        if (!json.has("verification") || !json.get("verification").isJsonObject()) {
            return Double.NaN;
        }
        JsonObject verification = json.getAsJsonObject("verification");
        JsonElement value = verification.get(key);
        return value != null && value.isJsonPrimitive() && value.getAsJsonPrimitive().isNumber() ? value.getAsDouble() : Double.NaN;
    }

    private void checkConventions() {
        JsonObject stft = object(json, "stft");
        String window = string(stft, "window");
        if (!window.startsWith("hann, periodic")) {
            throw new ContractException("STFT window '" + window + "' is not supported (periodic Hann)");
        }
        JsonElement center = stft.get("center");
        if (center == null || !center.isJsonPrimitive() || !center.getAsBoolean()) {
            throw new ContractException("uncentred STFT frames are not supported");
        }
        if (!json.has("masks")) {
            throw new ContractException("missing \"masks\"");
        }
        JsonArray order = object(json, "masks").getAsJsonArray("sources");
        if (order != null) {
            List<String> names = new ArrayList<String>();
            for (JsonElement name : order) {
                names.add(name.getAsString());
            }
            if (!names.equals(signal.sources)) {
                throw new ContractException("masks.sources " + names + " differ from signal.sources " + signal.sources);
            }
        }
    }

    private static SignalConfig parseSignal(JsonObject s) {
        List<String> sources = new ArrayList<String>();
        JsonArray names = s.getAsJsonArray("sources");
        if (names == null) {
            throw new ContractException("signal: missing \"sources\"");
        }
        for (JsonElement name : names) {
            sources.add(name.getAsString());
        }
        try {
            return new SignalConfig(integer(s, "sample_rate"), integer(s, "n_fft"), integer(s, "hop_length"),
                    integer(s, "n_bins"), integer(s, "patch_frames"), integer(s, "window_hop"),
                    // Contracts from before window_margin existed centre their windows.
                    s.has("window_margin") && !s.get("window_margin").isJsonNull() ? integer(s, "window_margin") : null,
                    string(s, "compression"), (float) number(s, "compression_strength"), sources);
        } catch (IllegalArgumentException e) {
            throw new ContractException("signal: " + e.getMessage(), e);
        }
    }

    private static TensorSpec parseTensor(JsonObject t, String what) {
        JsonArray dims = t.getAsJsonArray("shape");
        if (dims == null) {
            throw new ContractException(what + ": missing \"shape\"");
        }
        if (dims.size() > 8) {
            throw new ContractException(what + ": a shape of " + dims.size() + " dimensions");
        }
        int[] shape = new int[dims.size()];
        for (int i = 0; i < shape.length; i++) {
            // Not getAsInt: it wraps 4294967360 around to 64.
            shape[i] = integer(dims.get(i), what + ".shape");
        }
        String dtype = string(t, "dtype");
        float scale = t.has("scale") ? (float) number(t, "scale") : 0f;
        int zeroPoint = t.has("zero_point") ? integer(t, "zero_point") : 0;
        String name = t.has("name") ? string(t, "name") : what;
        if (!"float32".equals(dtype) && !t.has("scale")) {
            throw new ContractException(what + ": a " + dtype + " tensor needs \"scale\" and \"zero_point\"");
        }
        try {
            return new TensorSpec(name, shape, dtype, scale, zeroPoint);
        } catch (IllegalArgumentException e) {
            throw new ContractException(what + ": " + e.getMessage(), e);
        }
    }

    private static JsonObject object(JsonObject parent, String key) {
        JsonElement value = parent.get(key);
        if (value == null || !value.isJsonObject()) {
            throw new ContractException("missing object \"" + key + "\"");
        }
        return value.getAsJsonObject();
    }

    private static String string(JsonObject parent, String key) {
        JsonElement value = parent.get(key);
        if (value == null || !value.isJsonPrimitive()) {
            throw new ContractException("missing \"" + key + "\"");
        }
        return value.getAsString();
    }

    private static double number(JsonObject parent, String key) {
        JsonElement value = parent.get(key);
        if (value == null || !value.isJsonPrimitive() || !value.getAsJsonPrimitive().isNumber()) {
            throw new ContractException("missing number \"" + key + "\"");
        }
        return value.getAsDouble();
    }

    private static int integer(JsonObject parent, String key) {
        return integer(parent.get(key), key);
    }

    private static int integer(JsonElement element, String key) {
        if (element == null || !element.isJsonPrimitive() || !element.getAsJsonPrimitive().isNumber()) {
            throw new ContractException("missing number \"" + key + "\"");
        }
        // Written as a JSON integer, as the Python reader requires (64.0 and 6.4e1 are floats there).
        String text = element.getAsString();
        long value = text.matches("-?[0-9]{1,10}") ? Long.parseLong(text) : Long.MAX_VALUE;
        if (Math.abs(value) > Integer.MAX_VALUE) {
            throw new ContractException("\"" + key + "\" must be an integer, got " + text);
        }
        return (int) value;
    }

    /** A contract that cannot be used: malformed, of another format or version, or inconsistent. */
    public static final class ContractException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        /** Longest message; a longer one keeps its start and its end. */
        static final int MAX_MESSAGE = 240;

        public ContractException(String message) {
            super(oneLine("audio contract: " + message));
        }

        public ContractException(String message, Throwable cause) {
            super(oneLine("audio contract: " + message), cause);
        }

        /** A message that names a file rather than the contract's content. */
        private ContractException(boolean prefixed, String message) {
            super(oneLine(prefixed ? "audio contract: " + message : message));
        }

        /** The model file is not the one the contract describes (worded as in Python and the web page). */
        static ContractException modelMismatch(String fileName) {
            return new ContractException(false,
                    fileName + ": the model file does not match its contract (SHA-256 differs: corrupt or replaced)");
        }

        /**
         * The message as one short line: it quotes the contract's own strings, which may hold
         * line breaks or run to megabytes.
         */
        private static String oneLine(String message) {
            StringBuilder s = new StringBuilder(Math.min(message.length(), 4 * MAX_MESSAGE));
            for (int i = 0; i < message.length(); i++) {
                char c = message.charAt(i);
                if (Character.isISOControl(c)) {
                    s.append(String.format(java.util.Locale.ROOT, "\\u%04x", (int) c));
                } else {
                    s.append(c);
                }
            }
            if (s.length() > MAX_MESSAGE) {
                int tail = MAX_MESSAGE / 4;
                s.replace(MAX_MESSAGE - tail - 3, s.length() - tail, "...");
            }
            return s.toString();
        }
    }
}
