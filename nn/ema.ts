/**
 * An exponential moving average of model weights in persistent device buffers (sampling from the
 * averaged weights is markedly better for diffusion models; Ho et al. 2020 use decay 0.9999).
 * @module
 */
import { emaUpdate, swapContents } from "../kernels/adam.ts";
import { formatShape, ShapeError } from "../base/errors.ts";
import { getRuntime, Tensor } from "./tensor.ts";

/**
 * Shadow copies s of parameters p, updated as s ← d·s + (1 − d)·p with the warmed-up decay
 * d = min(decay, (1 + n) / (10 + n)) after n updates. The warm-up (as in TensorFlow's
 * `ExponentialMovingAverage` with `num_updates`) keeps a short run's average from being dominated by
 * the random initial weights: with a constant 0.999, 37 % of the average is still the initialization
 * after 1000 steps.
 */
export class EMA {
  /** The averaged tensors, in the order of the exported state. */
  readonly params: readonly Tensor[];
  /** Largest weight of the old average in an update (reached after about 10/(1 − decay) updates). */
  readonly decay: number;
  /** Updates folded in so far (restore it on resume: it sets the warm-up). */
  updates = 0;
  private readonly shadows: Tensor[];

  /** Starts the averages at the parameters' current values. */
  constructor(params: readonly Tensor[], decay = 0.9999) {
    this.params = params;
    this.decay = decay;
    if (!(decay >= 0 && decay <= 1)) throw new RangeError(`EMA decay must be in [0, 1], got ${decay}`);
    const rt = getRuntime();
    this.shadows = params.map((p) => {
      const shadow = Tensor.empty(p.shape, { persistent: true, name: `${p.name ?? "param"}.ema` });
      rt.copyBuffer(p.buffer, 0, shadow.buffer, 0, p.size * 4);
      return shadow;
    });
  }

  /**
   * Folds the current parameters into the averages (one fused kernel per tensor); with a `guard` from
   * `finiteGuard`, skipped on the GPU when the step's loss was not finite.
   */
  update(guard: Tensor | null = null): void {
    const rt = getRuntime();
    const decay = this.nextDecay();
    this.params.forEach((p, i) => emaUpdate(rt, this.shadows[i]!, p, decay, guard));
  }

  /** The decay of the next update, counting it (for fusing the update into the optimizer's pass). */
  nextDecay(): number {
    this.updates++;
    return Math.min(this.decay, this.updates / (this.updates + 9));
  }

  /** The shadow of parameter `index` (for fusing the update into the optimizer's pass). */
  shadowOf(index: number): Tensor {
    const shadow = this.shadows[index];
    if (!shadow) throw new ShapeError(`EMA has no parameter ${index}`);
    return shadow;
  }

  /** Overwrites the parameters (or other tensors of the same sizes) with the averages. @throws {ShapeError} */
  copyTo(params: readonly Tensor[] = this.params): void {
    const rt = getRuntime();
    if (params.length !== this.shadows.length || params.some((p, i) => p.size !== this.shadows[i]!.size)) {
      throw new ShapeError("EMA.copyTo: the tensors do not match the averaged parameters");
    }
    params.forEach((p, i) => rt.copyBuffer(this.shadows[i]!.buffer, 0, p.buffer, 0, p.size * 4));
  }

  /** Exchanges parameters and averages in place: call before sampling and again after to restore. */
  swap(): void {
    const rt = getRuntime();
    this.params.forEach((p, i) => swapContents(rt, p, this.shadows[i]!));
  }

  /** The averages on the host, in parameter order (one round trip). */
  exportState(): Promise<Float32Array[]> {
    return Promise.all(this.shadows.map((s) => s.read()));
  }

  /** Restores averages from {@link exportState}. @throws {ShapeError} when sizes differ */
  importState(values: readonly Float32Array[]): void {
    const rt = getRuntime();
    if (values.length !== this.shadows.length) {
      throw new ShapeError(`EMA state holds ${values.length} tensors for ${this.shadows.length} parameters`);
    }
    values.forEach((data, i) => {
      const shadow = this.shadows[i]!;
      if (data.length !== shadow.size) {
        throw new ShapeError(`EMA state ${i}: ${data.length} values for ${formatShape(shadow.shape)}`);
      }
      rt.write(shadow.buffer, data as Float32Array<ArrayBuffer>);
    });
  }

  /** Frees the shadow buffers. */
  dispose(): void {
    for (const s of this.shadows) s.dispose();
  }
}
