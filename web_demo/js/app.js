// The page: input checks and decoding, the worker that separates, live playback, results.

import {declaredSampleRate} from './audio_info.js';
import {Spectrogram, drawSpectrogram} from './spectrogram.js';
import {WavError, decodeWav, interleave, truncation, wavHeader} from './wav.js';

/** Recordings this long or longer are refused before they are decoded (memory: three copies of the samples). */
export const MAX_SECONDS = 3600;
/** Input per worker step: how often progress and live audio arrive. */
const CHUNK_SECONDS = 1;
const HEAD_BYTES = 1 << 20;
/** The decoding rate of formats whose rate audio_info.js does not read (AAC/M4A, say). */
const FALLBACK_RATE = 48000;

/** The demo songs' licences: shown whenever one of them is opened. */
const ATTRIBUTIONS = {
  'Karissa_Hobbs_-_Lets_Go_Fishin': '"Let\'s Go Fishin\'" by Karissa Hobbs, from the Free Music Archive, licensed CC BY 3.0.',
  'Steven_M_Bryant_-_Slow_Motion_Dream': '"Slow Motion Dream" by Steven M Bryant ft. CSoul, Alex Beroza and Robert Siekawitch, from ccMixter, licensed CC BY 3.0.',
};

const $ = (id) => document.getElementById(id);

/** What the page is doing, for people (the status line) and for tests (window.kerasSa). */
const page = (window.kerasSa = {phase: 'loading', error: null, model: null, input: null, stems: null, stats: null});

class InputError extends Error {}

// ---------------------------------------------------------------------------------------------
// The worker

let worker = null;
let workerReady = null;
let onWorkerMessage = null;

function startWorker() {
  worker = new Worker(new URL('./worker.js', import.meta.url));
  workerReady = new Promise((resolve, reject) => {
    onWorkerMessage = ({data}) => (data.type === 'ready' ? resolve(data) : data.type === 'error' && reject(new Error(data.message)));
  });
  worker.onmessage = (event) => onWorkerMessage(event);
  worker.postMessage({
    type: 'load',
    model: new URL('model/model.tflite', location.href).href,
    contract: new URL('model/model.json', location.href).href,
    nodeModules: new URL('node_modules/', location.href).href,
    threads: 1,
  });
  return workerReady;
}

// ---------------------------------------------------------------------------------------------
// Input: checked, then decoded at the rate the file declares

/** The duration the browser's media pipeline reads from the file's headers, without decoding it. */
function probeDuration(file) {
  return new Promise((resolve, reject) => {
    const audio = document.createElement('audio');
    const url = URL.createObjectURL(file);
    const done = (f) => (value) => {
      clearTimeout(timer);
      audio.removeAttribute('src');
      URL.revokeObjectURL(url);
      f(value);
    };
    const timer = setTimeout(done(resolve), 15000, NaN);
    audio.preload = 'metadata';
    audio.onloadedmetadata = () => done(resolve)(audio.duration);
    audio.onerror = () => done(reject)(new InputError(`${file.name}: not an audio file this browser can decode`));
    audio.src = url;
  });
}

function tooLong(name, seconds) {
  return new InputError(`${name}: too long (${seconds.toFixed(1)} s; the limit is ${MAX_SECONDS} s)`);
}

/**
 * Checks and decodes a file.
 *
 * @returns {Promise<{name: string, sampleRate: number, channels: Float32Array[]}>}
 * @throws {InputError} with the one line the page shows.
 */
async function readInput(file) {
  const name = file.name;
  if (file.size === 0) throw new InputError(`${name}: empty file`);
  const head = new Uint8Array(await file.slice(0, HEAD_BYTES).arrayBuffer());
  const reason = truncation(head, file.size);
  if (reason) throw new InputError(`${name}: ${reason}`);
  // The file is read while the media pipeline reads its duration.
  const [duration, bytes] = await Promise.all([probeDuration(file), file.arrayBuffer()]);
  if (duration >= MAX_SECONDS) throw tooLong(name, duration);
  let decoded = null;
  try {
    decoded = decodeWav(new Uint8Array(bytes)); // WAV: the samples libsndfile gives
  } catch (error) {
    if (!(error instanceof WavError)) throw error;
  }
  if (!decoded) {
    let rate = declaredSampleRate(head);
    if (!(rate >= 8000 && rate <= 384000)) rate = FALLBACK_RATE;
    try {
      const buffer = await new OfflineAudioContext(1, 1, rate).decodeAudioData(bytes);
      decoded = {sampleRate: buffer.sampleRate, channels: Array.from({length: buffer.numberOfChannels}, (_, c) => buffer.getChannelData(c))};
    } catch (error) {
      throw new InputError(`${name}: unsupported or corrupt audio file (the browser cannot decode it)`);
    }
  }
  const frames = decoded.channels[0]?.length ?? 0;
  if (!frames) throw new InputError(`${name}: no samples`);
  if (frames / decoded.sampleRate >= MAX_SECONDS) throw tooLong(name, frames / decoded.sampleRate);
  for (const channel of decoded.channels) {
    for (let i = 0; i < channel.length; i++) {
      if (!Number.isFinite(channel[i])) throw new InputError(`${name}: contains NaN or infinite samples`);
    }
  }
  return {name, ...decoded};
}

