/**
 * Which GEMM family (`gemm.wgsl.ts`) each runtime's products use. `tuning.ts` measures both once
 * per adapter and records the winner here; until then a runtime uses its adapter's default:
 * register-tiled on software adapters, workgroup-tiled on GPUs.
 * @module
 */
import type { GemmFamily } from "./gemm.wgsl.ts";
import type { Runtime } from "./runtime.ts";

const chosen = new WeakMap<Runtime, GemmFamily>();

/** The family that `rt` would use without a measurement. */
export function defaultGemmFamily(rt: Runtime): GemmFamily {
  return rt.adapter.isSoftware ? "register-tiled" : "workgroup-tiled";
}

/** The family products on `rt` use: the tuned or forced choice, else the adapter's default. */
export function gemmFamily(rt: Runtime): GemmFamily {
  return chosen.get(rt) ?? defaultGemmFamily(rt);
}

/** Makes every product on `rt` use `family` (`null` returns to the default). */
export function setGemmFamily(rt: Runtime, family: GemmFamily | null): void {
  if (family) chosen.set(rt, family);
  else chosen.delete(rt);
}
