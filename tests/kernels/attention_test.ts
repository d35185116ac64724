import assert from "node:assert/strict";
import { attentionGeometry, FLASH_MAX_CHANNELS, flashLayout, sampleChunks } from "../../kernels/attention.ts";
import { flashRowsPerWorkgroup, flashWorkgroupBytes } from "../../kernels/attention_flash.wgsl.ts";
import { ShapeError } from "../../base/errors.ts";

Deno.test("sample chunks cover every sample once and respect the texture height", () => {
  assert.deepEqual(sampleChunks(5, 1024, 16384), [[0, 5]]);
  assert.deepEqual(sampleChunks(40, 1024, 16384), [[0, 16], [16, 16], [32, 8]]);
  assert.deepEqual(sampleChunks(3, 4096, 8192), [[0, 2], [2, 1]]);
  // A sample taller than the limit still gets a chunk of its own (the device then reports the limit).
  assert.deepEqual(sampleChunks(2, 20000, 16384), [[0, 1], [1, 1]]);
});

Deno.test("flash layouts cover C, fit workgroup memory and keep BM a multiple of 8", () => {
  for (const limit of [16384, 32768]) {
    for (let c = 1; c <= FLASH_MAX_CHANNELS; c += c < 64 ? 1 : 37) {
      const layout = flashLayout(c, limit);
      assert.ok(layout.channelGroups * 4 * layout.channelTexels >= c, `C = ${c} not covered`);
      assert.ok(
        layout.channelTexels <= 4 && layout.rowsPerInvocation <= 8,
        `C = ${c}: too many accumulators`,
      );
      assert.equal(flashRowsPerWorkgroup(layout) % 8, 0);
      assert.ok(
        flashWorkgroupBytes(layout) <= limit,
        `C = ${c}: ${flashWorkgroupBytes(layout)} bytes > ${limit}`,
      );
    }
  }
  assert.throws(() => flashLayout(FLASH_MAX_CHANNELS + 1, 32768), ShapeError);
});

Deno.test("attention geometry reads [N, 3C, H, W] and [N, 3C, L]", () => {
  assert.deepEqual(attentionGeometry([2, 12, 5, 7]), {
    samples: 2,
    channels: 4,
    tokens: 35,
    outShape: [2, 4, 5, 7],
  });
  assert.deepEqual(attentionGeometry([1, 9, 16]).outShape, [1, 3, 16]);
  assert.throws(() => attentionGeometry([2, 10, 4, 4]), ShapeError);
  assert.throws(() => attentionGeometry([30, 4]), ShapeError);
});
