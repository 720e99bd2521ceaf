package org.kerassa.demo;

import android.content.Context;
import android.content.res.AssetFileDescriptor;
import android.content.res.AssetManager;

import java.io.Closeable;
import java.io.FileInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;

import org.kerassa.separator.AudioContract;
import org.kerassa.separator.ContractMaskModel;
import org.kerassa.separator.Separator;

/**
 * The dynamic-range model bundled in the APK's assets, with its audio contract beside it
 * ({@code sa_shn_mobile_dynamic.tflite} and {@code sa_shn_mobile_dynamic.json}; float32 input and
 * output), ready to separate. android_demo/README.md says why this conversion.
 * The model is memory-mapped from the APK (stored uncompressed, see app/build.gradle.kts).
 */
final class BundledModel implements Closeable {
    static final String MODEL = "sa_shn_mobile_dynamic.tflite";
    static final String CONTRACT = AudioContract.contractPath(MODEL);

    final AudioContract contract;
    final ContractMaskModel masks;
    final Separator separator;
    private final LiteRtTensorModel model;

    private BundledModel(AudioContract contract, LiteRtTensorModel model) {
        this.contract = contract;
        this.model = model;
        this.masks = new ContractMaskModel(model, contract);
        this.separator = new Separator(contract.signal, masks);
    }

    static BundledModel load(Context context, int threads) throws IOException {
        AssetManager assets = context.getAssets();
        AudioContract contract;
        try (InputStream in = assets.open(CONTRACT)) {
            contract = AudioContract.read(in);
        } catch (FileNotFoundException e) {
            throw new FileNotFoundException("this build has no " + CONTRACT + " in its assets (see android_demo/README.md)");
        }
        MappedByteBuffer buffer;
        try (AssetFileDescriptor descriptor = assets.openFd(MODEL);
                FileInputStream in = new FileInputStream(descriptor.getFileDescriptor());
                FileChannel channel = in.getChannel()) {
            buffer = channel.map(FileChannel.MapMode.READ_ONLY, descriptor.getStartOffset(), descriptor.getDeclaredLength());
        } catch (FileNotFoundException e) {
            throw new FileNotFoundException("this build has no " + MODEL + " in its assets, or it is compressed (see android_demo/README.md)");
        }
        contract.verifyModel(MODEL, buffer); // before the interpreter sees the bytes
        return new BundledModel(contract, new LiteRtTensorModel(buffer, contract, threads));
    }

    @Override
    public void close() {
        model.close();
    }
}
