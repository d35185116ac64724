/** Runtime set-up for GPU tests: one runtime per test, destroyed afterwards. */
import { initRuntime, setRuntime } from "../../nn/tensor.ts";
import type { Runtime } from "../../kernels/runtime.ts";
import "../../nn/ops/elementwise.ts";

/** Runs `fn` with a fresh active runtime and destroys it afterwards. */
export async function withRuntime(fn: (rt: Runtime) => Promise<void> | void): Promise<void> {
  const rt = await initRuntime();
  try {
    await fn(rt);
    await rt.sync();
  } finally {
    rt.destroy();
    setRuntime(null);
  }
}

/** Deno.test options for GPU tests: the WebGPU device keeps resources the sanitizers would flag. */
export const gpuTest = { sanitizeResources: false, sanitizeOps: false } as const;
