package org.kerassa.separator;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;

/**
 * Writes a WAV file block by block, with the length known up front (so the header is written
 * first and the file can go straight to a stream, e.g. a content URI's), or open-ended, to a file
 * whose header is completed at the end ({@link #openEnded}, {@link #fixLength}).
 *
 * <p>{@link Encoding#FLOAT_32} keeps every value exactly, beyond [-1, 1] included (what the Python
 * package writes). The PCM encodings clip to [-1, 1] and scale by 2<sup>bits-1</sup>, rounding to
 * the nearest integer: the inverse of {@link WavReader}'s scaling, so that decoding and
 * re-encoding a PCM file gives back the same integers.
 */
public final class WavWriter implements Closeable {
    /** Sample encodings this writer produces. */
    public enum Encoding {
        PCM_16(WavReader.FORMAT_PCM, 16),
        PCM_24(WavReader.FORMAT_PCM, 24),
        FLOAT_32(WavReader.FORMAT_FLOAT, 32);

        final int formatTag;
        final int bits;

        Encoding(int formatTag, int bits) {
            this.formatTag = formatTag;
            this.bits = bits;
        }
    }

    private final OutputStream out;
    private final int channels;
    private final long frames;
    private final Encoding encoding;
    private long written;
    private boolean closed;

    /**
     * Starts a file: writes the header for {@code frames} frames.
     *
     * @throws IOException the data would not fit a RIFF file (4 GiB), or the stream fails.
     */
    public WavWriter(OutputStream out, int sampleRate, int channels, long frames, Encoding encoding) throws IOException {
        if (sampleRate <= 0 || channels <= 0 || frames < 0) {
            throw new IllegalArgumentException("bad WAV parameters: rate " + sampleRate + ", channels " + channels + ", frames " + frames);
        }
        this.out = out;
        this.channels = channels;
        this.frames = frames;
        this.encoding = encoding;
        out.write(header(sampleRate, channels, frames, encoding));
    }

    private WavWriter(OutputStream out, int sampleRate, int channels, Encoding encoding) throws IOException {
        if (sampleRate <= 0 || channels <= 0) {
            throw new IllegalArgumentException("bad WAV parameters: rate " + sampleRate + ", channels " + channels);
        }
        this.out = out;
        this.channels = channels;
        this.frames = -1;
        this.encoding = encoding;
        out.write(header(sampleRate, channels, 0, encoding));
    }

    /**
     * Starts a file of a length not known yet (a stream's output): the header says 0 frames
     * until {@link #fixLength} rewrites it, once the writer is closed.
     */
    public static WavWriter openEnded(OutputStream out, int sampleRate, int channels, Encoding encoding) throws IOException {
        return new WavWriter(out, sampleRate, channels, encoding);
    }

    /** Rewrites the header of a file written by an {@link #openEnded} writer for the {@code frames} it holds. */
    public static void fixLength(File file, int sampleRate, int channels, long frames, Encoding encoding) throws IOException {
        byte[] header = header(sampleRate, channels, frames, encoding);
        long dataBytes = frames * channels * encoding.bits / 8;
        RandomAccessFile raf = new RandomAccessFile(file, "rw");
        try {
            if (raf.length() != header.length + dataBytes + (dataBytes & 1)) {
                throw new IOException(file + ": " + raf.length() + " bytes, not a WAV file of " + frames + " frames");
            }
            raf.seek(0);
            raf.write(header);
        } finally {
            raf.close();
        }
    }

    private static byte[] header(int sampleRate, int channels, long frames, Encoding encoding) throws IOException {
        int blockAlign = channels * encoding.bits / 8;
        long dataBytes = frames * blockAlign;
        boolean isFloat = encoding == Encoding.FLOAT_32;
        long riffSize = 4 + (8 + (isFloat ? 18 : 16)) + (isFloat ? 12 : 0) + 8 + dataBytes + (dataBytes & 1);
        if (riffSize > 0xFFFFFFFFL) {
            throw new IOException("too long for a WAV file (" + dataBytes + " bytes of samples)");
        }
        ByteArrayOutputStream header = new ByteArrayOutputStream(64);
        ascii(header, "RIFF");
        u32(header, riffSize);
        ascii(header, "WAVE");
        ascii(header, "fmt ");
        u32(header, isFloat ? 18 : 16);
        u16(header, encoding.formatTag);
        u16(header, channels);
        u32(header, sampleRate);
        u32(header, (long) sampleRate * blockAlign);
        u16(header, blockAlign);
        u16(header, encoding.bits);
        if (isFloat) {
            u16(header, 0); // cbSize
            ascii(header, "fact"); // required for non-PCM data
            u32(header, 4);
            u32(header, frames);
        }
        ascii(header, "data");
        u32(header, dataBytes);
        return header.toByteArray();
    }

