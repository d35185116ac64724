/**
 * The benchmark's GEMM and conv2d cases through tfjs-backend-webgpu 4.22 — the reference point
 * sr3 is compared against — timed the same way (the slope between a submit of 1 call and one of
 * 1 + k calls, so the fence round trip cancels). tfjs initialises under Deno as it is: its backend
 * only needs `navigator.gpu` and asks for a "high-performance" adapter, as sr3's runtime does.
 * Convolutions run in tfjs's native NHWC layout, with the same FLOPs as sr3's NCHW.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-webgpu";
import type { KernelCase } from "./kernels.ts";
import { slopeMs, type SlopeOptions } from "./timing.ts";

/** Makes tfjs-backend-webgpu the active tfjs backend. @throws {Error} when it cannot start */
export async function initTfjs(): Promise<void> {
  if (!await tf.setBackend("webgpu")) throw new Error("tfjs-backend-webgpu did not initialise");
  await tf.ready();
}

/** The tfjs call of one case: returns the result tensor (the caller disposes it). */
function tfjsCall(c: KernelCase): { call: () => tf.Tensor; inputs: tf.Tensor[] } {
  if (c.kind === "gemm") {
    const [a, b] = [tf.randomNormal([c.size, c.size]), tf.randomNormal([c.size, c.size])];
    return { call: () => tf.matMul(a, b), inputs: [a, b] };
  }
  const image = [1, c.side, c.side, c.channels] as [number, number, number, number];
  const filterShape = [3, 3, c.channels, c.channels] as [number, number, number, number];
  const x = tf.randomNormal(image) as tf.Tensor4D;
  const filter = tf.randomNormal(filterShape) as tf.Tensor4D;
  const dy = tf.randomNormal(image) as tf.Tensor4D;
  const bias = tf.randomNormal([c.channels]) as tf.Tensor1D;
  const inputs = [x, filter, dy, bias];
  if (c.kind === "conv2d-forward") {
    return { call: () => tf.fused.conv2d({ x, filter, strides: 1, pad: "same", bias }), inputs };
  }
  if (c.kind === "conv2d-input-grad") {
    return { call: () => tf.conv2dTranspose(dy, filter, image, 1, "same"), inputs };
  }
  // The weight gradient has no public op; this is the kernel tf.grad of conv2d runs.
  const attrs = { strides: [1, 1], pad: "same", dataFormat: "NHWC", filterShape };
  return {
    call: () => tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, attrs) as tf.Tensor,
    inputs,
  };
}

/** Milliseconds per call of `c` in tfjs-backend-webgpu (after {@link initTfjs}). */
export async function timeTfjs(c: KernelCase, options: SlopeOptions = {}): Promise<number> {
  const { call, inputs } = tfjsCall(c);
  const results: tf.Tensor[] = [];
  const ms = await slopeMs(() => results.push(call()), async () => {
    // Reading the last result waits for everything queued before it; its size is the same for 1
    // and 1 + k calls, so the readback cancels in the slope.
    await results[results.length - 1]!.data();
    for (const r of results.splice(0)) r.dispose();
  }, options);
  for (const t of inputs) t.dispose();
  return ms;
}
