/**
 * Model directories never lose a run's own work: pruning keeps to the run's lineage, a new run refuses a
 * directory holding another run's checkpoints unless told to replace them, non-finite weights are never
 * written, and a roll-back points model.json at a checkpoint from before a divergence.
 */
import assert from "node:assert/strict";
import { DataError } from "../../base/errors.ts";
import { type ModelDefinition, newModelDefinition, readModelDefinition } from "../../diffusion/model_dir.ts";
import {
  type CheckpointContents,
  listCheckpoints,
  prepareNewRunDirectory,
  readInferenceWeights,
  rollBackCheckpoints,
  saveCheckpoint,
} from "../../diffusion/checkpoints.ts";
import { unetConfig } from "../../nn/unet.ts";

function definition(): ModelDefinition {
  return newModelDefinition({
    unet: unetConfig("tiny", { imageSize: 16 }),
    schedule: { schedule: "linear", nTimestep: 10, linearStart: 1e-6, linearEnd: 1e-2 },
    downsampleFactor: 4,
    normalization: { method: "dataTypeRange", dataType: "uint8", low: [0, 0, 0], high: [255, 255, 255] },
    batchSize: 1,
  });
}

function contents(value: number): CheckpointContents {
  const weights = new Map([["w", { data: new Float32Array([value, 1]), shape: [2] }]]);
  return { weights, ema: null, optimizer: null, state: null };
}

Deno.test("pruning keeps to this run's lineage: an older run's later steps never evict the new checkpoints", async () => {
  const dir = await Deno.makeTempDir();
  // An older run's checkpoint with a higher step, left behind after model.json was deleted.
  await Deno.mkdir(`${dir}/checkpoints/step-00000900`, { recursive: true });
  await Deno.writeTextFile(`${dir}/checkpoints/step-00000900/weights.safetensors`, "old run");
  for (const step of [10, 20, 30]) await saveCheckpoint(dir, definition(), step, contents(step), 2);
  assert.deepEqual(await listCheckpoints(dir), ["step-00000020", "step-00000030", "step-00000900"]);
  const saved = await readModelDefinition(dir);
  assert.equal(saved.checkpoint, "checkpoints/step-00000030");
  assert.equal((await readInferenceWeights(dir, saved)).get("w")!.data[0], 30);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a new run refuses a directory with another run's checkpoints; --overwrite removes only those", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/checkpoints/step-00000900`, { recursive: true });
  await Deno.writeTextFile(`${dir}/notes.txt`, "mine");
  await Deno.mkdir(`${dir}/checkpoints/my-backup`);
  await assert.rejects(
    () => prepareNewRunDirectory(dir),
    (e: Error) => e instanceof DataError && /step-00000900.*--overwrite/.test(e.message),
  );
  await prepareNewRunDirectory(dir, true);
  assert.deepEqual(await listCheckpoints(dir), []);
  assert.equal(await Deno.readTextFile(`${dir}/notes.txt`), "mine", "unrelated files stay");
  assert.ok((await Deno.stat(`${dir}/checkpoints/my-backup`)).isDirectory, "folders sr3 did not name stay");
  await prepareNewRunDirectory(`${dir}/fresh`); // nothing there: fine
  await Deno.remove(dir, { recursive: true });
});

Deno.test("non-finite weights are never written; a roll-back names the checkpoint before the divergence", async () => {
  const dir = await Deno.makeTempDir();
  await saveCheckpoint(dir, definition(), 10, contents(10), 3);
  await saveCheckpoint(dir, definition(), 20, contents(20), 3);
  await assert.rejects(
    () => saveCheckpoint(dir, definition(), 30, contents(NaN), 3),
    (e: Error) => e instanceof DataError && /step-00000030.*weights\.w.*non-finite/.test(e.message),
  );
  assert.deepEqual(await listCheckpoints(dir), ["step-00000010", "step-00000020"]);
  // Step 20's update diverged (its weights gave non-finite losses): model.json goes back to step 10.
  assert.equal(await rollBackCheckpoints(dir, 20), "checkpoints/step-00000010");
  const rolled = await readModelDefinition(dir);
  assert.equal(rolled.checkpoint, "checkpoints/step-00000010");
  assert.equal((await readInferenceWeights(dir, rolled)).get("w")!.data[0], 10);
  assert.deepEqual(await listCheckpoints(dir), ["step-00000010"]);
  // Nothing good left: model.json names no weights, and loading them fails in one line.
  assert.equal(await rollBackCheckpoints(dir, 10), null);
  const none = await readModelDefinition(dir);
  assert.equal(none.checkpoint, null);
  await assert.rejects(() => readInferenceWeights(dir, none), /names no weights/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a full disk while writing a checkpoint leaves the previous one named and intact, and says so", async () => {
  const dir = await Deno.makeTempDir();
  await saveCheckpoint(dir, definition(), 10, contents(10), 2);
  const writeFile = Deno.writeFile;
  // The disk fills up while the next checkpoint's weights are written.
  Deno.writeFile =
    ((path: string | URL, data: Uint8Array, options?: Deno.WriteFileOptions) =>
      String(path).includes("step-00000020")
        ? Promise.reject(new Error("No space left on device (os error 28): write"))
        : writeFile(path, data, options)) as typeof Deno.writeFile;
  try {
    await assert.rejects(
      async () => saveCheckpoint(dir, await readModelDefinition(dir), 20, contents(20), 2),
      (e: Error) =>
        e instanceof DataError &&
        e.message.includes("step-00000020: cannot write the checkpoint (no space left on the device") &&
        e.message.includes(
          "model.json still names the previous checkpoint (checkpoints/step-00000010), which is intact",
        ),
    );
  } finally {
    Deno.writeFile = writeFile;
  }
  const kept = await readModelDefinition(dir);
  assert.equal(kept.checkpoint, "checkpoints/step-00000010");
  assert.equal((await readInferenceWeights(dir, kept)).get("w")!.data[0], 10);
  assert.deepEqual(
    [...Deno.readDirSync(`${dir}/checkpoints`)].map((e) => e.name),
    ["step-00000010"],
    "no partial left",
  );
  await Deno.remove(dir, { recursive: true });
});
