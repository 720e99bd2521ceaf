package org.kerassa.demo;

import android.media.AudioAttributes;
import android.media.AudioFormat;
import android.media.AudioTrack;

import java.util.concurrent.LinkedBlockingQueue;

import org.kerassa.separator.WavWriter;

/**
 * Plays audio handed to it piece by piece, as it is produced: an {@link AudioTrack} in streaming
 * mode fed by a thread of its own, so that the producer (the separation) never waits for the
 * playback and runs as fast as it can. Pieces wait in a queue as 16-bit PCM until played: at most
 * what the producer is ahead of the playback (10.6 MB per minute of stereo 44.1 kHz).
 * Recordings of more than two channels play their first two.
 */
final class StreamingPlayback {
    private static final short[] END = new short[0];

    private final LinkedBlockingQueue<short[]> queue = new LinkedBlockingQueue<>();
    private final AudioTrack track;
    private final int channels;
    private final Thread thread;
    private volatile boolean stopped;

    StreamingPlayback(int sampleRate, int inputChannels) {
        channels = Math.min(inputChannels, 2);
        int mask = channels == 1 ? AudioFormat.CHANNEL_OUT_MONO : AudioFormat.CHANNEL_OUT_STEREO;
        int minimum = AudioTrack.getMinBufferSize(sampleRate, mask, AudioFormat.ENCODING_PCM_16BIT);
        track = new AudioTrack.Builder()
                .setAudioAttributes(new AudioAttributes.Builder()
                        .setUsage(AudioAttributes.USAGE_MEDIA)
                        .setContentType(AudioAttributes.CONTENT_TYPE_MUSIC)
                        .build())
                .setAudioFormat(new AudioFormat.Builder()
                        .setSampleRate(sampleRate)
                        .setChannelMask(mask)
                        .setEncoding(AudioFormat.ENCODING_PCM_16BIT)
                        .build())
                .setTransferMode(AudioTrack.MODE_STREAM)
                .setBufferSizeInBytes(Math.max(minimum, 0) * 2) // small: playback follows the separation closely
                .build();
        thread = new Thread(this::play, "accompaniment playback");
        thread.start();
    }

    /** Queues frames {@code [0, frames)} of {@code samples} for playback (copied). */
    void write(float[][] samples, int frames) {
        if (frames > 0 && !stopped) {
            queue.add(WavWriter.interleavePcm16(samples, 0, frames, channels));
        }
    }

    /** No more audio: what is queued still plays, then the track stops. */
    void end() {
        queue.add(END);
    }

    /** Stops within one track buffer (a blocked write returns as the buffer plays); the thread releases the track. */
    void stop() {
        stopped = true;
        thread.interrupt();
    }

    private void play() {
        long frames = 0;
        try {
            track.play();
            while (!stopped) {
                short[] piece = queue.take();
                if (piece == END) {
                    // Streaming mode: stop() plays what the track still holds, then stops.
                    track.stop();
                    waitUntilPlayed(frames);
                    return;
                }
                for (int at = 0; at < piece.length && !stopped; ) {
                    int written = track.write(piece, at, piece.length - at);
                    if (written < 0) {
                        return; // the track failed (e.g. the audio device went away)
                    }
                    at += written;
                }
                frames += piece.length / channels;
            }
        } catch (InterruptedException e) {
            // stop(): fall through to release
        } finally {
            track.release();
        }
    }

    /** Waits until the playback head reaches {@code frames}, or stops moving for a second. */
    private void waitUntilPlayed(long frames) throws InterruptedException {
        long last = -1;
        int still = 0;
        while (!stopped && still < 10) {
            long head = track.getPlaybackHeadPosition() & 0xFFFFFFFFL;
            if (head >= frames) {
                return;
            }
            still = head == last ? still + 1 : 0;
            last = head;
            Thread.sleep(100);
        }
    }
}
