/**
 * GPU time per kernel from timestamp queries: while profiling, every dispatch gets its own compute
 * pass with begin/end timestamps, resolved at each submit and summed per kernel name. For finding
 * where a training or sampling step spends its time (bench/), not for production runs: one pass per
 * dispatch is slower than batching them.
 * @module
 */

/** Accumulated GPU time of one kernel. */
export interface KernelTime {
  /** Pipeline label (kernel name and compile-time options). */
  kernel: string;
  /** Dispatches measured. */
  dispatches: number;
  /** Total GPU milliseconds. */
  ms: number;
}

/** Collects per-dispatch timestamps into per-kernel totals. */
export class KernelProfiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private labels: string[] = [];
  private readonly totals = new Map<string, { dispatches: number; ns: number }>();
  private readonly pending: Promise<void>[] = [];

  /** @param capacity dispatches per submit (the runtime flushes before exceeding it) */
  constructor(private readonly device: GPUDevice, readonly capacity: number) {
    this.querySet = device.createQuerySet({ type: "timestamp", count: 2 * capacity });
    this.resolveBuffer = device.createBuffer({
      size: 16 * capacity,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
  }

  /** Dispatches recorded since the last resolve. */
  get recorded(): number {
    return this.labels.length;
  }

  /** Opens a timed compute pass for one dispatch of `label`. */
  beginPass(encoder: GPUCommandEncoder, label: string): GPUComputePassEncoder {
    const index = this.labels.length;
    this.labels.push(label);
    return encoder.beginComputePass({
      timestampWrites: {
        querySet: this.querySet,
        beginningOfPassWriteIndex: 2 * index,
        endOfPassWriteIndex: 2 * index + 1,
      },
    });
  }

  /** Records the resolve of this batch's timestamps into `encoder`; returns a function to call after submit. */
  resolve(encoder: GPUCommandEncoder): (() => void) | null {
    const count = this.labels.length;
    if (count === 0) return null;
    const staging = this.device.createBuffer({
      size: 16 * count,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    encoder.resolveQuerySet(this.querySet, 0, 2 * count, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, staging, 0, 16 * count);
    const labels = this.labels;
    this.labels = [];
    return () => {
      this.pending.push(
        staging.mapAsync(GPUMapMode.READ).then(() => {
          const stamps = new BigUint64Array(staging.getMappedRange());
          labels.forEach((label, i) => {
            const ns = Number(stamps[2 * i + 1]! - stamps[2 * i]!);
            const total = this.totals.get(label) ?? { dispatches: 0, ns: 0 };
            total.dispatches++;
            total.ns += ns;
            this.totals.set(label, total);
          });
          staging.unmap();
          staging.destroy();
        }),
      );
    };
  }

  /** Per-kernel totals so far, slowest first (waits for outstanding resolves). */
  async report(): Promise<KernelTime[]> {
    await Promise.all(this.pending.splice(0));
    return [...this.totals].map(([kernel, t]) => ({ kernel, dispatches: t.dispatches, ms: t.ns / 1e6 }))
      .sort((a, b) => b.ms - a.ms);
  }

  /** Frees the query set and buffers. */
  destroy(): void {
    this.querySet.destroy();
    this.resolveBuffer.destroy();
  }
}
