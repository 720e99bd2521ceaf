/**
 * The model behind the separator: a LiteRT.js compiled model run window by window.
 *
 * The twin of the Java core's ContractMaskModel: float features of one window in, float masks
 * out, laid out as the contract says ([1, patch_frames, n_bins, 1] in, [1, patch_frames, n_bins,
 * n_sources] out). Only float input and output tensors are supported: LiteRT.js's public Tensor
 * API rejects int8 tensors, so the int8 conversion cannot be fed from JavaScript.
 */

let liteRt = null;

/**
 * Imports LiteRT.js and loads its single-threaded WebAssembly build.
 *
 * Its dist/index.js imports the bare name "@litertjs/wasm-utils". Import maps do not apply in
 * workers, so the module is imported from a Blob with that one name resolved to its file.
 *
 * @param {string|URL} nodeModules URL of the node_modules folder.
 * @param {{threads?: boolean}} options threads: the threaded build (needs cross-origin isolation).
 */
export async function loadLiteRtRuntime(nodeModules, options = {}) {
  if (liteRt) return liteRt;
  const base = new URL(nodeModules, self.location.href);
  const core = new URL('@litertjs/core/dist/index.js', base);
  const utils = new URL('@litertjs/wasm-utils/dist/index.js', base);
  const response = await fetch(core);
  if (!response.ok) throw new Error(`LiteRT.js is missing (${core.pathname}: HTTP ${response.status}); run npm ci in web_demo`);
  const source = (await response.text()).replace('from "@litertjs/wasm-utils"', `from ${JSON.stringify(utils.href)}`);
  const url = URL.createObjectURL(new Blob([source], {type: 'text/javascript'}));
  try {
    liteRt = await import(url);
  } finally {
    URL.revokeObjectURL(url);
  }
  const wasm = new URL('@litertjs/core/wasm/', base).href;
  // Emscripten looks for the .wasm beside the worker's script unless told where it is. Its
  // start-up log lines (INFO, WARNING) go to stderr, which the browser shows as console errors:
  // they are debug output here. Failures reach the page as exceptions.
  self.Module = {locateFile: (file) => new URL(file, wasm).href, printErr: (line) => console.debug(`LiteRT: ${line}`)};
  await liteRt.loadLiteRt(wasm, {threads: Boolean(options.threads)});
  return liteRt;
}

/** A compiled .tflite model that maps one window's features to its masks. */
export class LiteRtMaskModel {
  /**
   * @param {object} compiled the LiteRT.js CompiledModel.
   * @param {object} contract the model's contract (the .json beside the .tflite).
   */
  constructor(compiled, contract) {
    this.compiled = compiled;
    this.contract = contract;
    this.inputShape = contract.input.shape;
    this.outputShape = contract.output.shape;
  }

  /**
   * Loads and compiles a model for the CPU (WebAssembly, XNNPACK).
   *
   * @param {ArrayBuffer|Uint8Array} bytes the .tflite file.
   * @param {object} contract its contract.
   * @param {{threads?: number}} options threads: CPU threads of the interpreter (1 by default).
   */
  static async load(bytes, contract, options = {}) {
    for (const tensor of [contract.input, contract.output]) {
      if (tensor.dtype !== 'float32') {
        throw new Error(`the browser runs float models only; this model's ${tensor.name} is ${tensor.dtype}`);
      }
    }
    if (!liteRt) throw new Error('loadLiteRtRuntime() first');
    const compiled = await liteRt.loadAndCompile(new Uint8Array(bytes), {
      accelerator: 'wasm',
      cpuOptions: {numThreads: options.threads ?? 1},
    });
    return new LiteRtMaskModel(compiled, contract);
  }

  /**
   * Runs one window.
   *
   * @param {Float32Array} features patch_frames * n_bins features, frame-major.
   * @returns {Promise<Float32Array>} patch_frames * n_bins * n_sources masks, frame-major, sources last.
   */
  async predict(features) {
    const input = new liteRt.Tensor(features, this.inputShape);
    let outputs = null;
    try {
      outputs = await this.compiled.run(input);
      return new Float32Array(outputs[0].toTypedArray());
    } finally {
      input.delete();
      if (outputs) for (const tensor of outputs) tensor.delete();
    }
  }

  delete() {
    this.compiled.delete();
  }
}
