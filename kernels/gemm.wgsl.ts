/**
 * The two tiled GEMM bodies every product in sr3 runs on: matmul and linear, conv2d forward,
 * input-grad and weight-grad. A kernel is an op's hooks (how to read A and B, where to write C)
 * followed by one of these bodies, so the tiling lives in one place. Both compute
 * C[z][m][n] = Σ_k A[z][m][k]·B[z][k][n], where z is a batch element or a split-K slice.
 *
 * **register-tiled** (CPU adapters such as lavapipe; operands in rgba32float textures).
 * On lavapipe a storage-buffer load costs ~4 ns per float and workgroup memory ~4.4 ns, while a
 * `textureLoad` costs ~0.5 ns (PERF_NOTES), so the inner loop reads only textures and each invocation
 * keeps a ROWS × 4·COL_TEXELS block of C in registers with no workgroup memory and no barriers.
 * A is read as texels of four consecutive k (`readA`), B as texels of four consecutive n
 * (`readB`, one per k), so one step of the K loop is, per output texel, the 4-deep FMA chain
 * `acc = a.x·b0 + a.y·b1 + a.z·b2 + a.w·b3 + acc`: an accumulator is loaded and stored once per
 * four FMAs, which is what lets the spilled accumulators keep up. What we measured on lavapipe:
 * - Accumulators in a WGSL array indexed inside loops ran 5× slower than named variables (the
 *   array became memory), so the register tile is emitted as named variables; the K loop stays a
 *   loop (unrolling it as well took minutes to compile).
 * - 32 × 32 outputs per invocation beat 32 × 16 by ~15% and 16 × 16 by ~30%.
 * - Writing C to its storage buffer from the kernel made 85% of the compile time (each storage store
 *   becomes a loop over the SIMD lanes; 32 × 32 took 15 s to compile). The kernel stores C as texels
 *   of a texture instead (6 s), and a small pass per op copies them to their place.
 * - Operand texels are laid out so that one K step of all lanes reads neighbouring texels: A as
 *   texel (m, k/4). As (k/4, m) it ran at half speed at K = 1024, its rows 4 KiB apart falling into
 *   the same cache sets. (Packed textures also never have power-of-two sizes; see `pack.ts`.)
 * - Workgroups of one SIMD vector (8 invocations) were as fast as 8 × 8 and leave more of them
 *   for small problems.
 *
 * **workgroup-tiled** (GPUs; operands in storage buffers). The classic shape: a 16 × 16 workgroup
 * stages 64 × 16 tiles of A and B in workgroup memory and each invocation accumulates 4 × 4
 * outputs. No packing passes are needed; hooks read the tensors where they lie.
 * @module
 */
import { wgsl } from "./wgsl.ts";

/** The two kernel families; `kernels/variants.ts` picks one per adapter by measurement. */
export type GemmFamily = "register-tiled" | "workgroup-tiled";

/** Every family, in the order tests and the tuner visit them. */
export const GEMM_FAMILIES: readonly GemmFamily[] = ["register-tiled", "workgroup-tiled"];

/** Output rows of C one register-tiled invocation accumulates. */
export const REGISTER_ROWS = 32;
/** Output column texels (4 columns each) of C one register-tiled invocation accumulates. */
export const REGISTER_COL_TEXELS = 8;
/** Invocations per register-tiled workgroup: one 256-bit SIMD vector of f32 on llvmpipe. */
export const REGISTER_WORKGROUP = 8;

/** Rows and columns of C one workgroup-tiled workgroup computes. */
export const WORKGROUP_TILE = 64;
/** Depth of the K slab staged in workgroup memory per step. */
export const WORKGROUP_DEPTH = 16;

/**
 * Which grid axis the 8 invocations of a register-tiled workgroup spread along: "rows" for
 * products with many row blocks (conv pixels, matmul M), "cols" for the weight gradient, whose C
 * is Cout × 9·Cin. In "cols" the lanes run over (column block, split-K slice) pairs, which the op's
 * hooks `laneColBlocks()` and `laneSlices()` give: with 9 column blocks (Cin = 32) lanes over column
 * blocks alone left 7 of 16 idle. Lanes past the edge of C's rows compute nothing useful. Each op has one fixed axis,
 * because every variant is another pipeline to compile (6–8 s each on lavapipe).
 */
