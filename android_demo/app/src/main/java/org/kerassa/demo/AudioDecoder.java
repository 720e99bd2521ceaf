package org.kerassa.demo;

import android.content.ContentResolver;
import android.content.Context;
import android.media.AudioFormat;
import android.media.MediaCodec;
import android.media.MediaExtractor;
import android.media.MediaFormat;
import android.net.Uri;

import java.io.BufferedInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Locale;
import java.util.concurrent.CancellationException;

import org.kerassa.separator.AudioBuffer;
import org.kerassa.separator.AudioFormatException;
import org.kerassa.separator.UnsupportedAudioFormatException;
import org.kerassa.separator.WavReader;

/**
 * Decodes a picked audio file into float samples, handed on in chunks as they are decoded (so
 * separation and playback can start before the end of the file is decoded).
 *
 * <p>WAV files go through separator-core's {@link WavReader} (the path the JVM tests cover,
 * sample-exact with the Python package). Anything else (MP3, AAC/M4A, Ogg Vorbis, Opus, FLAC, and
 * WAV encodings the reader refuses) is decoded by the platform's {@link MediaExtractor} and
 * {@link MediaCodec} to 16-bit or float PCM.
 */
final class AudioDecoder {
    /** Longest input accepted (a WAV input is read into memory whole; the stems are written as they come). */
    static final double MAX_SECONDS = 15 * 60;
    private static final long TIMEOUT_US = 10_000;

    private AudioDecoder() {
    }

    /** Receives the decoded audio as it comes: the format once, then consecutive chunks. */
    interface Sink {
        /** Rate, channels, and the length in frames if the container says it (else -1). */
        void format(int sampleRate, int channels, long frames) throws IOException;

        /** Frames {@code [0, frames)} of {@code samples[channel]}; the arrays are reused after the call. */
        void samples(float[][] samples, int frames) throws IOException;
    }

    /** Decodes {@code uri}, handing the samples to {@code sink} as they are decoded. */
    static void decode(Context context, Uri uri, Sink sink) throws IOException {
        ContentResolver resolver = context.getContentResolver();
        if (startsLikeWav(resolver, uri)) {
            AudioBuffer audio = null;
            try (InputStream in = open(resolver, uri)) {
                audio = WavReader.read(new BufferedInputStream(in, 1 << 16), MAX_SECONDS);
            } catch (UnsupportedAudioFormatException e) {
                // e.g. ADPCM or mu-law WAV: the platform's decoders may read it.
            }
            if (audio != null) {
                // WAV decoding is a copy: read it whole, hand it out in chunks like a codec would.
                sink.format(audio.sampleRate, audio.channels(), audio.frames());
                int chunk = 4096;
                float[][] piece = new float[audio.channels()][chunk];
                for (int start = 0; start < audio.frames(); start += chunk) {
                    int n = Math.min(chunk, audio.frames() - start);
                    for (int c = 0; c < audio.channels(); c++) {
                        System.arraycopy(audio.samples[c], start, piece[c], 0, n);
                    }
                    sink.samples(piece, n);
                }
                return;
            }
        }
        decodeWithMediaCodec(context, uri, sink);
    }

    private static InputStream open(ContentResolver resolver, Uri uri) throws IOException {
        InputStream in = resolver.openInputStream(uri);
        if (in == null) {
            throw new FileNotFoundException("cannot open " + uri);
        }
        return in;
    }

    private static boolean startsLikeWav(ContentResolver resolver, Uri uri) throws IOException {
        byte[] header = new byte[12];
        try (InputStream in = open(resolver, uri)) {
            int got = 0;
            while (got < header.length) {
                int n = in.read(header, got, header.length - got);
                if (n < 0) {
                    break;
                }
                got += n;
            }
            return got == 12 && header[0] == 'R' && header[1] == 'I' && header[2] == 'F' && header[3] == 'F'
                    && header[8] == 'W' && header[9] == 'A' && header[10] == 'V' && header[11] == 'E';
        }
    }

