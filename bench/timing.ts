/**
 * Kernel timing that cancels Deno's ~11 ms submit-to-fence round trip: the slope between one
 * submit of 1 call and one submit of 1 + k calls, each followed by a wait for the GPU.
 *
 * Each of the two submits is repeated and its fastest time kept, then the slope is taken
 * (like `timeit`'s minimum): other processes on the machine only ever add time, and a difference of
 * two noisy times — what a median of per-repeat slopes averages over — can come out far too small
 * or even negative when one of them is hit.
 * @module
 */

/** Options of {@link slopeMs}. */
export interface SlopeOptions {
  /** Repetitions of each submit; the fastest of each is used (default 5). */
  repeats?: number;
  /** Aim for the long submit to take about this long in total (default 1000 ms). */
  targetMs?: number;
  /** Bounds on k, the extra calls of the long submit (default 1 and 8). */
  minExtra?: number;
  /** Upper bound on k. */
  maxExtra?: number;
}

/**
 * Milliseconds per `call` (which records GPU work without waiting), given `sync` that waits for all
 * recorded work. A first submit compiles pipelines and sizes k so the long submit lasts about
 * `targetMs`.
 */
export async function slopeMs(
  call: () => void,
  sync: () => Promise<void>,
  options: SlopeOptions = {},
): Promise<number> {
  const timeSubmit = async (calls: number): Promise<number> => {
    const start = performance.now();
    for (let i = 0; i < calls; i++) call();
    await sync();
    return performance.now() - start;
  };
  await timeSubmit(1);
  const estimate = await timeSubmit(1);
  const extra = Math.round(
    Math.min(
      options.maxExtra ?? 8,
      Math.max(options.minExtra ?? 1, (options.targetMs ?? 1000) / Math.max(estimate, 1)),
    ),
  );
  let one = Infinity;
  let many = Infinity;
  for (let r = 0; r < (options.repeats ?? 5); r++) {
    one = Math.min(one, await timeSubmit(1));
    many = Math.min(many, await timeSubmit(1 + extra));
  }
  return (many - one) / extra;
}