export type LaneAxis = "rows" | "cols";

/**
 * How a register-tiled body hands C over: "texels" stores C[m][4n4 …] into the product texture of
 * {@link cTexelSource} for a pass that moves it to its place; "quads" gives the op's `storeQuad`
 * hook four consecutive rows at once, so an op whose rows are pixels can write NCHW itself; "op"
 * calls the op's own `storeC`, for ops whose C texels already are their output's.
 */
export type GemmStore = "texels" | "quads" | "op";

/** Workgroup counts of a register-tiled dispatch over an M × N output with `slices` z slices. */
export function registerTiledGrid(
  rows: number,
  cols: number,
  slices: number,
  lanes: LaneAxis,
): [number, number, number] {
  const rowBlocks = Math.ceil(rows / REGISTER_ROWS);
  const colBlocks = Math.ceil(Math.ceil(cols / 4) / REGISTER_COL_TEXELS);
  return lanes === "rows"
    ? [Math.ceil(rowBlocks / REGISTER_WORKGROUP), colBlocks, slices]
    : [Math.ceil((colBlocks * slices) / REGISTER_WORKGROUP), rowBlocks, 1];
}

/** Lanes (invocations) a register-tiled dispatch over an M × N output keeps busy per slice. */
export function registerTiledLanes(rows: number, cols: number): number {
  return Math.ceil(rows / REGISTER_ROWS) * Math.ceil(Math.ceil(cols / 4) / REGISTER_COL_TEXELS);
}

/**
 * Rows of C per layer of the register-tiled output texture (a power of two, so addressing is
 * shifts); slice z of C occupies layers z·bands … z·bands + bands − 1.
 */
export const C_BAND_ROWS = 2048;

/**
 * WGSL addressing C in the register-tiled output texture: texel (n4, m mod C_BAND_ROWS) of layer
 * z·bands + ⌊m / C_BAND_ROWS⌋ holds C[z][m][4n4 … 4n4+3]. `access` "write" declares it for the GEMM,
 * "read" for the pass that moves C to its place. Binds it at `binding`.
 */
export function cTexelSource(access: "write" | "read", binding: number): string {
  return wgsl`
#if ${access === "write"}
@group(0) @binding(${binding}) var cTexels: texture_storage_2d_array<rgba32float, write>;

fn storeC(m: u32, n4: u32, z: u32, bands: u32, value: vec4f) {
  textureStore(cTexels, vec2u(n4, m % ${C_BAND_ROWS}u), z * bands + m / ${C_BAND_ROWS}u, value);
}
#else
@group(0) @binding(${binding}) var cTexels: texture_2d_array<f32>;

fn loadC(m: u32, n4: u32, z: u32, bands: u32) -> vec4f {
  return textureLoad(cTexels, vec2u(n4, m % ${C_BAND_ROWS}u), z * bands + m / ${C_BAND_ROWS}u, 0);
}
#endif
`;
}

/**
 * Invocations per workgroup of the passes that move C to its place: they run along rows of C
 * (gid.x = m, gid.y = column texel, gid.z = slice), so M may reach 64·65535.
 */
export const PLACE_WORKGROUP = 64;

/** Workgroup counts of a pass that visits every texel of an M × N C (of `slices` slices). */
export function placeGrid(rows: number, cols: number, slices: number): [number, number, number] {
  return [Math.ceil(rows / PLACE_WORKGROUP), Math.ceil(cols / 4), slices];
}

/** Workgroup counts of a workgroup-tiled dispatch over an M × N output with `slices` z slices. */
export function workgroupTiledGrid(rows: number, cols: number, slices: number): [number, number, number] {
  return [Math.ceil(rows / WORKGROUP_TILE), Math.ceil(cols / WORKGROUP_TILE), slices];
}

/** `count` lines produced by `line(i)`, indented for the body below. */
function lines(count: number, line: (i: number) => string): string {
  return Array.from({ length: count }, (_, i) => line(i)).join("\n  ");
}