    private static void decodeWithMediaCodec(Context context, Uri uri, Sink sink) throws IOException {
        MediaExtractor extractor = new MediaExtractor();
        MediaCodec codec = null;
        try {
            try {
                extractor.setDataSource(context, uri, null);
            } catch (IOException e) {
                throw new AudioFormatException("unsupported or corrupt audio file (" + e.getMessage() + ")");
            }
            int track = -1;
            MediaFormat format = null;
            for (int i = 0; i < extractor.getTrackCount(); i++) {
                MediaFormat candidate = extractor.getTrackFormat(i);
                String mime = candidate.getString(MediaFormat.KEY_MIME);
                if (mime != null && mime.startsWith("audio/")) {
                    track = i;
                    format = candidate;
                    break;
                }
            }
            if (format == null) {
                throw new AudioFormatException("no audio track in this file");
            }
            if (format.containsKey(MediaFormat.KEY_DURATION) && format.getLong(MediaFormat.KEY_DURATION) > MAX_SECONDS * 1e6) {
                throw new AudioFormatException(String.format(Locale.ROOT, "too long (%.1f s; the limit is %.0f s)",
                        format.getLong(MediaFormat.KEY_DURATION) / 1e6, MAX_SECONDS));
            }
            extractor.selectTrack(track);
            String mime = format.getString(MediaFormat.KEY_MIME);
            try {
                codec = MediaCodec.createDecoderByType(mime);
            } catch (IOException | IllegalArgumentException e) {
                throw new UnsupportedAudioFormatException("no decoder for " + mime + " on this device");
            }
            codec.configure(format, null, null, 0);
            codec.start();
            int channels = format.getInteger(MediaFormat.KEY_CHANNEL_COUNT);
            int rate = format.getInteger(MediaFormat.KEY_SAMPLE_RATE);
            int encoding = AudioFormat.ENCODING_PCM_16BIT;
            long frames = format.containsKey(MediaFormat.KEY_DURATION)
                    ? Math.round(format.getLong(MediaFormat.KEY_DURATION) / 1e6 * rate) : -1;
            Pcm pcm = null;
            MediaCodec.BufferInfo info = new MediaCodec.BufferInfo();
            boolean inputDone = false;
            boolean outputDone = false;
            while (!outputDone) {
                if (Thread.currentThread().isInterrupted()) {
                    throw new CancellationException("decoding cancelled");
                }
                if (!inputDone) {
                    int index = codec.dequeueInputBuffer(TIMEOUT_US);
                    if (index >= 0) {
                        ByteBuffer buffer = codec.getInputBuffer(index);
                        int size = buffer == null ? -1 : extractor.readSampleData(buffer, 0);
                        if (size < 0) {
                            codec.queueInputBuffer(index, 0, 0, 0, MediaCodec.BUFFER_FLAG_END_OF_STREAM);
                            inputDone = true;
                        } else {
                            codec.queueInputBuffer(index, 0, size, extractor.getSampleTime(), 0);
                            extractor.advance();
                        }
                    }
                }
                int index = codec.dequeueOutputBuffer(info, TIMEOUT_US);
                if (index == MediaCodec.INFO_OUTPUT_FORMAT_CHANGED) {
                    MediaFormat output = codec.getOutputFormat();
                    channels = output.getInteger(MediaFormat.KEY_CHANNEL_COUNT);
                    rate = output.getInteger(MediaFormat.KEY_SAMPLE_RATE);
                    if (output.containsKey(MediaFormat.KEY_PCM_ENCODING)) {
                        encoding = output.getInteger(MediaFormat.KEY_PCM_ENCODING);
                    }
                } else if (index >= 0) {
                    if (info.size > 0) {
                        ByteBuffer output = codec.getOutputBuffer(index);
                        if (output != null) {
                            output.position(info.offset);
                            output.limit(info.offset + info.size);
                            if (pcm == null) {
                                // The first output fixes the format (a decoder announces changes before it).
                                pcm = new Pcm(channels, (long) (MAX_SECONDS * rate));
                                sink.format(rate, channels, frames);
                            }
                            pcm.add(output.slice().order(ByteOrder.nativeOrder()), encoding, sink);
                        }
                    }
                    codec.releaseOutputBuffer(index, false);
                    if ((info.flags & MediaCodec.BUFFER_FLAG_END_OF_STREAM) != 0) {
                        outputDone = true;
                    }
                }
            }
            if (pcm == null || pcm.frames == 0) {
                throw new AudioFormatException("no samples");
            }
        } catch (CancellationException e) {
            throw e;
        } catch (IllegalStateException | IllegalArgumentException e) {
            // MediaExtractor / MediaCodec report unreadable files this way.
            throw new AudioFormatException("unsupported or corrupt audio file (" + e.getMessage() + ")");
        } finally {
            if (codec != null) {
                try {
                    codec.stop();
                } catch (IllegalStateException ignored) {
                    // not started
                }
                codec.release();
            }
            extractor.release();
        }
    }

    /** Interleaved decoder output, converted to float channels and handed on chunk by chunk. */
    private static final class Pcm {
        final int channels;
        final long limit;
        float[][] chunk;
        long frames;

        Pcm(int channels, long limit) {
            this.channels = channels;
            this.limit = limit;
            chunk = new float[channels][4096];
        }

        void add(ByteBuffer bytes, int encoding, Sink sink) throws IOException {
            int values;
            if (encoding == AudioFormat.ENCODING_PCM_16BIT) {
                values = bytes.remaining() / 2;
            } else if (encoding == AudioFormat.ENCODING_PCM_FLOAT) {
                values = bytes.remaining() / 4;
            } else {
                throw new UnsupportedAudioFormatException("decoder output encoding " + encoding + " is not supported");
            }
            int count = values / channels;
            if (frames + count > limit) {
                throw new AudioFormatException(String.format(Locale.ROOT, "too long (the limit is %.0f s)", MAX_SECONDS));
            }
            if (count > chunk[0].length) {
                chunk = new float[channels][count];
            }
            for (int f = 0; f < count; f++) {
                for (int c = 0; c < channels; c++) {
                    chunk[c][f] = encoding == AudioFormat.ENCODING_PCM_16BIT ? bytes.getShort() / 32768f : bytes.getFloat();
                }
            }
            frames += count;
            sink.samples(chunk, count);
        }
    }
}