// ---------------------------------------------------------------------------------------------
// Separation, with live playback of the accompaniment

let live = null; // {context, next}: the audio context and when the next piece starts

function playLive(accompaniment, sampleRate, startedAt) {
  if (!live) {
    const context = new AudioContext({latencyHint: 'playback'});
    live = {context, next: context.currentTime + 0.05};
    // Without a user gesture since the page loaded (a dropped file), the browser holds the
    // audio until the next click.
    if (context.state === 'suspended') document.addEventListener('click', () => context.resume(), {once: true});
  }
  const {context} = live;
  const buffer = new AudioBuffer({numberOfChannels: accompaniment.length, length: accompaniment[0].length, sampleRate});
  accompaniment.forEach((samples, c) => buffer.copyToChannel(samples, c));
  const source = new AudioBufferSourceNode(context, {buffer});
  source.connect(context.destination);
  live.next = Math.max(live.next, context.currentTime + 0.02);
  source.start(live.next);
  live.next += buffer.duration;
  if (page.stats.firstAudioMs === null) {
    page.stats.firstAudioMs = performance.now() - startedAt + 1000 * (live.next - buffer.duration - context.currentTime);
  }
}

function stopLive() {
  if (live) live.context.close();
  live = null;
}

function separate(input, pickedAt, decodedAt) {
  const {sampleRate, channels} = input;
  const total = channels[0].length;
  const stems = {vocals: channels.map(() => new Float32Array(total)), accompaniment: channels.map(() => new Float32Array(total))};
  // The WAV files' data, encoded as the stems arrive (the page's thread is free meanwhile).
  stems.wavData = {vocals: [], accompaniment: []};
  // The stems' spectrograms, drawn as they arrive (shown with the results).
  const spectrograms = ['vocals', 'accompaniment'].map((stem) => new Spectrogram($(`spec-${stem}`), stems[stem], sampleRate));
  const startedAt = performance.now();
  // modelWaitMs: how long the decoded song waited for LiteRT.js and the model to finish loading.
  page.stats = {seconds: total / sampleRate, decodeMs: decodedAt - pickedAt, modelWaitMs: startedAt - decodedAt,
    firstAudioMs: null, separateMs: null, modelMs: null, windows: 0};
  const playing = $('live').checked;
  let liveFailed = false;
  return new Promise((resolve, reject) => {
    onWorkerMessage = ({data}) => {
      if (data.type === 'stems') {
        data.vocals.forEach((v, c) => stems.vocals[c].set(v, data.start));
        data.accompaniment.forEach((a, c) => stems.accompaniment[c].set(a, data.start));
        // As Blobs: the browser stores each piece now, so the files at the end are only joined.
        stems.wavData.vocals.push(new Blob([interleave(data.vocals)]));
        stems.wavData.accompaniment.push(new Blob([interleave(data.accompaniment)]));
        for (const spectrogram of spectrograms) spectrogram.draw(data.start + data.vocals[0].length);
        if (playing && !liveFailed) {
          try {
            playLive(data.accompaniment, sampleRate, pickedAt);
          } catch (error) {
            // A rate the audio output cannot take: the separation goes on without live audio.
            liveFailed = true;
            console.warn(`live playback is off: ${error.message}`);
          }
        }
      } else if (data.type === 'progress') {
        const speed = data.done / sampleRate / (data.elapsedMs / 1000);
        $('progress').value = data.done / data.total;
        $('status').textContent = `Separating: ${(data.done / sampleRate).toFixed(0)} s of ${(total / sampleRate).toFixed(0)} s, ${speed.toFixed(1)}x real time`;
      } else if (data.type === 'done') {
        Object.assign(page.stats, {separateMs: data.elapsedMs, modelMs: data.modelMs, windows: data.windows, latency: data.latency});
        for (const spectrogram of spectrograms) spectrogram.draw(total);
        resolve(stems);
      } else if (data.type === 'error') {
        reject(new Error(data.message));
      }
    };
    // A copy goes to the worker, moved rather than cloned: the page keeps the mixture for its
    // spectrogram, drawn while the worker separates.
    const copies = channels.map((c) => c.slice());
    worker.postMessage({type: 'separate', sampleRate, channels: copies, chunkSeconds: CHUNK_SECONDS}, copies.map((c) => c.buffer));
    setTimeout(() => drawSpectrogram($('spec-mixture'), channels, sampleRate));
  });
}

