import assert from "node:assert/strict";
import { GEMM_FAMILIES } from "../../kernels/gemm.wgsl.ts";
import { tuneGemmFamily } from "../../kernels/tuning.ts";
import { gemmFamily, setGemmFamily } from "../../kernels/variants.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";

Deno.test(
  "GEMM family tuning measures both families once, then reads the adapter's choice back",
  gpuTest,
  async () => {
    const dir = await Deno.makeTempDir();
    const cacheFile = `${dir}/sr3/kernel-variants.json`;
    try {
      await withRuntime(async (rt) => {
        const measured = await tuneGemmFamily(rt, { cacheFile, probeSize: 64 });
        assert.equal(measured.source, "measured");
        assert.deepEqual(Object.keys(measured.ms).sort(), [...GEMM_FAMILIES].sort());
        assert.equal(gemmFamily(rt), measured.family);
        setGemmFamily(rt, null);
        const cached = await tuneGemmFamily(rt, { cacheFile });
        assert.deepEqual(cached, { family: measured.family, ms: {}, source: "cache" });
        assert.equal(gemmFamily(rt), measured.family);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
