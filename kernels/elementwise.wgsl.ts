/**
 * WGSL for elementwise ops: unary maps and their gradients, and binary ops with NumPy-style
 * broadcasting over up to four dimensions (strides of 0 repeat an operand along a dimension).
 *
 * Each kernel has two forms. `texture` (CPU adapters): operands are read from linear textures
 * (`staging.ts`) and every thread computes one texel of four outputs with one vec4 store — ~1 ns
 * per float on lavapipe against ~9 ns for a copy through storage buffers, one float per thread.
 * Otherwise (GPUs): one thread per float, operands read from their storage buffers.
 * @module
 */
import { linearOperand } from "./staging.ts";
import { FLAT_WORKGROUP, flatMain, wgsl } from "./wgsl.ts";

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

/** The flat index (of a float, or of a texel when `texture`) and the early return past the end. */
function flatIndex(texture: boolean): string {
  return `let i = gid.x + gid.y * groups.x * WG;
  if (i >= ${texture ? "(p.size + 3u) / 4u" : "p.size"}) { return; }`;
}

/** y[i] = f(x[i]). */
export function unarySource(op: UnaryOp, texture: boolean): string {
  const T = texture ? "vec4f" : "f32";
  return wgsl`
struct Params { size: u32, alpha: f32, beta: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<${T}>;
${linearOperand("x", 2, texture)}
const WG: u32 = ${FLAT_WORKGROUP}u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  ${flatIndex(texture)}
  let v = ${texture ? "xTexel(i)" : "xAt(i)"};
#if ${op === "affine"}
  y[i] = fma(${T}(p.alpha), v, ${T}(p.beta));
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
  y[i] = min(max(v, ${T}(p.alpha)), ${T}(p.beta));
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
export function unaryGradSource(op: Exclude<UnaryOp, "affine">, texture: boolean): string {
  const T = texture ? "vec4f" : "f32";
  return wgsl`
struct Params { size: u32, alpha: f32, beta: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> gx: array<${T}>;
${linearOperand("gy", 2, texture)}
${linearOperand("saved", 3, texture)}
const WG: u32 = ${FLAT_WORKGROUP}u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  ${flatIndex(texture)}
  let v = ${texture ? "savedTexel(i)" : "savedAt(i)"};
  var d: ${T};
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
  d = select(${T}(0.0), ${T}(1.0), (v >= ${T}(p.alpha)) & (v <= ${T}(p.beta)));
#endif
  gx[i] = ${texture ? "gyTexel(i)" : "gyAt(i)"} * d;
}
`;
}

/**
 * How a binary kernel reads an operand: `full` has the output's layout (read at the output's
 * index, no broadcast arithmetic); `rowConstant` repeats along an innermost dimension that is a
 * multiple of 4, so one value serves a whole output texel; `perRow` is that with one value per row
 * in row order, found with one division (the UNet's h + emb[:, :, None, None]); `broadcast`
 * computes every element's index.
 */
export type OperandRead = "full" | "perRow" | "rowConstant" | "broadcast";

/** Compile-time form of a binary kernel. */
export interface BinaryVariant {
  /** The op. */
  op: BinaryOp;
  /** Operands staged in linear textures, one texel of outputs per thread. */
  texture: boolean;
  /** How a is read. */
  aRead: OperandRead;
  /** How b is read. */
  bRead: OperandRead;
}

/**
 * out[i] = scale · (a[ia] ∘ b[ib]) over an output of up to 4 dims (scale 1 is exact, so plain ops
 * pass it; the UNet's residual sums (h + skip)/√2 fuse their rescale here). Operands with the
 * output's shape skip the index arithmetic.
 */
export function binarySource({ op, texture, aRead, bRead }: BinaryVariant): string {
  const T = texture ? "vec4f" : "f32";
  // An operand value at output float i (texture: a texel for the output texel i).
  const operand = (name: string, read: OperandRead, stride: string): string => {
    if (read === "full") return texture ? `${name}Texel(i)` : `${name}At(i)`;
    if (!texture) return `${name}At(broadcastIndex(i, ${stride}))`;
    if (read === "perRow") return `vec4f(${name}At(4u * i / p.dim3))`;
    if (read === "rowConstant") return `vec4f(${name}At(broadcastIndex(4u * i, ${stride})))`;
    return `vec4f(${
      [0, 1, 2, 3].map((k) => `${name}At(broadcastIndex(min(4u * i + ${k}u, p.size - 1u), ${stride}))`)
        .join(", ")
    })`;
  };
  return wgsl`
struct Params {
  size: u32, dim1: u32, dim2: u32, dim3: u32,
  a0: u32, a1: u32, a2: u32, a3: u32,
  b0: u32, b1: u32, b2: u32, b3: u32,
  scale: f32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<${T}>;
${linearOperand("a", 2, texture)}
${linearOperand("b", 3, texture)}
const WG: u32 = ${FLAT_WORKGROUP}u;

// The operand's element for output float i, from its (broadcast) strides.
fn broadcastIndex(i: u32, s: vec4u) -> u32 {
  let c3 = i % p.dim3;
  var t = i / p.dim3;
  let c2 = t % p.dim2;
  t = t / p.dim2;
  let c1 = t % p.dim1;
  let c0 = t / p.dim1;
  return c0 * s.x + c1 * s.y + c2 * s.z + c3 * s.w;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  ${flatIndex(texture)}
  let u = ${operand("a", aRead, "vec4u(p.a0, p.a1, p.a2, p.a3)")};
  let v = ${operand("b", bRead, "vec4u(p.b0, p.b1, p.b2, p.b3)")};
#if ${op === "add"}
  out[i] = ${T}(p.scale) * (u + v);
#elif ${op === "sub"}
  out[i] = ${T}(p.scale) * (u - v);
#elif ${op === "mul"}
  out[i] = ${T}(p.scale) * (u * v);
#elif ${op === "div"}
  out[i] = ${T}(p.scale) * (u / v);
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
${flatMain()}
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
