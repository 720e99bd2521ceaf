package org.kerassa.separator;

import java.io.BufferedInputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Decodes RIFF/WAVE files into float samples.
 *
 * <p>Reads uncompressed PCM (8-bit unsigned, 16-, 24- and 32-bit signed) and IEEE float (32- and
 * 64-bit) samples, plain or in a {@code WAVE_FORMAT_EXTENSIBLE} header, any channel count and any
 * rate. Integer samples are scaled as libsndfile (and so the Python package) scales them:
 * divided by 2<sup>bits-1</sup>, so a 16-bit sample {@code s} becomes {@code s / 32768}.
 * Chunks other than {@code fmt } and {@code data} ({@code LIST}, {@code fact}, {@code PEAK}, ...)
 * are skipped.
 *
 * <p>Truncation: a data chunk that declares more audio than the file holds (a half-downloaded
 * file, an interrupted recording) is refused, with the message of {@link #truncatedMessage}, the
 * same words as the Python package's; a data size of 0 or {@code 0xFFFFFFFF}, which programs
 * writing WAV into a pipe leave in the header as they cannot go back to fill it in, means "to the
 * end of the stream"; such a stream that ends inside a sample frame is refused as truncated too.
 *
 * <p>No header field sizes an allocation: the sample arrays start at most at {@link
 * #INITIAL_SAMPLES} samples and grow (doubling) only as samples arrive, so a header that declares
 * 4 GB of audio in a file of 100 bytes costs no more memory than the 100 bytes do.
 *
 * <p>Errors are {@link AudioFormatException}s with a one-line reason: not a WAV file, truncated
 * header or data, no data, NaN or infinite float samples; {@link UnsupportedAudioFormatException}
 * for a valid file in another encoding (ADPCM, A-law, mu-law, MP3-in-WAV, big-endian RIFX, RF64).
 */
public final class WavReader {
    static final int FORMAT_PCM = 1;
    static final int FORMAT_FLOAT = 3;
    static final int FORMAT_EXTENSIBLE = 0xFFFE;
    /** Samples (all channels together) the decoded arrays start with at most, before data arrives. */
    static final int INITIAL_SAMPLES = 1 << 18;
    /** Largest fmt chunk read (a WAVE_FORMAT_EXTENSIBLE one has 40 bytes). */
    static final int MAX_FMT_BYTES = 1024;
    /** The message for a stream of unknown length that ends inside a sample frame (as in Python). */
    public static final String PARTIAL_FRAME_MESSAGE = "truncated (it ends inside a sample frame)";
    /** Frames decoded per read. */
    private static final int FRAMES_PER_READ = 4096;

    private WavReader() {
    }

    /** The format of a WAV file, from its {@code fmt } chunk. */
    public static final class Format {
        public final int formatTag;
        public final int channels;
        public final int sampleRate;
        public final int bitsPerSample;
        public final int blockAlign;

        Format(int formatTag, int channels, int sampleRate, int bitsPerSample, int blockAlign) {
            this.formatTag = formatTag;
            this.channels = channels;
            this.sampleRate = sampleRate;
            this.bitsPerSample = bitsPerSample;
            this.blockAlign = blockAlign;
        }

        public boolean isFloat() {
            return formatTag == FORMAT_FLOAT;
        }

        @Override
        public String toString() {
            return (isFloat() ? "float" : "PCM") + " " + bitsPerSample + "-bit, " + channels + " channel(s), " + sampleRate + " Hz";
        }
    }

    /** Decodes a WAV file. */
    public static AudioBuffer read(File file) throws IOException {
        return read(file, 0);
    }

    /** Decodes a WAV file; refuses one longer than {@code maxSeconds} (no limit when 0). */
    public static AudioBuffer read(File file, double maxSeconds) throws IOException {
        InputStream in = new BufferedInputStream(new FileInputStream(file), 1 << 16);
        try {
            return read(in, maxSeconds);
        } finally {
            in.close();
        }
    }

    /** Decodes a WAV stream (read to the end of its data chunk; not closed). */
    public static AudioBuffer read(InputStream in) throws IOException {
        return read(in, 0);
    }

    /**
     * Decodes a WAV stream; refuses one longer than {@code maxSeconds} (no limit when 0). A header
     * that declares more than {@code maxSeconds} is refused before any sample is decoded: as too
     * long when the data is all there, as truncated when it is not.
     */
    public static AudioBuffer read(InputStream in, double maxSeconds) throws IOException {
        byte[] riff = new byte[12];
        int got = readFully(in, riff, 0, 12);
        if (got == 0) {
            throw new AudioFormatException("empty file");
        }
        String magic = got >= 4 ? ascii(riff, 0) : "";
        if ("RIFX".equals(magic) || "RF64".equals(magic)) {
            throw new UnsupportedAudioFormatException("unsupported WAV variant " + magic + " (little-endian RIFF WAVE only)");
        }
        if (got < 12 && isPrefix(riff, got, "RIFF\0\0\0\0WAVE")) {
            throw new AudioFormatException("truncated WAV file: it ends inside the header");
        }
        if (got < 12 || !"RIFF".equals(magic) || !"WAVE".equals(ascii(riff, 8))) {
            throw new AudioFormatException("not a WAV file (no RIFF/WAVE header)");
        }
        Format format = null;
        byte[] header = new byte[8];
        while (true) {
            got = readFully(in, header, 0, 8);
            if (got < 8) {
                throw new AudioFormatException(format == null ? "truncated WAV file: no fmt chunk" : "truncated WAV file: no data chunk");
            }
            String id = ascii(header, 0);
            long size = u32(header, 4);
            if ("fmt ".equals(id)) {
                format = readFormat(in, size);
            } else if ("data".equals(id)) {
                if (format == null) {
                    throw new AudioFormatException("corrupt WAV file: data chunk before the fmt chunk");
                }
                return readData(in, format, size, maxSeconds);
            } else {
                skip(in, size + (size & 1), id);
            }
        }
    }

    private static Format readFormat(InputStream in, long size) throws IOException {
        if (size < 16 || size > MAX_FMT_BYTES) {
            throw new AudioFormatException("corrupt WAV file: fmt chunk of " + size + " bytes");
        }
        byte[] fmt = new byte[(int) (size + (size & 1))];
        if (readFully(in, fmt, 0, fmt.length) < size) {
            throw new AudioFormatException("truncated WAV file: incomplete fmt chunk");
        }
        int tag = u16(fmt, 0);
        int channels = u16(fmt, 2);
        long rate = u32(fmt, 4);
        int blockAlign = u16(fmt, 12);
        int bits = u16(fmt, 14);
        if (tag == FORMAT_EXTENSIBLE) {
            if (size < 40) {
                throw new AudioFormatException("corrupt WAV file: WAVE_FORMAT_EXTENSIBLE header of " + size + " bytes");
            }
            int validBits = u16(fmt, 18);
            if (validBits > bits) {
                throw new AudioFormatException("corrupt WAV file: " + validBits + " valid bits in " + bits + "-bit samples");
            }
            tag = u16(fmt, 24); // the sub-format GUID starts with the format tag
            int[] guidTail = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
            for (int i = 0; i < guidTail.length; i++) {
                if ((fmt[26 + i] & 0xFF) != guidTail[i]) {
                    throw new UnsupportedAudioFormatException("unsupported WAV sub-format (not PCM or IEEE float)");
                }
            }
        }
        if (tag != FORMAT_PCM && tag != FORMAT_FLOAT) {
            throw new UnsupportedAudioFormatException("unsupported WAV encoding " + encodingName(tag)
                    + " (uncompressed PCM or IEEE float only)");
        }
        if (channels < 1 || channels > 64) {
            throw new AudioFormatException("corrupt WAV file: " + channels + " channels");
        }
        if (rate < 1 || rate > 1000000) {
            throw new AudioFormatException("corrupt WAV file: sample rate " + rate + " Hz");
        }
        boolean supported = tag == FORMAT_PCM ? (bits == 8 || bits == 16 || bits == 24 || bits == 32) : (bits == 32 || bits == 64);
        if (!supported) {
            throw new UnsupportedAudioFormatException("unsupported WAV sample size: " + bits + "-bit "
                    + (tag == FORMAT_PCM ? "PCM" : "float"));
        }
        if (blockAlign != channels * (bits / 8)) {
            throw new AudioFormatException("corrupt WAV file: block align " + blockAlign + " for " + channels + " x " + bits + "-bit samples");
        }
        return new Format(tag, channels, (int) rate, bits, blockAlign);
    }

    private static AudioBuffer readData(InputStream in, Format format, long size, double maxSeconds) throws IOException {
        boolean toEnd = size == 0 || size == 0xFFFFFFFFL;
        int blockAlign = format.blockAlign;
        long declaredFrames = toEnd ? -1 : size / blockAlign;
        long limitFrames = maxSeconds > 0 ? (long) Math.floor(maxSeconds * format.sampleRate) : Integer.MAX_VALUE - 8;
        if (!toEnd && declaredFrames > limitFrames) {
            // Refused either way; count (not decode) what is there to say which way.
            long present = countBytes(in, declaredFrames * blockAlign);
            if (present < declaredFrames * blockAlign) {
                throw new AudioFormatException(truncatedMessage(declaredFrames, present / blockAlign, format.sampleRate));
            }
            throw new AudioFormatException(String.format(java.util.Locale.ROOT, "too long (%.1f s; the limit is %.0f s)",
                    declaredFrames / (double) format.sampleRate, maxSeconds > 0 ? maxSeconds : limitFrames / (double) format.sampleRate));
        }
        int channels = format.channels;
        int bytesPerSample = format.bitsPerSample / 8;
        // The declared size is a hint, never trusted for more than a fixed allocation.
        long perChannel = Math.max(1, INITIAL_SAMPLES / channels);
        int capacity = (int) (toEnd ? perChannel : Math.max(1, Math.min(declaredFrames, perChannel)));
        float[][] samples = new float[channels][capacity];
        int frames = 0;
        byte[] buffer = new byte[blockAlign * FRAMES_PER_READ];
        long remaining = toEnd ? Long.MAX_VALUE : declaredFrames * blockAlign;
        boolean finite = true;
        while (remaining > 0) {
            int want = (int) Math.min(buffer.length, remaining);
            int got = readFully(in, buffer, 0, want);
            int whole = got / blockAlign;
            if (frames + (long) whole > limitFrames) {
                throw new AudioFormatException(String.format(java.util.Locale.ROOT, "too long (more than %.0f s)",
                        maxSeconds > 0 ? maxSeconds : limitFrames / (double) format.sampleRate));
            }
            if (frames + whole > capacity) {
                capacity = (int) Math.min(Math.max(capacity * 2L, frames + (long) whole), Integer.MAX_VALUE - 8);
                for (int c = 0; c < channels; c++) {
                    samples[c] = java.util.Arrays.copyOf(samples[c], capacity);
                }
            }
            for (int f = 0; f < whole; f++) {
                int base = f * blockAlign;
                for (int c = 0; c < channels; c++) {
                    float value = decode(buffer, base + c * bytesPerSample, format);
                    samples[c][frames + f] = value;
                    if (Float.isNaN(value) || Float.isInfinite(value)) {
                        finite = false;
                    }
                }
            }
            frames += whole;
            remaining -= got;
            if (got < want) {
                if (!toEnd) {
                    throw new AudioFormatException(truncatedMessage(declaredFrames, frames, format.sampleRate));
                }
                if (got % blockAlign != 0) {
                    throw new AudioFormatException(PARTIAL_FRAME_MESSAGE);
                }
                break; // the end of a stream of unknown length
            }
        }
        if (frames == 0) {
            throw new AudioFormatException("no samples");
        }
        if (!finite) {
            throw new AudioFormatException("contains NaN or infinite samples");
        }
        for (int c = 0; c < channels; c++) {
            if (samples[c].length != frames) {
                samples[c] = java.util.Arrays.copyOf(samples[c], frames);
            }
        }
        return new AudioBuffer(samples, format.sampleRate);
    }

    /**
     * The one line a truncated file gets, worded as the Python package words it (without the
     * file name, which the caller knows and the Python message puts in front).
     *
     * @param declaredFrames frames the header declares
     * @param presentFrames whole frames the file holds
     * @param sampleRate the file's rate, in Hz
     */
    public static String truncatedMessage(long declaredFrames, long presentFrames, int sampleRate) {
        return String.format(java.util.Locale.ROOT, "truncated: header declares %.2f s of audio, the file holds %.2f s",
                declaredFrames / (double) sampleRate, presentFrames / (double) sampleRate);
    }

    /** Reads and drops up to {@code count} bytes; returns how many there were. */
    private static long countBytes(InputStream in, long count) throws IOException {
        // read, not skip: FileInputStream.skip goes past the end of the file without a word.
        byte[] scratch = new byte[1 << 16];
        long total = 0;
        while (total < count) {
            int read = in.read(scratch, 0, (int) Math.min(scratch.length, count - total));
            if (read < 0) {
                break;
            }
            total += read;
        }
        return total;
    }

    private static float decode(byte[] b, int at, Format format) {
        switch (format.bitsPerSample) {
            case 8:
                return ((b[at] & 0xFF) - 128) / 128f;
            case 16:
                return (short) ((b[at] & 0xFF) | (b[at + 1] << 8)) / 32768f;
            case 24:
                return ((b[at] & 0xFF) | ((b[at + 1] & 0xFF) << 8) | (b[at + 2] << 16)) / 8388608f;
            case 32: {
                int bits = (b[at] & 0xFF) | ((b[at + 1] & 0xFF) << 8) | ((b[at + 2] & 0xFF) << 16) | (b[at + 3] << 24);
                return format.isFloat() ? Float.intBitsToFloat(bits) : (float) (bits / 2147483648.0);
            }
            case 64: {
                long bits = 0;
                for (int i = 7; i >= 0; i--) {
                    bits = (bits << 8) | (b[at + i] & 0xFF);
                }
                return (float) Double.longBitsToDouble(bits);
            }
            default:
                break;
        }
        throw new IllegalStateException("unchecked sample format " + format);
    }

    static String encodingName(int tag) {
        switch (tag) {
            case 2:
                return "MS ADPCM (0x0002)";
            case 6:
                return "A-law (0x0006)";
            case 7:
                return "mu-law (0x0007)";
            case 0x11:
                return "IMA ADPCM (0x0011)";
            case 0x31:
                return "GSM 6.10 (0x0031)";
            case 0x50:
            case 0x55:
                return "MPEG (0x" + Integer.toHexString(tag) + ")";
            default:
                return String.format(java.util.Locale.ROOT, "0x%04x", tag);
        }
    }

    private static void skip(InputStream in, long count, String id) throws IOException {
        byte[] scratch = null;
        while (count > 0) {
            long skipped = in.skip(count);
            if (skipped <= 0) {
                if (scratch == null) {
                    scratch = new byte[8192];
                }
                int read = in.read(scratch, 0, (int) Math.min(scratch.length, count));
                if (read < 0) {
                    throw new AudioFormatException("truncated WAV file: incomplete " + shown(id) + " chunk and no data chunk");
                }
                skipped = read;
            }
            count -= skipped;
        }
    }

    /** Reads up to {@code length} bytes; fewer only at the end of the stream. */
    static int readFully(InputStream in, byte[] buffer, int offset, int length) throws IOException {
        int total = 0;
        while (total < length) {
            int read = in.read(buffer, offset + total, length - total);
            if (read < 0) {
                break;
            }
            total += read;
        }
        return total;
    }

    /** Whether the first {@code length} bytes are those of {@code pattern}, NULs matching any byte. */
    private static boolean isPrefix(byte[] b, int length, String pattern) {
        for (int i = 0; i < length; i++) {
            char c = pattern.charAt(i);
            if (c != 0 && (b[i] & 0xFF) != c) {
                return false;
            }
        }
        return true;
    }

    /** A chunk id for a message: quoted when printable ASCII, else in hex (never a control character). */
    static String shown(String id) {
        for (int i = 0; i < id.length(); i++) {
            char c = id.charAt(i);
            if (c < 0x20 || c > 0x7E) {
                StringBuilder hex = new StringBuilder("0x");
                for (int j = 0; j < id.length(); j++) {
                    hex.append(String.format(java.util.Locale.ROOT, "%02x", (int) id.charAt(j)));
                }
                return hex.toString();
            }
        }
        return "'" + id.trim() + "'";
    }

    private static String ascii(byte[] b, int at) {
        char[] chars = new char[4];
        for (int i = 0; i < 4; i++) {
            chars[i] = (char) (b[at + i] & 0xFF);
        }
        return new String(chars);
    }

    private static int u16(byte[] b, int at) {
        return (b[at] & 0xFF) | ((b[at + 1] & 0xFF) << 8);
    }

    private static long u32(byte[] b, int at) {
        return (b[at] & 0xFFL) | ((b[at + 1] & 0xFFL) << 8) | ((b[at + 2] & 0xFFL) << 16) | ((b[at + 3] & 0xFFL) << 24);
    }
}