/**
 * The register-tiled body. K is walked as segments of consecutive 4-deep steps — a convolution tap
 * (all channel texels), an output row of the weight gradient (all its pixel texels), or the whole of
 * K for a matmul — so hooks decompose a segment's coordinates once and then only add the step
 * index: integer division is scalarised lane by lane on CPU adapters. The op's hooks, defined before
 * the body:
 * ```
 * struct ARow;  fn aRow(m: u32, z: u32) -> ARow              per output row, once per invocation
 * struct BCol;  fn bCol(n4: u32, z: u32) -> BCol             per output column texel, once
 * fn kRange(z: u32) -> vec2u                                 the segments [begin, end) of slice z
 * struct KSegment; fn kSegment(s: u32, z: u32) -> KSegment   segment s, with its step count .steps
 * fn readA(row: ARow, seg: KSegment, i: u32) -> vec4f        A[m][k .. k+3] at the segment's step i
 * fn readB(col: BCol, seg: KSegment, i: u32, r: u32) -> vec4f B[k + r][4n4 .. 4n4+3]
 * fn finish(row: ARow, col: BCol, c: vec4f) -> vec4f      C[m][4n4 .. 4n4+3] as stored (adds a bias)
 * fn cBands() -> u32                                         layers of the output texture per slice
 * fn laneColBlocks() -> u32; fn laneSlices() -> u32         "cols" lanes only: blocks of COL_TEXELS
 *                                                            column texels, and slices
 * fn storeQuad(m: u32, n4: u32, z: u32, c0: vec4f, … c3: vec4f)  "quads" store only: C[m + i][4n4 …]
 *                                                            as ci, i = 0..3, m a multiple of 4
 * fn storeC(m: u32, n4: u32, z: u32, bands: u32, c: vec4f)  "op" store only, C[m][4n4 …]
 * ```
 * With the "texels" store the body declares C's texture at binding 1 (see {@link cTexelSource});
 * with "quads" and "op" the hooks declare their own output at binding 1; "quads" receives C four rows
 * at a time, which lets a convolution write NCHW texels (four pixels of one channel) itself. The hooks bind A,
 * B and anything else from binding 2. Reads past the edge of C's rows or columns may return anything
 * (those outputs land outside the texture or are never moved to their place); reads past K must
 * return zeros in A or B (packing pads K with zeros).
 *
 * With ROWS = 2 and COL_TEXELS = 1 the emitted inner loop would read
 * ```
 * let b0_0 = readB(col0, seg, i, 0u); … let b3_0 = readB(col0, seg, i, 3u);
 * { let a = readA(row0, seg, i); acc0_0 = fma(vec4f(a.x), b0_0, fma(vec4f(a.y), b1_0, …acc0_0)); }
 * { let a = readA(row1, seg, i); acc1_0 = … }
 * ```
 * (Carrying a K cursor struct from one iteration to the next instead was miscompiled on lavapipe:
 * the update was lost.)
 */
export function registerTiledMain(lanes: LaneAxis, store: GemmStore = "texels"): string {
  const rows = REGISTER_ROWS;
  const cols = REGISTER_COL_TEXELS;
  const tile = (f: (r: number, j: number) => string): string =>
    lines(rows * cols, (x) => f(Math.floor(x / cols), x % cols));
  // acc = a.x·b0 + a.y·b1 + a.z·b2 + a.w·b3 + acc, innermost first.
  const chain = (r: number, j: number): string => {
    let sum = `acc${r}_${j}`;
    for (const [k, component] of ["w", "z", "y", "x"].entries()) {
      sum = `fma(vec4f(a.${component}), b${3 - k}_${j}, ${sum})`;
    }
    return sum;
  };
  const loadB = lines(4 * cols, (x) => {
    const [r, j] = [Math.floor(x / cols), x % cols];
    return `let b${r}_${j} = readB(col${j}, seg, i, ${r}u);`;
  });
  const accumulate = lines(rows, (r) =>
    `{
        let a = readA(row${r}, seg, i);
        ${lines(cols, (j) => `acc${r}_${j} = ${chain(r, j)};`)}
      }`);
  const finished = (r: number, j: number): string => `finish(row${r}, col${j}, acc${r}_${j})`;
  const storeTile = store !== "quads"
    ? `let bands = cBands();
  ${tile((r, j) => `storeC(m0 + ${r}u, n40 + ${j}u, z, bands, ${finished(r, j)});`)}`
    : lines(rows / 4 * cols, (x) => {
      const [r, j] = [4 * Math.floor(x / cols), x % cols];
      const quad = [0, 1, 2, 3].map((i) => finished(r + i, j)).join(", ");
      return `storeQuad(m0 + ${r}u, n40 + ${j}u, z, ${quad});`;
    });
  return wgsl`
#if ${store === "texels"}
${cTexelSource("write", 1)}
#endif

@compute @workgroup_size(${REGISTER_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u) {
#if ${lanes === "rows"}
  let z = gid.z;
  let m0 = gid.x * ${rows}u;
  let n40 = gid.y * ${cols}u;
#else
  // gid.x runs over (column block, slice) pairs, so no lane idles past the last column block.
  let blocks = laneColBlocks();
  let z = gid.x / blocks;
  if (z >= laneSlices()) { return; }
  let m0 = gid.y * ${rows}u;
  let n40 = (gid.x % blocks) * ${cols}u;
#endif
  ${lines(rows, (r) => `let row${r} = aRow(m0 + ${r}u, z);`)}
  ${lines(cols, (j) => `let col${j} = bCol(n40 + ${j}u, z);`)}
  ${tile((r, j) => `var acc${r}_${j} = vec4f();`)}
  let segments = kRange(z);
  for (var s = segments.x; s < segments.y; s++) {
    let seg = kSegment(s, z);
    for (var i = 0u; i < seg.steps; i++) {
      ${loadB}
      ${accumulate}
    }
  }
  ${storeTile}
}
`;
}

