import assert from "node:assert/strict";
import { Runtime, Uniforms } from "../../kernels/runtime.ts";
import { arrayView, plainView } from "../../kernels/texture_views.ts";
import { gpuTest } from "../helpers/gpu.ts";

const WIDTH = 16; // 16 rgba32float texels: 256-byte rows, as buffer-to-texture copies need

/** Fills every texel of `texture` (WIDTH × 1 × layers) with `value` through a buffer copy. */
function fill(rt: Runtime, texture: GPUTexture, layers: number, value: number): void {
  const floats = 4 * WIDTH * layers;
  const source = rt.acquire(4 * floats);
  rt.write(source, new Float32Array(floats).fill(value));
  rt.copyBufferToTexture({ buffer: source, bytesPerRow: 16 * WIDTH, rowsPerImage: 1 }, { texture }, {
    width: WIDTH,
    height: 1,
    depthOrArrayLayers: layers,
  });
  rt.release(source);
}

/** Dispatches a kernel that copies texel (x, 0) of the last layer through `view` into a buffer. */
async function readThrough(
  rt: Runtime,
  view: GPUTextureView,
  array: boolean,
  layer: number,
): Promise<number[]> {
  const declaration = array ? "texture_2d_array<f32>" : "texture_2d<f32>";
  const load = array ? `textureLoad(src, vec2u(i, 0u), ${layer}u, 0)` : "textureLoad(src, vec2u(i, 0u), 0)";
  const pipeline = rt.pipeline("texture-cache-probe", { array }, () => `
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var src: ${declaration};
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(16)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i < params.n) { out[i] = ${load}.x; }
}`);
  const out = rt.acquire(4 * WIDTH);
  rt.dispatch({ pipeline, uniforms: new Uniforms().u32(WIDTH), bindings: [view, out], workgroups: [1] });
  const values = [...new Float32Array(await rt.read(out, 0, 4 * WIDTH))];
  rt.release(out);
  return values;
}

Deno.test(
  "cached texture views belong to their texture: a texture the pool destroyed never lends its view to the next one",
  gpuTest,
  async () => {
    const rt = await Runtime.create();
    try {
      for (const [layers, view] of [[3, arrayView], [1, plainView]] as const) {
        const first = rt.acquireTexture(WIDTH, 1, "rgba32float", layers);
        assert.equal(view(first), view(first), "one view per texture");
        fill(rt, first, layers, 1);
        assert.deepEqual(
          await readThrough(rt, view(first), layers > 1, layers - 1),
          new Array(WIDTH).fill(1),
        );
        rt.releaseTexture(first);
        rt.trimPool(); // destroys `first`
        const second = rt.acquireTexture(WIDTH, 1, "rgba32float", layers);
        assert.notEqual(second, first, "the pool never hands out a texture it destroyed");
        assert.notEqual(view(second), view(first));
        fill(rt, second, layers, 2);
        // Binding a view of the destroyed texture would fail the submit, and `read` would throw.
        assert.deepEqual(
          await readThrough(rt, view(second), layers > 1, layers - 1),
          new Array(WIDTH).fill(2),
        );
        rt.releaseTexture(second);
      }
      await rt.sync();
    } finally {
      rt.destroy();
    }
  },
);

Deno.test(
  "the texture pool's default budget grows to a loop's working set; a given budget stays fixed",
  gpuTest,
  async () => {
    // Two 3 MiB textures per iteration against a default budget of about 4 MiB: the first flush drops one.
    const shapes = [[512, 384], [384, 512]] as const;
    const iterate = (rt: Runtime): GPUTexture[] => {
      const textures = shapes.map(([w, h]) => rt.acquireTexture(w, h));
      textures.forEach((t) => rt.releaseTexture(t));
      rt.flush();
      return textures;
    };
    const same = (a: GPUTexture[], b: GPUTexture[]): boolean => a.every((t, i) => t === b[i]);
    const adaptive = await Runtime.create();
    try {
      const rounds = [iterate(adaptive), iterate(adaptive), iterate(adaptive), iterate(adaptive)];
      assert.ok(!same(rounds[1]!, rounds[0]!), "the first flush dropped one of the two");
      assert.ok(same(rounds[3]!, rounds[2]!), "once regrown, every iteration reuses both");
      assert.equal(adaptive.memory().textureBytes, 2 * 512 * 384 * 16);
      adaptive.trimPool();
      assert.equal(adaptive.memory().textureBytes, 0);
      const [again] = iterate(adaptive);
      assert.equal(adaptive.memory().textureBytes, 512 * 384 * 16, "a trimmed pool forgets what it learned");
      assert.ok(!rounds.flat().includes(again!));
    } finally {
      adaptive.destroy();
    }
    const fixed = await Runtime.create({ textureCacheBytes: 4 * 2 ** 20 });
    try {
      const rounds = [iterate(fixed), iterate(fixed), iterate(fixed)];
      assert.ok(!same(rounds[2]!, rounds[1]!), "a fixed budget keeps dropping");
      assert.equal(fixed.memory().textureBytes, 512 * 384 * 16);
    } finally {
      fixed.destroy();
    }
  },
);

Deno.test(
  "the texture cache grows only into memory the runtime held anyway: caching never raises the peak",
  gpuTest,
  async () => {
    // A loop of three 3 MiB textures, each live alone (more together than the default budget keeps),
    // and a 24 MiB buffer. Without learning, the loop's peak is the buffer plus one texture and the
    // default cache; a cache that kept all three textures next to the buffer would raise it.
    const iterate = (rt: Runtime): void => {
      for (const [w, h] of [[512, 384], [384, 512], [448, 448]]) {
        rt.releaseTexture(rt.acquireTexture(w!, h!));
        rt.flush();
      }
      rt.release(rt.acquire(24 * 2 ** 20));
      rt.flush();
    };
    const peakOf = async (rt: Runtime): Promise<number> => {
      for (let i = 0; i < 6; i++) iterate(rt);
      await rt.sync();
      rt.resetPeak();
      for (let i = 0; i < 3; i++) iterate(rt);
      await rt.sync();
      return rt.memory().peakAllocatedBytes;
    };
    const learning = await Runtime.create();
    const fixed = await Runtime.create({ textureCacheBytes: 4 * 2 ** 20 + 0 });
    try {
      const [learned, kept] = [await peakOf(learning), await peakOf(fixed)];
      // The default budget also counts persistent bytes / 16 (the uniform arena): allow for it.
      assert.ok(learned <= kept + 2 ** 20, `peak with the learning cache ${learned} > ${kept}`);
    } finally {
      learning.destroy();
      fixed.destroy();
    }
  },
);
