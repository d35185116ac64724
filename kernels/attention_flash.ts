/**
 * The no-grad attention of sampling: an online softmax that never holds more than a block of scores
 * (`attention_flash.wgsl.ts`), on operands packed as the training path packs them.
 * @module
 */
import { ShapeError } from "../base/errors.ts";
import type { Runtime } from "./runtime.ts";
import { Uniforms } from "./runtime.ts";
import { expectShape, type TensorRef } from "./shape_math.ts";
import { attentionGeometry, block, pack, roundUp4, sampleChunks, texels } from "./attention_operands.ts";
import {
  attentionFlashSource,
  FLASH_WORKGROUP,
  type FlashLayout,
  flashRowsPerWorkgroup,
  flashWorkgroupBytes,
} from "./attention_flash.wgsl.ts";

/** Largest C the online-softmax kernel supports (64 channel groups × 16 channels). */
export const FLASH_MAX_CHANNELS = FLASH_WORKGROUP * 16;

/**
 * How the flash kernel splits C among its 64 invocations: CG channel groups (a power of two) of at
 * most 16 channels each, and up to 8 query rows per invocation, so each keeps ≤ 128 accumulators;
 * key blocks of 64 where the workgroup memory allows it (fewer, larger blocks), else 32.
 */
export function flashLayout(channels: number, workgroupStorageBytes: number): FlashLayout {
  if (channels > FLASH_MAX_CHANNELS) {
    throw new ShapeError(`attentionFlash: at most ${FLASH_MAX_CHANNELS} channels, got ${channels}`);
  }
  const channelTexels = texels(channels);
  let channelGroups = 1;
  while (channelGroups * 4 < channelTexels) channelGroups *= 2;
  const layout = {
    channelGroups,
    channelTexels: Math.ceil(channelTexels / channelGroups),
    rowsPerInvocation: Math.min(8, channelGroups),
    keysPerInvocation: 8,
  };
  if (flashWorkgroupBytes(layout) > workgroupStorageBytes) layout.keysPerInvocation = 4;
  return layout;
}

/** No-grad forward with an online softmax: out [N, C, H, W] without any L×L intermediate. */
export function attentionFlash(rt: Runtime, out: TensorRef, qkv: TensorRef): void {
  const g = attentionGeometry(qkv.shape);
  const { channels: c, tokens: l } = g;
  expectShape(out.shape, g.outShape, "selfAttention output");
  const layout = flashLayout(c, rt.device.limits.maxComputeWorkgroupStorageSize);
  const rowsL = roundUp4(l);
  for (const [start, count] of sampleChunks(g.samples, rowsL, rt.device.limits.maxTextureDimension2D)) {
    const queriesT = pack(rt, block(qkv, g, 0, start, true), count);
    const keysT = pack(rt, block(qkv, g, 1, start, true), count);
    const valuesT = pack(rt, block(qkv, g, 2, start, true), count);
    rt.dispatch({
      pipeline: rt.pipeline("attention-flash", { ...layout }, () => attentionFlashSource(layout)),
      uniforms: new Uniforms().u32(l, c, texels(c), rowsL).f32(1 / Math.sqrt(c)).u32(start * c * l, c * l),
      bindings: [out.buffer, queriesT.createView(), keysT.createView(), valuesT.createView()],
      workgroups: [Math.ceil(l / flashRowsPerWorkgroup(layout)), count],
    });
    for (const t of [queriesT, keysT, valuesT]) rt.releaseTexture(t);
  }
}
