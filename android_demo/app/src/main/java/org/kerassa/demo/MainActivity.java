package org.kerassa.demo;

import android.database.Cursor;
import android.media.AudioAttributes;
import android.media.MediaPlayer;
import android.net.Uri;
import android.os.Bundle;
import android.os.Handler;
import android.os.Looper;
import android.os.SystemClock;
import android.provider.OpenableColumns;
import android.widget.Button;
import android.widget.ProgressBar;
import android.widget.TextView;

import androidx.activity.ComponentActivity;
import androidx.activity.result.ActivityResultLauncher;
import androidx.activity.result.contract.ActivityResultContracts;

import java.io.BufferedOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Locale;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.kerassa.separator.Separator;
import org.kerassa.separator.SignalConfig;
import org.kerassa.separator.StreamingSeparator;
import org.kerassa.separator.WavWriter;

/**
 * The demo's one screen: pick a song, separate it on a background thread with a progress bar
 * while the accompaniment plays as it comes out, play the original, the vocals and the
 * accompaniment again, save the stems, and see how long it took.
 *
 * <p>The separation runs on a single worker thread ({@link ExecutorService}): the decoder hands
 * it chunks ({@link AudioDecoder.Sink}), which go through separator-core's
 * {@link StreamingSeparator}; the finished samples it returns go to the two stems' 16-bit WAV
 * files in the app's cache and the accompaniment to a {@link StreamingPlayback}. Playback starts
 * once the stream's latency (about a second of audio) has been decoded and separated.
 */
public class MainActivity extends ComponentActivity {
    private static final String VOCALS = "vocals.wav";
    private static final String ACCOMPANIMENT = "accompaniment.wav";

    private final ExecutorService worker = Executors.newSingleThreadExecutor();
    private final Handler main = new Handler(Looper.getMainLooper());
    private BundledModel model; // used on the worker thread only
    private Future<?> running;
    private MediaPlayer player;
    private volatile StreamingPlayback live; // the accompaniment playing while it is separated
    private Uri input;
    private String inputName = "audio";
    private boolean separated;

    private TextView modelInfo;
    private TextView fileName;
    private TextView status;
    private TextView timing;
    private ProgressBar progress;
    private Button choose;
    private Button separate;
    private Button cancel;
    private Button playOriginal;
    private Button playVocals;
    private Button playAccompaniment;
    private Button stop;
    private Button saveVocals;
    private Button saveAccompaniment;

    private ActivityResultLauncher<String[]> pickAudio;
    private ActivityResultLauncher<String> createVocals;
    private ActivityResultLauncher<String> createAccompaniment;

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        setContentView(R.layout.activity_main);
        modelInfo = findViewById(R.id.model_info);
        fileName = findViewById(R.id.file_name);
        status = findViewById(R.id.status);
        timing = findViewById(R.id.timing);
        progress = findViewById(R.id.progress);
        choose = findViewById(R.id.choose);
        separate = findViewById(R.id.separate);
        cancel = findViewById(R.id.cancel);
        playOriginal = findViewById(R.id.play_original);
        playVocals = findViewById(R.id.play_vocals);
        playAccompaniment = findViewById(R.id.play_accompaniment);
        stop = findViewById(R.id.stop);
        saveVocals = findViewById(R.id.save_vocals);
        saveAccompaniment = findViewById(R.id.save_accompaniment);

        pickAudio = registerForActivityResult(new ActivityResultContracts.OpenDocument(), this::onPicked);
        createVocals = registerForActivityResult(new ActivityResultContracts.CreateDocument("audio/wav"),
                uri -> save(VOCALS, uri));
        createAccompaniment = registerForActivityResult(new ActivityResultContracts.CreateDocument("audio/wav"),
                uri -> save(ACCOMPANIMENT, uri));

