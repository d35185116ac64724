/**
 * A progress line for long work (training, upscaling): done/total, named values such as epoch and smoothed
 * loss, throughput and ETA. On a terminal it redraws in place through `cli-progress` (throttled redraws,
 * messages printed above the bar); elsewhere (CI, a log file) it prints a plain line every few seconds.
 *
 * What is written here rather than taken from cli-progress 3.12: the rate (it has no `it/s` token), the ETA
 * over a 30 s time window (its ETA buffer counts the last 10 updates, half a second of training steps, so
 * it jumps), and the plain output (its non-TTY mode repeats the line, then a blank one, every 2 s whether
 * or not anything moved); all three run on an injectable clock, which its `Date.now` timers do not.
 * @module
 */
import { cliProgress } from "../deps.ts";
import process from "node:process";

/** The part of cli-progress's MultiBar used here; the package ships no type declarations. */
interface TerminalBars {
  create(total: number, startValue: number): { update(value: number): void };
  log(text: string): void;
  update(): void;
  stop(): void;
  on(event: "start" | "update-post", listener: () => void): void;
  /** The pending redraw (Node's Timeout); rescheduled after every redraw. */
  timer: { unref?: () => void } | null;
}
const { MultiBar } = cliProgress as { MultiBar: new (options: Record<string, unknown>) => TerminalBars };

/** Where the progress goes: anything with `write`; `isTTY` selects redrawing, `columns` the width. */
export interface ProgressStream {
  /** true for an interactive terminal */
  isTTY?: boolean;
  /** terminal width in characters */
  columns?: number;
  /** writes text as is */
  write(text: string): unknown;
}

/** Named values shown after the counts, e.g. `{ epoch: 3, loss: 0.0512 }`, in insertion order. */
export type ProgressValues = Record<string, number | string>;

/** Options of {@linkcode ProgressLine}. */
export interface ProgressOptions {
  /** Total amount of work, in units (steps, tiles). */
  total: number;
  /** Word in front of the line (default "progress"). */
  label?: string;
  /** Name of one unit of work, used in the rate: "it" (default) gives "it/s" or "s/it". */
  unit?: string;
  /**
   * Output stream (default: standard error, so that progress never mixes with data a command prints on
   * standard output, such as `--json`).
   */
  stream?: ProgressStream;
  /** Milliseconds between plain lines when the stream is not a terminal (default 10 000). */
  plainIntervalMs?: number;
  /** Milliseconds between terminal redraws (default 100). */
  redrawIntervalMs?: number;
  /** Time window over which the rate is measured, in milliseconds (default 30 000). */
  rateWindowMs?: number;
  /** Clock in milliseconds (default `performance.now`), replaceable in tests. */
  now?: () => number;
}

/** Everything one progress line shows. */
export interface ProgressSnapshot {
  /** see {@linkcode ProgressOptions.label} */
  label: string;
  /** see {@linkcode ProgressOptions.unit} */
  unit: string;
  /** units done */
  done: number;
  /** units in all */
  total: number;
  /** latest named values */
  values: ProgressValues;
  /** units per second, or null before two updates have been timed */
  rate: number | null;
  /** seconds since the line was created */
  elapsedSeconds: number;
  /** whether the work is finished (shows the elapsed time instead of the ETA) */
  finished: boolean;
}

/**
 * A progress line. Call {@linkcode ProgressLine.update} as work advances (as often as every step: output
 * is throttled), {@linkcode ProgressLine.log} for messages, and {@linkcode ProgressLine.finish} at the end.
 * Declared with `using progress = new ProgressLine(…)`, it also finishes when the block exits by an error,
 * so the final line is printed whatever happens.
 */
export class ProgressLine {
  #label: string;
  #unit: string;
  #total: number;
  #stream: ProgressStream;
  #now: () => number;
  #startedAt: number;
  #rate: RateMeter;
  #done = 0;
  #values: ProgressValues = {};
  #finished = false;
  #plainIntervalMs: number;
  #lastPlainAt = -Infinity;
  #terminal: { bars: TerminalBars; bar: { update(value: number): void } } | null = null;

