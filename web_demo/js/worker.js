// The separation, off the page's thread: LiteRT.js and the streaming separator in a Web Worker.
//
// A classic worker (not a module one): LiteRT.js loads its WebAssembly glue with importScripts,
// which module workers lack. Our modules are imported dynamically.
//
// Messages in:  {type: 'load', model, contract, nodeModules, threads}
//               {type: 'separate', sampleRate, channels: Float32Array[], chunkSeconds}
// Messages out: {type: 'ready', quantization, modelName, modelRate, runtimeMs, loadMs}  {type: 'error', message}
//               {type: 'stems', start, vocals, accompaniment}  (planar Float32Arrays, transferred)
//               {type: 'progress', done, total, elapsedMs, modelMs, windows}
//               {type: 'done', elapsedMs, modelMs, windows, latency}
// Cancelling is terminating this worker: the page starts a new one.

let separatorParts = null;

async function load({model, contract, nodeModules, threads}) {
  const started = performance.now();
  const [{loadLiteRtRuntime, LiteRtMaskModel}, {parseContract, verifyModel}, {StreamingSeparator}] = await Promise.all([
    import('./model.js'), import('./contract.js'), import('./streaming.js')]);
  const parsed = parseContract(await (await fetch(contract)).json());
  await loadLiteRtRuntime(nodeModules, {threads: threads > 1});
  const runtimeMs = performance.now() - started;
  const response = await fetch(model);
  if (!response.ok) throw new Error(`the model could not be loaded (HTTP ${response.status})`);
  const bytes = await response.arrayBuffer();
  await verifyModel(bytes, parsed, decodeURIComponent(new URL(model).pathname.split('/').pop()));
  const maskModel = await LiteRtMaskModel.load(bytes, parsed.json, {threads});
  separatorParts = {contract: parsed, model: new TimedModel(maskModel), StreamingSeparator};
  return {type: 'ready', quantization: parsed.quantization, modelName: parsed.modelName,
    modelRate: parsed.signal.sampleRate, runtimeMs, loadMs: performance.now() - started};
}

/** The model, timed: how much of the work is LiteRT's. */
class TimedModel {
  constructor(model) {
    this.model = model;
    this.ms = 0;
  }

  async predict(features) {
    const start = performance.now();
    try {
      return await this.model.predict(features);
    } finally {
      this.ms += performance.now() - start;
    }
  }
}

async function separate({sampleRate, channels, chunkSeconds}) {
  const {contract, model, StreamingSeparator} = separatorParts;
  const stream = new StreamingSeparator(contract.signal, model, sampleRate, channels.length);
  const total = channels[0].length;
  const chunk = Math.max(1, Math.round(chunkSeconds * sampleRate));
  const started = performance.now();
  model.ms = 0;
  let start = 0;
  const send = ({vocals, accompaniment}) => {
    const count = vocals[0].length; // read before the transfer empties the arrays
    if (!count) return;
    postMessage({type: 'stems', start, vocals, accompaniment}, [...vocals, ...accompaniment].map((a) => a.buffer));
    start += count;
  };
  for (let first = 0; first < total; first += chunk) {
    send(await stream.process(channels.map((c) => c.subarray(first, first + chunk))));
    postMessage({type: 'progress', done: Math.min(first + chunk, total), total,
      elapsedMs: performance.now() - started, modelMs: model.ms, windows: stream.windows});
  }
  send(await stream.flush());
  return {type: 'done', elapsedMs: performance.now() - started, modelMs: model.ms, windows: stream.windows,
    latency: stream.latency};
}

onmessage = async ({data}) => {
  try {
    if (data.type === 'load') postMessage(await load(data));
    else if (data.type === 'separate') postMessage(await separate(data));
  } catch (error) {
    postMessage({type: 'error', message: error?.message ?? String(error)});
  }
};