        choose.setOnClickListener(v -> pickAudio.launch(new String[] {"audio/*"}));
        separate.setOnClickListener(v -> startSeparation());
        cancel.setOnClickListener(v -> {
            if (running != null) {
                running.cancel(true);
            }
        });
        playOriginal.setOnClickListener(v -> play(input, null));
        playVocals.setOnClickListener(v -> play(null, stem(VOCALS)));
        playAccompaniment.setOnClickListener(v -> play(null, stem(ACCOMPANIMENT)));
        stop.setOnClickListener(v -> stopPlayback());
        saveVocals.setOnClickListener(v -> createVocals.launch(inputName + " (vocals).wav"));
        saveAccompaniment.setOnClickListener(v -> createAccompaniment.launch(inputName + " (accompaniment).wav"));

        // Load the model up front: a missing or mismatched model shows at once.
        worker.execute(() -> {
            try {
                BundledModel loaded = model();
                SignalConfig s = loaded.contract.signal;
                String info = getString(R.string.model_info, loaded.contract.modelName, loaded.contract.quantization,
                        s.sampleRate, s.nFft, s.hopLength);
                main.post(() -> modelInfo.setText(info));
            } catch (Exception e) {
                main.post(() -> status.setText(getString(R.string.failed, describe(e))));
            }
        });
    }

    @Override
    protected void onDestroy() {
        stopPlayback();
        if (running != null) {
            running.cancel(true);
        }
        worker.execute(() -> {
            if (model != null) {
                model.close();
                model = null;
            }
        });
        worker.shutdown();
        super.onDestroy();
    }

    private BundledModel model() throws IOException {
        if (model == null) {
            int threads = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
            model = BundledModel.load(this, threads);
        }
        return model;
    }

    private File stem(String name) {
        return new File(getCacheDir(), name);
    }

    private void onPicked(Uri uri) {
        if (uri == null) {
            return;
        }
        stopPlayback();
        input = uri;
        inputName = displayName(uri);
        separated = false;
        fileName.setText(getString(R.string.chosen, inputName));
        status.setText("");
        timing.setText("");
        progress.setProgress(0);
        updateButtons(false);
    }

    private String displayName(Uri uri) {
        String name = null;
        try (Cursor cursor = getContentResolver().query(uri, new String[] {OpenableColumns.DISPLAY_NAME}, null, null, null)) {
            if (cursor != null && cursor.moveToFirst()) {
                name = cursor.getString(0);
            }
        } catch (RuntimeException ignored) {
            // some providers refuse queries: fall back to the URI's last segment
        }
        if (name == null) {
            name = uri.getLastPathSegment() != null ? uri.getLastPathSegment() : "audio";
        }
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }

    private void updateButtons(boolean busy) {
        choose.setEnabled(!busy);
        separate.setEnabled(!busy && input != null);
        cancel.setEnabled(busy);
        playOriginal.setEnabled(input != null);
        playVocals.setEnabled(!busy && separated);
        playAccompaniment.setEnabled(!busy && separated);
        stop.setEnabled(player != null || live != null);
        saveVocals.setEnabled(!busy && separated);
        saveAccompaniment.setEnabled(!busy && separated);
    }

    private void startSeparation() {
        final Uri uri = input;
        if (uri == null) {
            return;
        }
        stopPlayback();
        separated = false;
        updateButtons(true);
        timing.setText("");
        progress.setIndeterminate(true);
        status.setText(R.string.loading_model);
        running = worker.submit(() -> {
            LiveSeparation session = null;
            try {
                BundledModel loaded = model();
                main.post(() -> status.setText(R.string.decoding));
                double modelBefore = loaded.masks.modelSeconds();
                long callsBefore = loaded.masks.calls();
                session = new LiveSeparation(loaded.separator);
                AudioDecoder.decode(this, uri, session);
                session.finish();
                double seconds = (SystemClock.elapsedRealtimeNanos() - session.started) / 1e9;
                double audioSeconds = session.stream.released() / (double) session.stream.sampleRate;
                double modelSeconds = loaded.masks.modelSeconds() - modelBefore;
                long calls = loaded.masks.calls() - callsBefore;
                String report = getString(R.string.result, duration(audioSeconds), session.stream.sampleRate,
                        session.stream.channels, duration(seconds), String.format(Locale.ROOT, "%.3f", seconds / audioSeconds),
                        duration(session.decodeSeconds()), duration(modelSeconds), calls,
                        String.format(Locale.ROOT, "%.0f ms", calls == 0 ? 0 : 1000 * modelSeconds / calls),
                        duration(seconds - modelSeconds - session.decodeSeconds()))
                        + getString(R.string.first_sound, duration(session.firstSoundSeconds()),
                                duration(session.stream.latency() / (double) session.stream.sampleRate));
                main.post(() -> {
                    separated = true;
                    progress.setProgress(progress.getMax());
                    status.setText("");
                    timing.setText(report);
                });
            } catch (CancellationException e) {
                main.post(() -> status.setText(R.string.cancelled));
            } catch (Exception | OutOfMemoryError e) {
                main.post(() -> status.setText(getString(R.string.failed, describe(e))));
            } finally {
                if (session != null && !session.finished) {
                    session.abandon();
                }
                main.post(() -> {
                    progress.setIndeterminate(false);
                    running = null;
                    updateButtons(false);
                });
            }
        });
    }

    /**
     * One separation as the decoder feeds it: the stream, the two stems' WAV files (open-ended,
     * completed at the end) and the live playback of the accompaniment. Runs on the worker thread.
     */
    private final class LiveSeparation implements AudioDecoder.Sink {
        final Separator separator;
        final long started = SystemClock.elapsedRealtimeNanos();
        final File vocalsPartial = new File(getCacheDir(), VOCALS + ".partial");
        final File accompanimentPartial = new File(getCacheDir(), ACCOMPANIMENT + ".partial");
        StreamingSeparator stream;
        WavWriter vocals;
        WavWriter accompaniment;
        StreamingPlayback playback;
        long expectedFrames = -1;
        long firstSound = -1;
        long decodeNanos;
        long decodeMark = started;
        boolean finished;

        LiveSeparation(Separator separator) {
            this.separator = separator;
        }

        @Override
        public void format(int sampleRate, int channels, long frames) throws IOException {
            decodeNanos += SystemClock.elapsedRealtimeNanos() - decodeMark;
            stream = separator.stream(sampleRate, channels);
            expectedFrames = frames;
            vocals = WavWriter.openEnded(new BufferedOutputStream(new FileOutputStream(vocalsPartial), 1 << 16),
                    sampleRate, channels, WavWriter.Encoding.PCM_16);
            accompaniment = WavWriter.openEnded(new BufferedOutputStream(new FileOutputStream(accompanimentPartial), 1 << 16),
                    sampleRate, channels, WavWriter.Encoding.PCM_16);
            playback = new StreamingPlayback(sampleRate, channels);
            live = playback;
            main.post(() -> {
                progress.setIndeterminate(expectedFrames <= 0);
                progress.setProgress(0);
                updateButtons(true);
            });
            decodeMark = SystemClock.elapsedRealtimeNanos();
        }

        @Override
        public void samples(float[][] samples, int frames) throws IOException {
            decodeNanos += SystemClock.elapsedRealtimeNanos() - decodeMark;
            emit(stream.process(samples, 0, frames));
            decodeMark = SystemClock.elapsedRealtimeNanos();
        }

        void finish() throws IOException {
            if (stream == null) {
                throw new IOException("no audio in this file");
            }
            decodeNanos += SystemClock.elapsedRealtimeNanos() - decodeMark;
            emit(stream.flush());
            playback.end();
            vocals.close();
            accompaniment.close();
            int rate = stream.sampleRate;
            WavWriter.fixLength(vocalsPartial, rate, stream.channels, vocals.written(), WavWriter.Encoding.PCM_16);
            WavWriter.fixLength(accompanimentPartial, rate, stream.channels, accompaniment.written(), WavWriter.Encoding.PCM_16);
            if (!vocalsPartial.renameTo(stem(VOCALS)) || !accompanimentPartial.renameTo(stem(ACCOMPANIMENT))) {
                throw new IOException("cannot write the stems in the app's cache");
            }
            finished = true;
        }

        /** Stops the playback and deletes the unfinished stems (cancelled or failed). */
        void abandon() {
            if (playback != null) {
                playback.stop();
            }
            for (WavWriter writer : new WavWriter[] {vocals, accompaniment}) {
                try {
                    if (writer != null) {
                        writer.close();
                    }
                } catch (IOException ignored) {
                    // deleted below
                }
            }
            vocalsPartial.delete();
            accompanimentPartial.delete();
        }

        double decodeSeconds() {
            return decodeNanos / 1e9;
        }

        double firstSoundSeconds() {
            return firstSound < 0 ? 0 : (firstSound - started) / 1e9;
        }

        private void emit(Separator.Stems piece) throws IOException {
            int n = piece.vocals.frames();
            if (n == 0) {
                return;
            }
            vocals.write(piece.vocals.samples, 0, n);
            accompaniment.write(piece.accompaniment.samples, 0, n);
            playback.write(piece.accompaniment.samples, n);
            if (firstSound < 0) {
                firstSound = SystemClock.elapsedRealtimeNanos();
            }
            long done = stream.released();
            int permille = expectedFrames > 0 ? (int) Math.min(1000, 1000 * done / expectedFrames) : 0;
            String text = expectedFrames > 0 ? getString(R.string.separating, permille / 10)
                    : getString(R.string.separating_seconds, duration(done / (double) stream.sampleRate));
            main.post(() -> {
                progress.setProgress(permille);
                status.setText(text);
            });
        }
    }

    private void play(Uri uri, File file) {
        stopPlayback();
        MediaPlayer next = new MediaPlayer();
        next.setAudioAttributes(new AudioAttributes.Builder()
                .setUsage(AudioAttributes.USAGE_MEDIA)
                .setContentType(AudioAttributes.CONTENT_TYPE_MUSIC)
                .build());
        try {
            if (uri != null) {
                next.setDataSource(this, uri);
            } else {
                next.setDataSource(file.getPath());
            }
        } catch (IOException | RuntimeException e) {
            next.release();
            status.setText(getString(R.string.failed, describe(e)));
            return;
        }
        next.setOnPreparedListener(MediaPlayer::start);
        next.setOnCompletionListener(done -> stopPlayback());
        next.setOnErrorListener((failed, what, extra) -> {
            stopPlayback();
            return true;
        });
        player = next;
        next.prepareAsync();
        updateButtons(running != null);
    }

    private void stopPlayback() {
        if (player != null) {
            player.release();
            player = null;
        }
        StreamingPlayback playing = live;
        if (playing != null) {
            playing.stop();
            live = null;
        }
        if (stop != null) {
            updateButtons(running != null);
        }
    }

    private void save(String stemName, Uri target) {
        if (target == null) {
            return;
        }
        File source = stem(stemName);
        worker.execute(() -> {
            try (InputStream in = new FileInputStream(source); OutputStream out = getContentResolver().openOutputStream(target)) {
                if (out == null) {
                    throw new IOException("cannot open " + target);
                }
                byte[] buffer = new byte[1 << 16];
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    out.write(buffer, 0, n);
                }
                main.post(() -> status.setText(R.string.saved));
            } catch (IOException e) {
                main.post(() -> status.setText(getString(R.string.failed, describe(e))));
            }
        });
    }

    private static String describe(Throwable e) {
        if (e instanceof OutOfMemoryError) {
            return "not enough memory for this file (try a shorter one)";
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    private static String duration(double seconds) {
        return String.format(Locale.ROOT, seconds < 10 ? "%.2f s" : "%.1f s", seconds);
    }
}
