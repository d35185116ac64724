/**
 * WGSL for sums over any subset of up to four axes, scaled (mean = sum · 1/count). Output element o
 * enumerates the kept axes, reduced index r the summed ones; both are decomposed with the dims and
 * strides in the parameters, so one pipeline serves every shape and axis set.
 *
 * On CPU adapters the common sums instead read a linear texture (`staging.ts`) through a collapsed
 * view [outer, kept, inner] — summed axes before and after one contiguous block of kept ones: the
 * per-channel sums of bias and noise-embedding gradients ([N, C, H·W] → C), whole-tensor sums, and
 * column sums [S, D] → D. Rows (inner > 1) get one 8-lane workgroup per output walking whole texels;
 * columns (inner = 1) one thread per texel of four outputs.
 * @module
 */
import { linearOperand } from "./staging.ts";
import { wgsl } from "./wgsl.ts";

/** Threads cooperating on one output in the workgroup variant. */
export const REDUCE_WORKGROUP = 64;

/**
 * `perThread`: one thread loops over all r for its output (many outputs, short sums).
 * Otherwise one workgroup per output strides over r and combines partial sums in a fixed tree order,
 * so results are deterministic.
 */
export function reduceSumSource(perThread: boolean): string {
  return wgsl`
struct Params {
  outSize: u32, redSize: u32, scale: f32, pad0: u32,
  k1: u32, k2: u32, k3: u32, pad1: u32,
  ks0: u32, ks1: u32, ks2: u32, ks3: u32,
  r1: u32, r2: u32, r3: u32, pad2: u32,
  rs0: u32, rs1: u32, rs2: u32, rs3: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
const WG: u32 = ${REDUCE_WORKGROUP}u;

fn keptOffset(o: u32) -> u32 {
  let c3 = o % p.k3;
  var t = o / p.k3;
  let c2 = t % p.k2;
  t = t / p.k2;
  let c1 = t % p.k1;
  let c0 = t / p.k1;
  return c0 * p.ks0 + c1 * p.ks1 + c2 * p.ks2 + c3 * p.ks3;
}

fn reducedOffset(r: u32) -> u32 {
  let c3 = r % p.r3;
  var t = r / p.r3;
  let c2 = t % p.r2;
  t = t / p.r2;
  let c1 = t % p.r1;
  let c0 = t / p.r1;
  return c0 * p.rs0 + c1 * p.rs1 + c2 * p.rs2 + c3 * p.rs3;
}

#if ${perThread}
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let o = gid.x + gid.y * groups.x * WG;
  if (o >= p.outSize) { return; }
  let base = keptOffset(o);
  var acc = 0.0;
  for (var r = 0u; r < p.redSize; r++) {
    acc += x[base + reducedOffset(r)];
  }
  out[o] = acc * p.scale;
}
#else
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let o = wid.x + wid.y * groups.x;
  let base = keptOffset(min(o, p.outSize - 1u));
  var acc = 0.0;
  for (var r = lane; r < p.redSize; r += WG) {
    acc += x[base + reducedOffset(r)];
  }
  partial[lane] = acc;
  workgroupBarrier();
  for (var step = WG / 2u; step > 0u; step = step / 2u) {
    if (lane < step) { partial[lane] += partial[lane + step]; }
    workgroupBarrier();
  }
  if (lane == 0u && o < p.outSize) { out[o] = partial[0] * p.scale; }
}
#endif
`;
}

const collapsedParams = `
struct Params { outer: u32, kept: u32, inner: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
`;

/**
 * out[k] = scale · Σ_{o < outer, r < inner} x[(o·kept + k)·inner + r], one workgroup of `lanes`
 * threads per k; with `aligned` (inner a multiple of 4) the lanes walk whole texels. Partial sums
 * combine in lane order.
 */
export function reduceRowsSource(aligned: boolean, lanes: number): string {
  return wgsl`
${collapsedParams}
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${linearOperand("x", 2, true)}
const WG: u32 = ${lanes}u;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let k = wid.x + wid.y * groups.x;
#if ${aligned}
  let row = p.inner / 4u; // texels per run
  var acc = vec4f(0.0);
#else
  let row = p.inner;
  var acc = 0.0;
#endif
  if (k < p.kept) {
    for (var t = lane; t < p.outer * row; t += WG) {
      let o = t / row;
      let at = (o * p.kept + k) * row + (t - o * row);
#if ${aligned}
      acc += xTexel(at);
#else
      acc += xAt(at);
#endif
    }
  }
#if ${aligned}
  partial[lane] = (acc.x + acc.y) + (acc.z + acc.w);
#else
  partial[lane] = acc;
#endif
  workgroupBarrier();
  if (lane == 0u && k < p.kept) {
    var total = partial[0];
    for (var l = 1u; l < WG; l++) { total += partial[l]; }
    out[k] = total * p.scale;
  }
}
`;
}

/**
 * out[k] = scale · Σ_{o < outer} x[o·kept + k] (inner = 1); with `aligned` (kept a multiple of 4 and
 * room in out) each thread sums a texel of four outputs and stores it whole, else one output each.
 */
export function reduceColumnsSource(aligned: boolean): string {
  return wgsl`
${collapsedParams}
@group(0) @binding(1) var<storage, read_write> out: array<${aligned ? "vec4f" : "f32"}>;
${linearOperand("x", 2, true)}
const WG: u32 = ${REDUCE_WORKGROUP}u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let k = gid.x + gid.y * groups.x * WG;
#if ${aligned}
  let row = p.kept / 4u;
  if (k >= row) { return; }
  var acc = vec4f(0.0);
  for (var o = 0u; o < p.outer; o++) { acc += xTexel(o * row + k); }
#else
  let row = p.kept;
  if (k >= row) { return; }
  var acc = 0.0;
  for (var o = 0u; o < p.outer; o++) { acc += xAt(o * row + k); }
#endif
  out[k] = acc * p.scale;
}
`;
}
