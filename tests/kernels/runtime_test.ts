import assert from "node:assert/strict";
import { bucketBytes, Runtime, Uniforms } from "../../kernels/runtime.ts";
import { DeviceError } from "../../base/errors.ts";
import { gpuTest } from "../helpers/gpu.ts";

Deno.test(
  "pool buckets waste at most a quarter and reuse a buffer only after the submit that used it",
  gpuTest,
  async () => {
    for (const n of [1, 17, 300, 1000, 4097, 1 << 20, (1 << 20) + 1]) {
      const b = bucketBytes(n);
      assert.ok(b >= n && b <= Math.max(16, 1.25 * n + 16), `${n} → ${b}`);
    }
    const rt = await Runtime.create();
    try {
      const first = rt.acquire(4096);
      rt.release(first);
      assert.notEqual(rt.acquire(4096), first, "released in the open batch: not reusable yet");
      rt.flush();
      assert.equal(rt.acquire(4096), first, "after the submit it comes back");
      const memory = rt.memory();
      assert.equal(memory.liveBytes, 2 * 4096);
      assert.ok(memory.peakAllocatedBytes >= memory.allocatedBytes);
    } finally {
      rt.destroy();
    }
  },
);

Deno.test(
  "the pools hand out the free object created first, whatever order work released them in",
  gpuTest,
  async () => {
    const rt = await Runtime.create();
    try {
      const [a, b, c] = [rt.acquire(4096), rt.acquire(4096), rt.acquire(4096)];
      for (const buffer of [b, c, a]) rt.release(buffer);
      rt.flush();
      assert.deepEqual([rt.acquire(4096), rt.acquire(4096), rt.acquire(4096)], [a, b, c]);
      const [x, y] = [rt.acquireTexture(8, 8), rt.acquireTexture(8, 8)];
      for (const texture of [y, x]) rt.releaseTexture(texture);
      rt.flush();
      const [first, second] = [rt.acquireTexture(8, 8), rt.acquireTexture(8, 8)];
      assert.ok(first === x && second === y);
    } finally {
      rt.destroy();
    }
  },
);

Deno.test("a kernel that does not compile surfaces as a DeviceError naming it", gpuTest, async () => {
  const rt = await Runtime.create();
  try {
    const pipeline = rt.pipeline("broken-kernel", { variant: 3 }, () => "fn main( {");
    const out = rt.acquire(16);
    // Recording does not wait for the compiler; the error arrives with the next sync or read.
    rt.dispatch({ pipeline, uniforms: new Uniforms().u32(1), bindings: [out], workgroups: [1] });
    await assert.rejects(
      () => rt.sync(),
      (e: unknown) => e instanceof DeviceError && /broken-kernel/.test(e.message),
    );
  } finally {
    rt.destroy();
  }
});

Deno.test("without navigator.gpu the error is one sentence on what to do", async () => {
  const descriptor = Object.getOwnPropertyDescriptor(Navigator.prototype, "gpu");
  Object.defineProperty(Navigator.prototype, "gpu", { get: () => undefined, configurable: true });
  try {
    await assert.rejects(
      () => Runtime.create(),
      (e: unknown) => e instanceof DeviceError && /navigator\.gpu is missing/.test(e.message),
    );
  } finally {
    if (descriptor) Object.defineProperty(Navigator.prototype, "gpu", descriptor);
  }
});

Deno.test("uniform words pack u32, i32 and f32 little-endian and pad to 16 bytes", () => {
  const u = new Uniforms().u32(7).i32(-2).f32(0.5);
  assert.equal(u.byteLength, 16);
  const view = new DataView(new ArrayBuffer(16));
  u.writeTo(view, 0);
  assert.deepEqual([view.getUint32(0, true), view.getInt32(4, true), view.getFloat32(8, true)], [7, -2, 0.5]);
  assert.throws(() => new Uniforms().u32(1.5), RangeError);
});

Deno.test("the runtime asks for Vulkan, Metal and DX12 only: Mesa's GL driver is never loaded", async () => {
  if (Deno.build.os !== "linux") return; // the check reads /proc/self/maps
  const env = { ...Deno.env.toObject() };
  delete env.DENO_WEBGPU_BACKEND;
  const script = `
    const { Runtime } = await import(${
    JSON.stringify(new URL("../../kernels/runtime.ts", import.meta.url).href)
  });
    const rt = await Runtime.create();
    const maps = Deno.readTextFileSync("/proc/self/maps");
    rt.destroy();
    console.log(JSON.stringify({ backends: rt.adapter.backends, gl: /libEGL|_dri\\.so|libGLX/.test(maps) }));
  `;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", script],
    clearEnv: true,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  assert.equal(code, 0, text.decode(stderr));
  assert.deepEqual(JSON.parse(text.decode(stdout)), { backends: "vulkan,metal,dx12", gl: false });
});