/** Counts the files picked (and Cancel): a file's work goes on only while it is the current one. */
let current = 0;

function cancel() {
  current++;
  worker.terminate();
  stopLive();
  page.phase = 'cancelled';
  $('status').textContent = 'Cancelled.';
  $('cancel').disabled = true;
  startWorker().catch(showFatal);
}

// ---------------------------------------------------------------------------------------------
// The page

function showError(message) {
  page.error = message;
  $('error').textContent = message ?? '';
  $('error').hidden = !message;
}

function showFatal(error) {
  page.phase = 'error';
  showError(`The separator could not start: ${error.message}`);
}

function baseName(name) {
  return name.replace(/\.[^.]*$/, '');
}

function showResults(input, stems) {
  const base = baseName(input.name);
  for (const stem of ['vocals', 'accompaniment']) {
    const header = wavHeader(input.channels.length, input.sampleRate, input.channels[0].length);
    const url = URL.createObjectURL(new Blob([header, ...stems.wavData[stem]], {type: 'audio/wav'}));
    $(`${stem}-player`).src = url;
    $(`${stem}-download`).href = url;
    $(`${stem}-download`).download = `${base}_${stem}.wav`;
  }
  $('results').hidden = false;
}

async function handleFile(file) {
  if (!file) return;
  if (page.phase === 'separating' || page.phase === 'decoding') cancel();
  const run = ++current;
  const pickedAt = performance.now();
  showError(null);
  stopLive();
  $('results').hidden = true;
  $('work').hidden = false;
  $('progress').value = 0;
  $('cancel').disabled = false;
  const key = Object.keys(ATTRIBUTIONS).find((k) => file.name.startsWith(k));
  $('attribution').textContent = key ? `Audio: ${ATTRIBUTIONS[key]}` : '';
  $('attribution').hidden = !key;
  page.phase = 'decoding';
  page.input = page.stems = null;
  $('status').textContent = 'Decoding…';
  $('input-info').textContent = file.name;
  try {
    const input = await readInput(file);
    const decodedAt = performance.now();
    if (run !== current) return; // cancelled, or another file picked, while it was decoded
    page.input = input;
    const seconds = input.channels[0].length / input.sampleRate;
    $('input-info').textContent = `${file.name}: ${seconds.toFixed(1)} s, ${input.sampleRate} Hz, ${input.channels.length} channel${input.channels.length > 1 ? 's' : ''}`;
    await workerReady;
    if (run !== current) return;
    page.phase = 'separating';
    const stems = await separate(input, pickedAt, decodedAt);
    page.stems = stems;
    page.phase = 'done';
    $('cancel').disabled = true;
    const s = page.stats;
    $('progress').value = 1;
    $('status').textContent = `Done: ${s.seconds.toFixed(1)} s separated in ${(s.separateMs / 1000).toFixed(1)} s ` +
      `(${(s.seconds / (s.separateMs / 1000)).toFixed(1)}x real time; the model ${(s.modelMs / 1000).toFixed(1)} s for ${s.windows} windows)` +
      (s.firstAudioMs !== null ? `; the accompaniment started ${(s.firstAudioMs / 1000).toFixed(2)} s after the file was picked.` : '.');
    const shown = performance.now();
    showResults(input, stems);
    s.resultsMs = performance.now() - shown;
  } catch (error) {
    if (run !== current) return;
    page.phase = 'error';
    $('work').hidden = true;
    showError(error instanceof InputError ? error.message : `${file.name}: ${error.message}`);
  }
}

function main() {
  $('file').addEventListener('change', (e) => {
    handleFile(e.target.files[0]);
    e.target.value = ''; // picking the same file again starts again
  });
  $('cancel').addEventListener('click', () => cancel());
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    handleFile(e.dataTransfer.files[0]);
  });
  startWorker()
    .then((model) => {
      page.model = model;
      if (page.phase === 'loading') page.phase = 'idle'; // a file picked meanwhile keeps its phase
      $('model-info').textContent = `Model: ${model.modelName} (${model.quantization} TFLite), LiteRT.js on one WebAssembly thread, ${model.modelRate / 1000} kHz inside.`;
    })
    .catch(showFatal);
}

main();
