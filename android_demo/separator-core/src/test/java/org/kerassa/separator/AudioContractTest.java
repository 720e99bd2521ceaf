package org.kerassa.separator;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.util.Arrays;

import org.junit.Test;

/**
 * Reading the model's audio contract ({@code X.json} beside {@code X.tflite}): the committed model
 * with int8 input and output (tflite/models/sa_shn_mobile_int8_float_attention.json, whatever the
 * golden vectors were written for), and the golden vectors' own, which may be another model's.
 */
public class AudioContractTest {
    /** The committed int8-in, int8-out model's contract (the golden vectors' model by default). */
    private static final String MODEL_CONTRACT = "sa_shn_mobile_int8_float_attention.json";

    private static String modelText() throws IOException {
        return new String(committed(MODEL_CONTRACT), java.nio.charset.StandardCharsets.UTF_8);
    }

    private static JsonObject modelJson() throws IOException {
        return JsonParser.parseString(modelText()).getAsJsonObject();
    }

    private static void assertRejected(JsonObject json, String reason) {
        try {
            AudioContract.parse(json.toString());
            fail("expected a ContractException mentioning '" + reason + "'");
        } catch (AudioContract.ContractException e) {
            assertTrue("'" + e.getMessage() + "' should mention '" + reason + "'", e.getMessage().contains(reason));
        }
    }

    @Test
    public void readsTheModelsContract() throws Exception {
        AudioContract contract = AudioContract.parse(modelText());
        assertEquals(1, contract.version);
        assertEquals("int8_float_attention", contract.quantization);
        assertEquals("sa_shn_mobile", contract.modelName);
        SignalConfig s = contract.signal;
        assertEquals(16000, s.sampleRate);
        assertEquals(2048, s.nFft);
        assertEquals(512, s.hopLength);
        assertEquals(1024, s.nBins);
        assertEquals(64, s.patchFrames);
        assertEquals(36, s.windowHop);
        assertEquals(24, s.windowMargin());
        assertEquals(4, s.windowLookAhead());
        assertEquals("log", s.compression);
        assertEquals(1000f, s.compressionStrength, 0f);
        assertEquals(Arrays.asList("vocals", "accompaniment"), s.sources);
        assertEquals(0, contract.vocalsIndex());
        assertEquals(1, contract.accompanimentIndex());
        assertEquals(1025, s.spectrumBins());
        assertEquals(51, s.numFrames(25700));

        assertEquals("int8", contract.input.dtype);
        assertArrayEquals(new int[] {1, 64, 1024, 1}, contract.input.shape());
        assertEquals(0.003921568859368563, contract.input.scale, 0); // 1/255 as float32
        assertEquals(-128, contract.input.zeroPoint);
        assertArrayEquals(new int[] {1, 64, 1024, 2}, contract.output.shape());
        assertEquals(0.00390625f, contract.output.scale, 0f); // 1/256
        assertEquals(-128, contract.output.zeroPoint);
        assertTrue(contract.input.isQuantized());
        assertEquals(64 * 1024, contract.input.elements());
    }

    @Test
    public void readsTheGoldenVectorsContract() throws Exception {
        // Whatever model the golden vectors were written for: its fields as the JSON gives them,
        // and the frame and window counts the Python chain recorded.
        AudioContract contract = Golden.contract();
        JsonObject json = JsonParser.parseString(new String(Golden.bytes("contract.json"),
                java.nio.charset.StandardCharsets.UTF_8)).getAsJsonObject();
        JsonObject signal = json.getAsJsonObject("signal");
        SignalConfig s = contract.signal;
        assertEquals(json.getAsJsonObject("model").get("name").getAsString(), contract.modelName);
        assertEquals(signal.get("sample_rate").getAsInt(), s.sampleRate);
        assertEquals(signal.get("n_fft").getAsInt(), s.nFft);
        assertEquals(signal.get("hop_length").getAsInt(), s.hopLength);
        assertEquals(signal.get("n_bins").getAsInt(), s.nBins);
        assertEquals(signal.get("patch_frames").getAsInt(), s.patchFrames);
        assertEquals(signal.get("window_hop").getAsInt(), s.windowHop);
        assertEquals(signal.get("window_margin").getAsInt(), s.windowMargin());
        assertEquals(s.patchFrames - s.windowHop - s.windowMargin(), s.windowLookAhead());
        assertEquals(s.nFft / 2 + 1, s.spectrumBins());
        assertArrayEquals(new int[] {1, s.patchFrames, s.nBins, 1}, contract.input.shape());
        assertArrayEquals(new int[] {1, s.patchFrames, s.nBins, s.sources.size()}, contract.output.shape());
        JsonObject mono = Golden.testCase("mono");
        assertEquals(mono.get("frames").getAsInt(),
                s.numFrames(mono.getAsJsonObject("input").get("frames").getAsInt()));
    }