/**
 * The workgroup-tiled body. The op's hooks, defined before it:
 * ```
 * fn gemmRows() -> u32; fn gemmCols() -> u32            M and N
 * fn kRange(z: u32) -> vec2u                             the k of slice z, [begin, end)
 * fn readA(m: u32, k: u32, z: u32) -> f32                called only for m < M and k in range
 * fn readB(k: u32, n: u32, z: u32) -> f32                called only for n < N and k in range
 * fn writeC(m: u32, n: u32, z: u32, c: f32)              called only inside C
 * ```
 */
export function workgroupTiledMain(): string {
  return wgsl`
const TILE: u32 = ${WORKGROUP_TILE}u;
const DEPTH: u32 = ${WORKGROUP_DEPTH}u;
const SIDE: u32 = 16u;          // invocations per workgroup side
const PER: u32 = TILE / SIDE;   // outputs per invocation per side
var<workgroup> tileA: array<f32, ${WORKGROUP_TILE * WORKGROUP_DEPTH}>; // [k][m]
var<workgroup> tileB: array<f32, ${WORKGROUP_TILE * WORKGROUP_DEPTH}>; // [k][n]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) lane: u32) {
  let z = wid.z;
  let m0 = wid.x * TILE;
  let n0 = wid.y * TILE;
  let steps = kRange(z);
  var acc: array<f32, ${(WORKGROUP_TILE / 16) ** 2}>;
  for (var k0 = steps.x; k0 < steps.y; k0 += DEPTH) {
    // 256 invocations stage the TILE × DEPTH slabs of A and B, PER·PER elements each.
    for (var e = lane; e < TILE * DEPTH; e += SIDE * SIDE) {
      let kk = e / TILE;
      let k = k0 + kk;
      let mn = e % TILE;
      var av = 0.0;
      var bv = 0.0;
      if (k < steps.y) {
        if (m0 + mn < gemmRows()) { av = readA(m0 + mn, k, z); }
        if (n0 + mn < gemmCols()) { bv = readB(k, n0 + mn, z); }
      }
      tileA[e] = av;
      tileB[e] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < DEPTH; kk++) {
      var a: array<f32, PER>;
      var b: array<f32, PER>;
      for (var i = 0u; i < PER; i++) {
        a[i] = tileA[kk * TILE + lid.x + SIDE * i];
        b[i] = tileB[kk * TILE + lid.y + SIDE * i];
      }
      for (var i = 0u; i < PER; i++) {
        for (var j = 0u; j < PER; j++) {
          acc[i * PER + j] = fma(a[i], b[j], acc[i * PER + j]);
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < PER; i++) {
    let m = m0 + lid.x + SIDE * i;
    for (var j = 0u; j < PER; j++) {
      let n = n0 + lid.y + SIDE * j;
      if (m < gemmRows() && n < gemmCols()) { writeC(m, n, z, acc[i * PER + j]); }
    }
  }
}
`;
}
