import { matmul } from "../../kernels/matmul.ts";
import { GEMM_FAMILIES } from "../../kernels/gemm.wgsl.ts";
import { Tensor } from "../../nn/tensor.ts";
import { assertClose, type HostTensor, randomHost } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { matmulReference } from "../helpers/gemm_reference.ts";
import type { Runtime } from "../../kernels/runtime.ts";

interface Case {
  a: number[];
  b: number[];
  transA?: boolean;
  transB?: boolean;
  bias?: boolean;
}

// Odd sizes (K and N not multiples of 4), every transpose, batches and broadcasts, and sizes that
// cross the register tile (32 rows × 16 columns) and the workgroup tile (64 × 64).
const cases: Case[] = [
  { a: [5, 7], b: [7, 9] },
  { a: [7, 5], b: [7, 9], transA: true },
  { a: [5, 7], b: [9, 7], transB: true, bias: true },
  { a: [7, 5], b: [9, 7], transA: true, transB: true },
  { a: [3, 5, 7], b: [3, 7, 6] },
  { a: [5, 7], b: [2, 7, 9], bias: true },
  { a: [2, 7, 5], b: [9, 7], transA: true, transB: true },
  { a: [70, 37], b: [37, 45], bias: true },
  { a: [3, 130], b: [130, 67] },
  { a: [1, 1], b: [1, 1] },
];

async function runCase(
  rt: Runtime,
  family: (typeof GEMM_FAMILIES)[number],
  c: Case,
  seed: number,
): Promise<void> {
  const a = randomHost(c.a, seed);
  const b = randomHost(c.b, seed + 1);
  const expected = matmulReference(a, b, c.transA, c.transB);
  const cols = expected.shape[expected.shape.length - 1]!;
  const bias: HostTensor | null = c.bias ? randomHost([cols], seed + 2) : null;
  if (bias) {
    for (let i = 0; i < expected.data.length; i++) {
      expected.data[i] = expected.data[i]! + bias.data[i % cols]!;
    }
  }
  const tensors = [a, b, ...(bias ? [bias] : [])].map((h) =>
    Tensor.fromArray(Float32Array.from(h.data), h.shape)
  );
  const out = Tensor.empty(expected.shape);
  matmul(
    rt,
    out,
    tensors[0]!,
    tensors[1]!,
    { transA: c.transA, transB: c.transB },
    tensors[2] ?? null,
    family,
  );
  assertClose(await out.read(), expected.data, 1e-4, `${family} ${JSON.stringify(c)}`);
  for (const t of [...tensors, out]) t.dispose();
}

for (const family of GEMM_FAMILIES) {
  Deno.test(`matmul ${family} matches the float64 reference on odd shapes`, gpuTest, async () => {
    await withRuntime(async (rt) => {
      let seed = 100;
      for (const c of cases) await runCase(rt, family, c, seed += 3);
    });
  });
}
