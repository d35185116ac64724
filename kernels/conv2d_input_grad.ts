/**
 * Dispatcher for the conv2d input gradient: the transposed convolution, run as the forward kernels of
 * `conv2d.ts` once per stride phase (see `conv2d.wgsl.ts`).
 * @module
 */
import {
  type Conv2dGeometry,
  conv2dGeometry,
  type Conv2dOptions,
  registerTiled,
  workgroupTiled,
} from "./conv2d.ts";
import { conv2dPointwiseInputGrad, takesPointwise } from "./conv2d_pointwise.ts";
import type { GemmFamily } from "./gemm.wgsl.ts";
import { fitsLinear, fitsProduct, fitsTexture, packConvWeights, packImage, texelsOf } from "./pack.ts";
import type { Runtime } from "./runtime.ts";
import { forSampleChunks, largestFitting } from "./sample_chunks.ts";
import { expectShape, type TensorRef } from "./shape_math.ts";
import { gemmFamily } from "./variants.ts";

/**
 * dx = the gradient of conv2d with respect to its input x (shape `dx.shape`), given dy and w:
 * the transposed convolution. `family` defaults to the runtime's choice.
 */
export function conv2dBackwardInput(
  rt: Runtime,
  dx: TensorRef,
  dy: TensorRef,
  w: TensorRef,
  options: Conv2dOptions = {},
  family: GemmFamily = gemmFamily(rt),
): void {
  const g = conv2dGeometry(dx.shape, w.shape, null, options);
  expectShape(dy.shape, g.outShape, "conv2d input-grad dy");
  if (family === "register-tiled" && takesPointwise(rt, g)) {
    conv2dPointwiseInputGrad(rt, dx, dy, w, g);
    return;
  }
  const phases = inputGradPhases(g);
  // dY sits k − 1 texels in; the far border reaches every texel a phase reads.
  const border = g.kernel - 1;
  const reach = (axis: PhaseAxis): number => border + axis.origin + axis.size + Math.max(axis.taps, 1) - 1;
  const width = Math.max(border + g.outWidth, ...phases.map((ph) => reach(ph.x)));
  const height = Math.max(border + g.outHeight, ...phases.map((ph) => reach(ph.y)));
  const outTexels = texelsOf(g.outChannels);
  const sampleSize = dy.size / g.samples;
  const fits = (n: number): boolean =>
    fitsTexture(rt, width, height, n * outTexels) &&
    fitsTexture(rt, texelsOf(g.inChannels), 4 * g.kernel * g.kernel * outTexels) &&
    fitsLinear(rt, n * sampleSize) &&
    phases.every((ph) => fitsProduct(rt, n * ph.y.size * ph.x.size, g.inChannels, 1));
  const chunk = family === "register-tiled" ? largestFitting(g.samples, fits) : 0;
  if (chunk === 0) {
    workgroupTiled(rt, dx, dy, w, null, g, "input-grad");
    return;
  }
  forSampleChunks(
    rt,
    chunk,
    [dy],
    [dx],
    ([dys], [dxs], samples) =>
      inputGradRegisterTiled(rt, dxs!, dys!, w, { ...g, samples }, phases, border, width, height),
  );
}

/** The register-tiled input gradient: one packed dY, one dispatch per stride phase. */
function inputGradRegisterTiled(
  rt: Runtime,
  dx: TensorRef,
  dy: TensorRef,
  w: TensorRef,
  g: Conv2dGeometry,
  phases: readonly Phase[],
  border: number,
  width: number,
  height: number,
): void {
  const image = packImage(
    rt,
    {
      buffer: dy.buffer,
      samples: g.samples,
      channels: g.outChannels,
      height: g.outHeight,
      width: g.outWidth,
    },
    border,
    width,
    height,
  );
  const { kernel, stride } = g;
  for (const ph of phases) {
    const weights = packConvWeights(rt, {
      buffer: w.buffer,
      kernel,
      outCount: g.inChannels,
      outStride: kernel * kernel,
      innerCount: g.outChannels,
      innerStride: g.inChannels * kernel * kernel,
      tapsY: ph.y.taps,
      tapsX: ph.x.taps,
      kyBase: ph.y.firstTap + stride * (ph.y.taps - 1),
      kyStep: -stride,
      kxBase: ph.x.firstTap + stride * (ph.x.taps - 1),
      kxStep: -stride,
    });
    registerTiled(rt, dx, image, weights, null, dy.buffer, {
      samples: g.samples,
      latticeWidth: ph.x.size,
      latticeHeight: ph.y.size,
      channels: g.outChannels,
      tapsY: ph.y.taps,
      tapsX: ph.x.taps,
      inputStride: 1,
      inputX: ph.x.origin + border,
      inputY: ph.y.origin + border,
      outChannels: g.inChannels,
      outStep: stride,
      outX: ph.x.phase,
      outY: ph.y.phase,
      outWidth: g.width,
      outHeight: g.height,
    });
    rt.releaseTexture(weights);
  }
  rt.releaseTexture(image);
}

/**
 * One axis of an input-grad stride phase: input positions phase, phase + s, … (`size` of them)
 * receive dY rows origin + i − t′ … through the flipped taps t′ = taps − 1 − t, kernel row
 * firstTap + s·t.
 */
interface PhaseAxis {
  phase: number;
  size: number;
  taps: number;
  firstTap: number;
  /** dY position read by lattice 0 at flipped tap 0 (may be negative: the border covers it). */
  origin: number;
}

interface Phase {
  y: PhaseAxis;
  x: PhaseAxis;
}

function phaseAxis(phase: number, extent: number, g: Conv2dGeometry): PhaseAxis {
  const { kernel, stride, padding } = g;
  const firstTap = (phase + padding) % stride;
  const taps = firstTap < kernel ? Math.ceil((kernel - firstTap) / stride) : 0;
  const size = Math.ceil((extent - phase) / stride);
  // Input y = s·i + phase meets kernel row firstTap + s·t at dY row (y + p − ky)/s = i + q − t.
  const q = (phase + padding - firstTap) / stride;
  return { phase, size, taps, firstTap, origin: q - Math.max(taps - 1, 0) };
}

/** The stride phases (y mod s, x mod s) that hold input pixels. */
function inputGradPhases(g: Conv2dGeometry): Phase[] {
  const phases: Phase[] = [];
  for (let py = 0; py < Math.min(g.stride, g.height); py++) {
    for (let px = 0; px < Math.min(g.stride, g.width); px++) {
      phases.push({ y: phaseAxis(py, g.height, g), x: phaseAxis(px, g.width, g) });
    }
  }
  return phases;
}