    @Test
    public void contractFileSitsBesideTheModel() {
        assertEquals("models/sa_shn_mobile_int8.json", AudioContract.contractPath("models/sa_shn_mobile_int8.tflite"));
        try {
            AudioContract.contractPath("model.bin");
            fail();
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage().contains(".tflite"));
        }
    }

    @Test
    public void readsTheWindowMarginAndCentresWithoutIt() throws Exception {
        JsonObject json = modelJson();
        json.getAsJsonObject("signal").addProperty("window_margin", 12);
        SignalConfig signal = AudioContract.parse(json.toString()).signal;
        assertEquals(12, signal.windowMargin());
        assertEquals(64 - 36 - 12, signal.windowLookAhead());
        // A contract from before the field existed keeps the central frames.
        json.getAsJsonObject("signal").remove("window_margin");
        signal = AudioContract.parse(json.toString()).signal;
        assertEquals((signal.patchFrames - signal.windowHop) / 2, signal.windowMargin());
        assertEquals(signal.windowMargin(), signal.windowLookAhead());
    }

    @Test
    public void readsAFloatModelsContract() throws Exception {
        JsonObject json = modelJson();
        json.addProperty("quantization", "float32");
        for (String tensor : new String[] {"input", "output"}) {
            JsonObject spec = json.getAsJsonObject(tensor);
            spec.addProperty("dtype", "float32");
            spec.remove("scale");
            spec.remove("zero_point");
        }
        AudioContract contract = AudioContract.parse(json.toString());
        assertFalse(contract.input.isQuantized());
        assertEquals(4, contract.output.elementBytes());
    }

    @Test
    public void rejectsOtherFormatsVersionsAndInconsistentContracts() throws Exception {
        JsonObject json = modelJson();
        json.addProperty("format", "something.else");
        assertRejected(json, "not a keras_sa TFLite contract");

        json = modelJson();
        json.addProperty("version", 2);
        assertRejected(json, "version 2 is not supported");

        json = modelJson();
        json.remove("signal");
        assertRejected(json, "missing object \"signal\"");

        json = modelJson();
        json.getAsJsonObject("signal").addProperty("n_bins", 1100);
        assertRejected(json, "n_bins=1100");

        json = modelJson();
        json.getAsJsonObject("signal").remove("window_margin");
        json.getAsJsonObject("signal").addProperty("window_hop", 47);
        assertRejected(json, "patch_frames - window_hop must be even");

        json = modelJson();
        json.getAsJsonObject("signal").addProperty("window_margin", 29);
        assertRejected(json, "window_margin must lie in [0, patch_frames - window_hop = 28]");

        json = modelJson();
        JsonArray shape = new JsonArray();
        for (int d : new int[] {1, 32, 1024, 1}) {
            shape.add(d);
        }
        json.getAsJsonObject("input").add("shape", shape);
        assertRejected(json, "input shape [1, 32, 1024, 1]");

        json = modelJson();
        json.getAsJsonObject("output").addProperty("dtype", "int16");
        assertRejected(json, "unsupported dtype int16");

        json = modelJson();
        json.getAsJsonObject("input").remove("scale");
        assertRejected(json, "needs \"scale\"");

        json = modelJson();
        JsonArray sources = new JsonArray();
        sources.add("drums");
        sources.add("accompaniment");
        json.getAsJsonObject("signal").add("sources", sources);
        json.getAsJsonObject("masks").add("sources", sources);
        assertRejected(json, "no 'vocals' mask");

        json = modelJson();
        json.getAsJsonObject("stft").addProperty("window", "hann, symmetric");
        assertRejected(json, "STFT window");

        json = modelJson();
        json.getAsJsonObject("signal").addProperty("sample_rate", 16000.5);
        assertRejected(json, "must be an integer");
    }

    @Test
    public void rejectsTextThatIsNotAContract() {
        for (String text : new String[] {"", "[1, 2]", "{\"format\": ", "not json at all {"}) {
            try {
                AudioContract.parse(text);
                fail("accepted '" + text + "'");
            } catch (AudioContract.ContractException expected) {
                assertTrue(expected.getMessage().startsWith("audio contract: "));
            }
        }
    }

    @Test
    public void exposesTheVerificationFigures() throws Exception {
        AudioContract contract = AudioContract.parse(modelText());
        JsonObject json = modelJson();
        if (json.has("verification")) {
            double gnsdr = json.getAsJsonObject("verification").get("vocals_gnsdr").getAsDouble();
            assertEquals(gnsdr, contract.verificationFigure("vocals_gnsdr"), 0);
        }
        assertTrue(Double.isNaN(contract.verificationFigure("no_such_figure")));
    }

    /** The app's model and its contract as committed under the repository's tflite/models/. */
    private static byte[] committed(String name) throws IOException {
        java.io.File dir = new java.io.File(System.getProperty("user.dir")).getAbsoluteFile();
        while (dir != null && !new java.io.File(dir, "tflite/models").isDirectory()) {
            dir = dir.getParentFile();
        }
        assertTrue("the repository's tflite/models/ (above " + System.getProperty("user.dir") + ")", dir != null);
        return java.nio.file.Files.readAllBytes(new java.io.File(dir, "tflite/models/" + name).toPath());
    }

    @Test
    public void verifiesTheModelFileAgainstItsDigest() throws Exception {
        String name = "sa_shn_mobile_dynamic.tflite";
        AudioContract contract = AudioContract.parse(
                new String(committed(AudioContract.contractPath(name)), java.nio.charset.StandardCharsets.UTF_8));
        assertTrue(contract.modelSha256 != null && contract.modelSha256.length() == 64);
        byte[] model = committed(name);
        contract.verifyModel(name, model);
        java.nio.ByteBuffer direct = java.nio.ByteBuffer.allocateDirect(model.length);
        direct.put(model).flip();
        contract.verifyModel(name, direct);
        assertEquals("the position is left as it is", 0, direct.position());

        model[model.length / 2] ^= 1; // one bit, inside the weights
        try {
            contract.verifyModel(name, model);
            fail("accepted a damaged model");
        } catch (AudioContract.ContractException e) {
            assertEquals(name + ": the model file does not match its contract (SHA-256 differs: corrupt or replaced)",
                    e.getMessage());
        }
        try {
            contract.verifyModel(name, java.util.Arrays.copyOf(committed(name), model.length - 1));
            fail("accepted a truncated model");
        } catch (AudioContract.ContractException expected) {
            assertTrue(expected.getMessage().contains("does not match its contract"));
        }
    }

    @Test
    public void aContractWithoutADigestStillLoadsAndABadDigestIsRefused() throws Exception {
        String text = new String(committed("sa_shn_mobile_dynamic.json"), java.nio.charset.StandardCharsets.UTF_8);
        JsonObject json = JsonParser.parseString(text).getAsJsonObject();
        String digest = json.get("model_sha256").getAsString();
        json.remove("model_sha256");
        AudioContract old = AudioContract.parse(json.toString());
        assertEquals(null, old.modelSha256);
        old.verifyModel("model.tflite", new byte[] {1, 2, 3}); // nothing to check against

        for (String bad : new String[] {digest.toUpperCase(java.util.Locale.ROOT), digest.substring(1), digest + "0",
                "z" + digest.substring(1), ""}) {
            json.addProperty("model_sha256", bad);
            assertRejected(json, "model_sha256 must be 64 lowercase hexadecimal digits");
        }
        json.add("model_sha256", new JsonArray());
        assertRejected(json, "model_sha256");
    }
}