  /** Starts the clock; on a terminal the bar appears at once. */
  constructor(options: ProgressOptions) {
    this.#label = options.label ?? "progress";
    this.#unit = options.unit ?? "it";
    this.#total = options.total;
    this.#stream = options.stream ?? process.stderr;
    this.#now = options.now ?? (() => performance.now());
    this.#startedAt = this.#now();
    this.#rate = new RateMeter(options.rateWindowMs ?? 30_000);
    this.#plainIntervalMs = options.plainIntervalMs ?? 10_000;
    if (this.#stream.isTTY === true) {
      const bars = new MultiBar({
        stream: this.#stream,
        fps: 1000 / (options.redrawIntervalMs ?? 100),
        // Leave the terminal's wrap mode and cursor alone: a killed process cannot restore them.
        linewrap: true,
        hideCursor: false,
        format: (_options: unknown, params: { maxWidth: number }) => this.#terminalLine(params.maxWidth),
      });
      // The redraw timer must not keep the process alive if a caller never finishes (an error path that
      // returns an exit code): unref each one as it is scheduled.
      const unrefTimer = (): void => bars.timer?.unref?.();
      bars.on("start", unrefTimer);
      bars.on("update-post", unrefTimer);
      this.#terminal = { bars, bar: bars.create(this.#total, 0) };
    }
  }

  /** Records progress: `done` units of the total, with the latest named values (merged into earlier ones). */
  update(done: number, values: ProgressValues = {}): void {
    if (this.#finished) return;
    this.#done = done;
    this.#values = { ...this.#values, ...values };
    const now = this.#now();
    this.#rate.add(now, done);
    if (this.#terminal !== null) {
      this.#terminal.bar.update(done);
    } else if (now - this.#lastPlainAt >= this.#plainIntervalMs) {
      this.#lastPlainAt = now;
      this.#stream.write(formatProgress(this.snapshot()) + "\n");
    }
  }

  /** Prints a message on its own line, above the bar on a terminal. */
  log(message: string): void {
    if (this.#terminal !== null && !this.#finished) {
      this.#terminal.bars.log(message + "\n");
      this.#terminal.bars.update(); // draw now: a buffered message would be lost if finish() came first
    } else {
      this.#stream.write(message + "\n");
    }
  }

  /** Prints the final line (with the elapsed time) and stops redrawing. Calling it again does nothing. */
  finish(values: ProgressValues = {}): void {
    if (this.#finished) return;
    this.#values = { ...this.#values, ...values };
    this.#finished = true;
    if (this.#terminal !== null) {
      this.#terminal.bar.update(this.#done);
      this.#terminal.bars.stop();
    } else {
      this.#stream.write(formatProgress(this.snapshot()) + "\n");
    }
  }

  /** Finishes the line (see {@linkcode ProgressLine.finish}) when a `using` declaration goes out of scope. */
  [Symbol.dispose](): void {
    this.finish();
  }

  /** What the line shows now. */
  snapshot(): ProgressSnapshot {
    return {
      label: this.#label,
      unit: this.#unit,
      done: this.#done,
      total: this.#total,
      values: this.#values,
      rate: this.#rate.rate(),
      elapsedSeconds: (this.#now() - this.#startedAt) / 1000,
      finished: this.#finished,
    };
  }

  #terminalLine(maxWidth: number): string {
    const snapshot = this.snapshot();
    const fraction = snapshot.total > 0 ? Math.min(1, Math.max(0, snapshot.done / snapshot.total)) : 0;
    const filled = Math.round(fraction * BAR_WIDTH);
    const withBar = formatProgress(snapshot, "\u2588".repeat(filled) + "\u2591".repeat(BAR_WIDTH - filled));
    // One column short of the width: a full-width line makes some terminals wrap before the redraw.
    // A narrow terminal gets the line without the bar, cut at the width.
    if (withBar.length < maxWidth) return withBar;
    return formatProgress(snapshot).slice(0, Math.max(0, maxWidth - 1));
  }
}

/** Bar cells: a fixed width keeps the bar from jumping as the values change length. */
const BAR_WIDTH = 12;

/**
 * Formats a progress line, e.g. `train 1200/5000 24% | epoch 3, loss 0.0512 | 3.42 it/s | 5m50s, ETA 18m31s`
 * (the elapsed time, then the estimate); with `bar`, it goes between the label and the counts. A finished
 * line ends with `took 24m10s` instead.
 */
export function formatProgress(snapshot: ProgressSnapshot, bar?: string): string {
  const percent = snapshot.total > 0 ? Math.floor((100 * snapshot.done) / snapshot.total) : 0;
  const values = Object.entries(snapshot.values).map(([name, value]) =>
    `${name} ${formatProgressValue(value)}`
  );
  const remaining = estimateRemainingSeconds(snapshot.done, snapshot.total, snapshot.rate);
  const timing = snapshot.finished
    ? `took ${formatDuration(snapshot.elapsedSeconds)}`
    : `${formatDuration(snapshot.elapsedSeconds)}, ETA ${
      remaining === null ? "--" : formatDuration(remaining)
    }`;
  return [
    [snapshot.label, bar, `${snapshot.done}/${snapshot.total}`, `${percent}%`].filter(Boolean).join(" "),
    ...(values.length > 0 ? [values.join(", ")] : []),
    formatRate(snapshot.rate, snapshot.unit),
    timing,
  ].join(" | ");
}

/** Seconds left at `rate` units per second, or null when the rate is unknown or zero. */
export function estimateRemainingSeconds(done: number, total: number, rate: number | null): number | null {
  if (rate === null || !(rate > 0)) return null;
  return Math.max(0, total - done) / rate;
}

/** A duration as `42s`, `3m05s`, `1h02m` or `2d03h` (rounded down to the unit shown last). */
export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.floor(seconds));
  const two = (value: number): string => String(value).padStart(2, "0");
  if (whole < 60) return `${whole}s`;
  if (whole < 3600) return `${Math.floor(whole / 60)}m${two(whole % 60)}s`;
  if (whole < 86400) return `${Math.floor(whole / 3600)}h${two(Math.floor(whole / 60) % 60)}m`;
  return `${Math.floor(whole / 86400)}d${two(Math.floor(whole / 3600) % 24)}h`;
}

