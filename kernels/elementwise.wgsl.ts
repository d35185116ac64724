/**
 * WGSL for elementwise ops: unary maps and their gradients, and binary ops with NumPy-style
 * broadcasting over up to four dimensions (strides of 0 repeat an operand along a dimension).
 * @module
 */
import { FLAT_WORKGROUP, wgsl } from "./wgsl.ts";

/** Unary maps y = f(x); `alpha`/`beta` are the scalar parameters where an op has any. */
export type UnaryOp =
  | "affine" // alpha·x + beta (scalar add, scalar multiply, negation)
  | "exp"
  | "log"
  | "sqrt"
  | "abs"
  | "square"
  | "silu"
  | "sigmoid"
  | "clamp"; // min(max(x, alpha), beta)

/** Binary ops on broadcast operands. */
export type BinaryOp = "add" | "sub" | "mul" | "div";

/** y[i] = f(x[i]). */
export function unarySource(op: UnaryOp): string {
  return wgsl`
struct Params { size: u32, alpha: f32, beta: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
const WG: u32 = ${FLAT_WORKGROUP}u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= p.size) { return; }
  let v = x[i];
#if ${op === "affine"}
  y[i] = fma(p.alpha, v, p.beta);
#elif ${op === "exp"}
  y[i] = exp(v);
#elif ${op === "log"}
  y[i] = log(v);
#elif ${op === "sqrt"}
  y[i] = sqrt(v);
#elif ${op === "abs"}
  y[i] = abs(v);
#elif ${op === "square"}
  y[i] = v * v;
#elif ${op === "silu"}
  y[i] = v / (1.0 + exp(-v));
#elif ${op === "sigmoid"}
  y[i] = 1.0 / (1.0 + exp(-v));
#elif ${op === "clamp"}
  y[i] = min(max(v, p.alpha), p.beta);
#endif
}
`;
}

/** Ops whose derivative is cheapest from the forward output y rather than the input x. */
export function gradUsesOutput(op: UnaryOp): boolean {
  return op === "exp" || op === "sqrt" || op === "sigmoid";
}

/**
 * gx[i] = gy[i] · f'(saved[i]), where `saved` is the forward output y for the ops in
 * {@link gradUsesOutput} and the input x for the rest. (The gradient of `affine` is itself an affine map.)
 */
export function unaryGradSource(op: Exclude<UnaryOp, "affine">): string {
  return wgsl`
struct Params { size: u32, alpha: f32, beta: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> gx: array<f32>;
@group(0) @binding(2) var<storage, read> gy: array<f32>;
@group(0) @binding(3) var<storage, read> saved: array<f32>;
const WG: u32 = ${FLAT_WORKGROUP}u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= p.size) { return; }
  let v = saved[i];
  var d: f32;
#if ${op === "exp"}
  d = v;
#elif ${op === "log"}
  d = 1.0 / v;
#elif ${op === "sqrt"}
  d = 0.5 / v;
#elif ${op === "abs"}
  d = sign(v);
#elif ${op === "square"}
  d = 2.0 * v;
#elif ${op === "silu"}
  let s = 1.0 / (1.0 + exp(-v));
  d = s * (1.0 + v * (1.0 - s));
#elif ${op === "sigmoid"}
  d = v * (1.0 - v);
#elif ${op === "clamp"}
  d = select(0.0, 1.0, v >= p.alpha && v <= p.beta);
#endif
  gx[i] = gy[i] * d;
}
`;
}

/**
 * out[i] = a[ia] ∘ b[ib] over an output of up to 4 dims; `contiguous` skips index arithmetic when
 * both operands have the output's shape.
 */
export function binarySource(op: BinaryOp, contiguous: boolean): string {
  return wgsl`
struct Params {
  size: u32, dim1: u32, dim2: u32, dim3: u32,
  a0: u32, a1: u32, a2: u32, a3: u32,
  b0: u32, b1: u32, b2: u32, b3: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
const WG: u32 = ${FLAT_WORKGROUP}u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= p.size) { return; }
#if ${contiguous}
  let u = a[i];
  let v = b[i];
#else
  let c3 = i % p.dim3;
  var t = i / p.dim3;
  let c2 = t % p.dim2;
  t = t / p.dim2;
  let c1 = t % p.dim1;
  let c0 = t / p.dim1;
  let u = a[c0 * p.a0 + c1 * p.a1 + c2 * p.a2 + c3 * p.a3];
  let v = b[c0 * p.b0 + c1 * p.b1 + c2 * p.b2 + c3 * p.b3];
#endif
#if ${op === "add"}
  out[i] = u + v;
#elif ${op === "sub"}
  out[i] = u - v;
#elif ${op === "mul"}
  out[i] = u * v;
#elif ${op === "div"}
  out[i] = u / v;
#endif
}
`;
}

/** out[i] = alpha · x[ix] + beta, reading x through broadcast strides (the adjoint of a sum). */
export function broadcastSource(): string {
  return wgsl`
struct Params {
  size: u32, dim1: u32, dim2: u32, dim3: u32,
  s0: u32, s1: u32, s2: u32, s3: u32,
  alpha: f32, beta: f32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
const WG: u32 = ${FLAT_WORKGROUP}u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= p.size) { return; }
  let c3 = i % p.dim3;
  var t = i / p.dim3;
  let c2 = t % p.dim2;
  t = t / p.dim2;
  let c1 = t % p.dim1;
  let c0 = t / p.dim1;
  out[i] = fma(p.alpha, x[c0 * p.s0 + c1 * p.s1 + c2 * p.s2 + c3 * p.s3], p.beta);
}
`;
}

/** out[i] = value. */
export function fillSource(): string {
  return wgsl`
struct Params { size: u32, value: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
const WG: u32 = ${FLAT_WORKGROUP}u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i < p.size) { out[i] = p.value; }
}
`;
}
