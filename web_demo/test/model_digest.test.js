// The contract's model_sha256: the page checks the fetched .tflite against it before creating the
// model, as the Python loader and the Java core do.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {test} from 'node:test';

import {ContractError, parseContract, verifyModel} from '../js/contract.js';

const models = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../tflite/models');
const MISMATCH = 'the model file does not match its contract (SHA-256 differs: corrupt or replaced)';

function committed(name) {
  return {
    contract: JSON.parse(fs.readFileSync(path.join(models, `${name}.json`), 'utf8')),
    model: new Uint8Array(fs.readFileSync(path.join(models, `${name}.tflite`))),
  };
}

test('every committed model matches the digest in its contract', async () => {
  const names = fs.readdirSync(models).filter((f) => f.endsWith('.tflite')).map((f) => f.slice(0, -'.tflite'.length));
  assert.ok(names.length >= 2);
  for (const name of names) {
    const {contract, model} = committed(name);
    const parsed = parseContract(contract);
    assert.match(parsed.modelSha256, /^[0-9a-f]{64}$/);
    await verifyModel(model, parsed, `${name}.tflite`);
    await verifyModel(model.buffer.slice(model.byteOffset, model.byteOffset + model.byteLength), parsed, `${name}.tflite`);
  }
});

test('a model with one byte changed, or cut short, is refused in one line naming the file', async () => {
  const {contract, model} = committed('sa_shn_mobile_dynamic');
  const parsed = parseContract(contract);
  const flipped = model.slice();
  flipped[flipped.length >> 1] ^= 1; // inside the weights
  await assert.rejects(verifyModel(flipped, parsed, 'model.tflite'),
    (error) => error instanceof ContractError && error.message === `model.tflite: ${MISMATCH}`);
  await assert.rejects(verifyModel(model.subarray(0, model.length - 1), parsed, 'model.tflite'), ContractError);
});

test('a contract without model_sha256 still loads; a malformed one is refused', async () => {
  const {contract} = committed('sa_shn_mobile_dynamic');
  const digest = contract.model_sha256;
  delete contract.model_sha256;
  const old = parseContract(contract);
  assert.equal(old.modelSha256, null);
  await verifyModel(new Uint8Array([1, 2, 3]), old, 'model.tflite'); // nothing to check against
  for (const bad of [digest.toUpperCase(), digest.slice(1), `${digest}0`, `z${digest.slice(1)}`, '', 42, null, [digest]]) {
    assert.throws(() => parseContract({...contract, model_sha256: bad}),
      (error) => error instanceof ContractError && error.message === 'model_sha256 must be 64 lowercase hexadecimal digits',
      JSON.stringify(bad));
  }
});
