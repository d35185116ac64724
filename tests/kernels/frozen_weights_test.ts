/** Weight packings kept for a frozen scope: packed once, never stale across scopes, released at its end. */
import assert from "node:assert/strict";
import { conv2d } from "../../kernels/conv2d.ts";
import { withFrozenWeights } from "../../kernels/frozen_weights.ts";
import type { Runtime } from "../../kernels/runtime.ts";
import type { TensorRef } from "../../kernels/shape_math.ts";
import { assertClose, type HostTensor, randomHost } from "../helpers/check.ts";
import { conv2dReference } from "../helpers/gemm_reference.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";

const X = [2, 8, 8, 8];
const W = [12, 8, 3, 3];

function upload(rt: Runtime, h: HostTensor, persistent: boolean): TensorRef {
  const data = Float32Array.from(h.data);
  const buffer = persistent ? rt.createPersistentBuffer(data.byteLength) : rt.acquire(data.byteLength);
  rt.write(buffer, data);
  return { buffer, shape: h.shape, size: data.length };
}

/** Runs conv2d (register-tiled, "same" padding) and counts the weight packings it dispatched. */
async function convolve(
  rt: Runtime,
  x: TensorRef,
  w: TensorRef,
): Promise<{ y: Float32Array; packs: number }> {
  const out = { buffer: rt.acquire(2 * 12 * 64 * 4), shape: [2, 12, 8, 8], size: 2 * 12 * 64 };
  let packs = 0;
  const dispatch = rt.dispatch.bind(rt);
  rt.dispatch = (spec) => {
    if (spec.pipeline.label?.startsWith("pack-conv-weights")) packs++;
    dispatch(spec);
  };
  try {
    conv2d(rt, out, x, w, null, { padding: 1 }, "register-tiled");
  } finally {
    rt.dispatch = dispatch;
  }
  const y = new Float32Array(await rt.read(out.buffer, 0, out.size * 4));
  rt.release(out.buffer);
  return { y, packs };
}

Deno.test(
  "inside a frozen scope a parameter's weights are packed once and match the reference",
  gpuTest,
  async () => {
    await withRuntime(async (rt) => {
      const xh = randomHost(X, 1);
      const wh = randomHost(W, 2);
      const x = upload(rt, xh, false);
      const w = upload(rt, wh, true);
      const expected = conv2dReference(xh, wh, null, 1, 1).data;
      const before = rt.memory().liveTextureBytes;
      const packs = await withFrozenWeights(rt, async () => {
        const first = await convolve(rt, x, w);
        const second = await convolve(rt, x, w);
        assertClose(first.y, expected, 1e-5, "first call");
        assertClose(second.y, expected, 1e-5, "second call");
        return [first.packs, second.packs];
      });
      assert.deepEqual(packs, [1, 0], "packed on the first call only");
      await rt.sync(); // a released texture returns to the pool with the next submit
      assert.equal(rt.memory().liveTextureBytes, before, "the kept packing is released with the scope");
      assert.equal((await convolve(rt, x, w)).packs, 1, "outside a scope every call packs");
    });
  },
);

Deno.test(
  "a frozen scope never serves weights changed since an earlier scope, nor caches pooled buffers",
  gpuTest,
  async () => {
    await withRuntime(async (rt) => {
      const xh = randomHost(X, 3);
      const [firstWeights, secondWeights] = [randomHost(W, 4), randomHost(W, 5)];
      const x = upload(rt, xh, false);
      const w = upload(rt, firstWeights, true);
      await withFrozenWeights(rt, () => convolve(rt, x, w));
      rt.write(w.buffer, Float32Array.from(secondWeights.data));
      const after = await withFrozenWeights(rt, () => convolve(rt, x, w));
      assertClose(after.y, conv2dReference(xh, secondWeights, null, 1, 1).data, 1e-5, "new weights");
      const pooled = upload(rt, firstWeights, false);
      const packs = await withFrozenWeights(rt, async () => [
        (await convolve(rt, x, pooled)).packs,
        (await convolve(rt, x, pooled)).packs,
      ]);
      assert.deepEqual(
        packs,
        [1, 1],
        "a pooled buffer may hold other data after its release: packed per call",
      );
    });
  },
);
