import assert from "node:assert/strict";
import { BindGroupCache } from "../../kernels/bind_groups.ts";
import { Runtime, Uniforms } from "../../kernels/runtime.ts";
import { gpuTest } from "../helpers/gpu.ts";

/** A kernel that stores `params.value` at `out[params.index]`. */
function storeKernel(rt: Runtime): GPUComputePipeline {
  return rt.pipeline("bind-group-probe", {}, () => `
struct Params { index: u32, value: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(1)
fn main() { out[params.index] = params.value; }`);
}

function store(rt: Runtime, out: GPUBuffer | GPUBufferBinding, index: number, value: number): void {
  rt.dispatch({
    pipeline: storeKernel(rt),
    uniforms: new Uniforms().u32(index).f32(value),
    bindings: [out],
    workgroups: [1],
  });
}

async function floats(rt: Runtime, buffer: GPUBuffer, count: number): Promise<number[]> {
  return [...new Float32Array(await rt.read(buffer, 0, 4 * count))];
}

Deno.test(
  "a cached bind group serves its operands in every batch, and one slot holds one parameter block per batch",
  gpuTest,
  async () => {
    const rt = await Runtime.create();
    try {
      const layout = storeKernel(rt).getBindGroupLayout(0);
      const slots = rt.createPersistentBuffer(BindGroupCache.BYTES);
      const cache = new BindGroupCache(rt.device, slots, 256);
      const [a, b] = [rt.acquire(16), rt.acquire(16)];
      const params = (index: number, value: number) => new Uniforms().u32(index).f32(value);
      const first = cache.get(layout, params(0, 1), [a]);
      assert.ok(first);
      assert.equal(cache.get(layout, params(0, 1), [a]), first, "the same parameters share the slot");
      assert.equal(cache.get(layout, params(1, 2), [a]), null, "other parameters in the same batch do not");
      const other = cache.get(layout, params(0, 1), [b]);
      assert.ok(other && other !== first, "other operands, another bind group");
      cache.upload(rt.device.queue);
      cache.nextBatch();
      assert.equal(cache.get(layout, params(1, 2), [a]), first, "the next batch rewrites the slot");
      assert.deepEqual([cache.hits, cache.created], [2, 2]);
      // Every slot taken: the cache declines until the submit after which it starts over.
      let filled = 0;
      while (cache.get(layout, params(0, 0), [{ buffer: slots, offset: 256 * filled, size: 16 }])) filled++;
      assert.equal(filled, BindGroupCache.BYTES / 256 - 2);
      assert.equal(cache.get(layout, params(1, 2), [b]), other, "cached operands are still served");
      assert.equal(cache.get(layout, params(0, 1), [rt.acquire(16)]), null, "new ones are not");
      cache.upload(rt.device.queue);
      cache.nextBatch();
      const again = cache.get(layout, params(0, 1), [a]);
      assert.ok(again && again !== first, "emptied: a new bind group");
    } finally {
      rt.destroy();
    }
  },
);

Deno.test(
  "dispatches that share operands keep their own parameters, in one batch and across batches",
  gpuTest,
  async () => {
    const rt = await Runtime.create();
    try {
      const out = rt.acquire(16);
      store(rt, out, 0, 5);
      store(rt, out, 1, 7); // same bind group, other parameters, same batch
      store(rt, out, 2, 9);
      assert.deepEqual(await floats(rt, out, 3), [5, 7, 9]);
      store(rt, out, 2, 11); // a later batch reuses the first dispatch's bind group
      store(rt, out, 0, 13);
      assert.deepEqual(await floats(rt, out, 3), [13, 7, 11]);
      // More operand combinations than the cache has slots: the overflow binds one-off blocks.
      const wide = rt.acquire(256 * (BindGroupCache.BYTES / 256 + 64));
      const count = BindGroupCache.BYTES / 256 + 64;
      for (let i = 0; i < count; i++) store(rt, { buffer: wide, offset: 256 * i, size: 16 }, 0, i);
      const all = new Float32Array(await rt.read(wide, 0, 256 * count));
      assert.deepEqual([0, 1, count - 1].map((i) => all[64 * i]), [0, 1, count - 1]);
      assert.ok(Array.from({ length: count }, (_, i) => all[64 * i] === i).every(Boolean));
    } finally {
      rt.destroy();
    }
  },
);

Deno.test(
  "a buffer the pool destroyed never reaches a dispatch through a cached bind group",
  gpuTest,
  async () => {
    const rt = await Runtime.create();
    try {
      const first = rt.acquire(16);
      store(rt, first, 0, 1);
      assert.deepEqual(await floats(rt, first, 1), [1]);
      rt.release(first);
      rt.trimPool(); // destroys `first`
      const second = rt.acquire(16);
      assert.notEqual(second, first);
      store(rt, second, 0, 2); // binding `first` here would fail the submit and `read` would throw
      assert.deepEqual(await floats(rt, second, 1), [2]);
    } finally {
      rt.destroy();
    }
  },
);