    /** Writes a whole recording to a stream (the stream is flushed, not closed). */
    public static void write(AudioBuffer audio, OutputStream out, Encoding encoding) throws IOException {
        WavWriter writer = new WavWriter(out, audio.sampleRate, audio.channels(), audio.frames(), encoding);
        writer.write(audio.samples, 0, audio.frames());
        writer.finish();
    }

    /** A whole recording as the bytes of a WAV file. */
    public static byte[] toBytes(AudioBuffer audio, Encoding encoding) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        write(audio, bytes, encoding);
        return bytes.toByteArray();
    }

    /** Appends frames {@code [offset, offset + count)} of {@code block} ({@code [channel][frame]}). */
    public void write(float[][] block, int offset, int count) throws IOException {
        if (block.length != channels) {
            throw new IllegalArgumentException("expected " + channels + " channels, got " + block.length);
        }
        if (frames >= 0 && written + count > frames) {
            throw new IOException("more frames than the header announced (" + frames + ")");
        }
        if (frames < 0 && (written + count) * channels * (encoding.bits / 8) > 0xFFFFFFFFL - 64) {
            throw new IOException("too long for a WAV file (" + (written + count) + " frames)");
        }
        int bytesPerSample = encoding.bits / 8;
        int chunk = 4096;
        byte[] buffer = new byte[chunk * channels * bytesPerSample];
        for (int start = 0; start < count; start += chunk) {
            int n = Math.min(chunk, count - start);
            int at = 0;
            for (int f = 0; f < n; f++) {
                for (int c = 0; c < channels; c++) {
                    at = encode(block[c][offset + start + f], buffer, at);
                }
            }
            out.write(buffer, 0, at);
        }
        written += count;
    }

    private int encode(float value, byte[] b, int at) {
        switch (encoding) {
            case FLOAT_32: {
                int bits = Float.floatToRawIntBits(value);
                b[at] = (byte) bits;
                b[at + 1] = (byte) (bits >> 8);
                b[at + 2] = (byte) (bits >> 16);
                b[at + 3] = (byte) (bits >> 24);
                return at + 4;
            }
            case PCM_24: {
                int s = quantize(value, 8388608.0);
                b[at] = (byte) s;
                b[at + 1] = (byte) (s >> 8);
                b[at + 2] = (byte) (s >> 16);
                return at + 3;
            }
            default: {
                int s = quantize(value, 32768.0);
                b[at] = (byte) s;
                b[at + 1] = (byte) (s >> 8);
                return at + 2;
            }
        }
    }

    /**
     * Frames {@code [offset, offset + count)} of the first {@code outChannels} channels of
     * {@code block}, interleaved as 16-bit PCM (as {@link Encoding#PCM_16} writes them): for an
     * audio output that plays fewer channels than a recording has.
     */
    public static short[] interleavePcm16(float[][] block, int offset, int count, int outChannels) {
        if (outChannels <= 0 || outChannels > block.length) {
            throw new IllegalArgumentException(outChannels + " channels out of " + block.length);
        }
        short[] out = new short[count * outChannels];
        int at = 0;
        for (int f = 0; f < count; f++) {
            for (int c = 0; c < outChannels; c++) {
                out[at++] = (short) quantize(block[c][offset + f], 32768.0);
            }
        }
        return out;
    }

    private static int quantize(float value, double full) {
        if (Float.isNaN(value)) {
            return 0;
        }
        double scaled = Math.rint(Math.max(-1.0, Math.min(1.0, value)) * full);
        return (int) Math.max(-full, Math.min(full - 1, scaled));
    }

    /** Frames written so far. */
    public long written() {
        return written;
    }

    /**
     * Completes the file: pads the data chunk to an even size and flushes the stream.
     *
     * @throws IOException fewer frames were written than the header announced.
     */
    public void finish() throws IOException {
        if (frames >= 0 && written != frames) {
            throw new IOException("WAV file incomplete: " + written + " of " + frames + " frames written");
        }
        long dataBytes = written * channels * encoding.bits / 8;
        if ((dataBytes & 1) != 0) {
            out.write(0);
        }
        out.flush();
    }

    /** {@link #finish()}, then closes the stream. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            finish();
        } finally {
            out.close();
        }
    }

    private static void ascii(ByteArrayOutputStream out, String text) {
        for (int i = 0; i < text.length(); i++) {
            out.write(text.charAt(i));
        }
    }

    private static void u16(ByteArrayOutputStream out, int value) {
        out.write(value & 0xFF);
        out.write((value >> 8) & 0xFF);
    }

    private static void u32(ByteArrayOutputStream out, long value) {
        for (int i = 0; i < 4; i++) {
            out.write((int) ((value >> (8 * i)) & 0xFF));
        }
    }
}
