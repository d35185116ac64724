/**
 * The WGSL template tag every kernel family uses: npm:wgsl-preprocessor resolves
 * `#if ${flag}` / `#elif ${flag}` / `#else` / `#endif` blocks from compile-time options, and plain
 * `${value}` interpolations insert compile-time constants (workgroup sizes, tile shapes).
 * @module
 */
import { preprocessWgsl as preprocess } from "../deps.ts";

/** Tagged template producing WGSL source with preprocessor blocks resolved. */
export const wgsl: (strings: TemplateStringsArray, ...values: unknown[]) => string = preprocess;

/** Threads per workgroup of the flat elementwise kernels. */
export const FLAT_WORKGROUP = 256;

/**
 * Workgroup counts for `total` threads of a flat kernel: x is capped at 32768 groups and y takes the
 * rest, because a dimension may hold at most 65535. Kernels rebuild the flat index as
 * `gid.x + gid.y * groups.x * WG` with `groups` the `num_workgroups` builtin.
 */
export function flatGrid(total: number, workgroupSize = FLAT_WORKGROUP): [number, number] {
  const groups = Math.max(1, Math.ceil(total / workgroupSize));
  if (groups <= 32768) return [groups, 1];
  return [32768, Math.ceil(groups / 32768)];
}

/**
 * The entry point of a flat kernel, up to its bounds guard: `WG` threads per workgroup on the grid of
 * {@link flatGrid}, the flat index rebuilt as `index`, and invocations past `bound` (a WGSL expression)
 * returning at once. Kernels continue the function body after it.
 */
export function flatMain(index = "i", bound = "p.size"): string {
  return `const WG: u32 = ${FLAT_WORKGROUP}u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let ${index} = gid.x + gid.y * groups.x * WG;
  if (${index} >= ${bound}) { return; }`;
}