/** Throughput as `3.42 it/s`, or `12.5 s/it` when slower than one unit per second (as tqdm does). */
export function formatRate(rate: number | null, unit: string): string {
  if (rate === null) return `-- ${unit}/s`;
  if (rate >= 1 || rate === 0) return `${significant(rate)} ${unit}/s`;
  return `${significant(1 / rate)} s/${unit}`;
}

/** A value with 4 significant digits (integers as they are), tiny or huge ones in exponent notation. */
export function formatProgressValue(value: number | string): string {
  if (typeof value === "string") return value;
  if (Number.isInteger(value) && Math.abs(value) < 1e9) return String(value);
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e6)) {
    return value.toExponential(2).replace("e+", "e");
  }
  return String(Number(value.toPrecision(4)));
}

function significant(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

/** Units per second over a sliding time window, so the rate follows changes (and ignores slow warm-up). */
export class RateMeter {
  #windowMs: number;
  #samples: { time: number; done: number }[] = [];

  /**
   * Creates an empty meter.
   * @param windowMs how far back samples count, in milliseconds
   */
  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** Records that `done` units were complete at `timeMs`. */
  add(timeMs: number, done: number): void {
    this.#samples.push({ time: timeMs, done });
    // Keep the newest sample older than the window as the baseline, so the window is always covered.
    while (this.#samples.length > 2 && timeMs - (this.#samples[1]?.time ?? timeMs) >= this.#windowMs) {
      this.#samples.shift();
    }
  }

  /** Units per second between the oldest and newest kept samples, or null with fewer than two. */
  rate(): number | null {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (first === undefined || last === undefined || last.time <= first.time) return null;
    return ((last.done - first.done) * 1000) / (last.time - first.time);
  }
}
