/**
 * What every `sr3` command shares: turning library errors into one line and an exit code, parsing
 * numbers and lists, and printing data as JSON or text.
 * @module
 */
import { InvalidArgumentError } from "../deps.ts";
import {
  describeError,
  describeFileSystemError,
  isFileSystemError,
  Sr3Error,
  UsageError,
} from "../base/errors.ts";
import type { MetricPair } from "../diffusion/evaluate.ts";

/** Exit codes: 0 ok, 1 the work failed (bad input file, device problem), 2 bad usage. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/**
 * The one line a user sees for a known error: sr3's own errors (and invalid-knob RangeErrors) as they
 * are; a file-system error from the OS (read-only, full disk, permission) with the path Deno names and
 * the problem in words. Null for anything else: a bug.
 */
export function userFacingMessage(error: unknown): string | null {
  if (error instanceof Sr3Error || error instanceof RangeError) return describeError(error);
  if (isFileSystemError(error)) {
    // Deno's messages read "<OS text> (os error N): <syscall> '<path>'": keep the path, say the problem.
    const path = /'([^']+)'/.exec(describeError(error))?.[1];
    return `${path ?? "file system"}: ${describeFileSystemError(error)}`;
  }
  return null;
}

/**
 * Runs a command body: a known error becomes `sr3 <command>: <message>` on stderr and exit 1; anything
 * else is a bug, printed with its stack so it can be reported.
 */
export async function runCommand(name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    const message = userFacingMessage(error);
    if (message !== null) {
      console.error(`sr3 ${name}: ${message}`);
    } else {
      console.error(`sr3 ${name}: unexpected error (please report it):`);
      console.error(error);
    }
    Deno.exit(error instanceof UsageError ? EXIT.usage : EXIT.failure);
  }
}

/** Parses a number option; usage errors name the option. */
export function parseNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) {
    throw new InvalidArgumentError(`"${value}" is not a number.`);
  }
  return n;
}

/** The bounds of a numeric option; `exclusive` bounds are not themselves valid. */
export interface NumberRange {
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
  integer?: boolean;
}

/** The range in words, e.g. "a number > 0", "a number in [0, 1)", "an integer ≥ 8". */
export function describeRange(range: NumberRange): string {
  const kind = range.integer ? "an integer" : "a number";
  const { min, max } = range;
  if (min !== undefined && max !== undefined) {
    return `${kind} in ${range.minExclusive ? "(" : "["}${min}, ${max}${range.maxExclusive ? ")" : "]"}`;
  }
  if (min !== undefined) return `${kind} ${range.minExclusive ? ">" : "≥"} ${min}`;
  if (max !== undefined) return `${kind} ${range.maxExclusive ? "<" : "≤"} ${max}`;
  return kind;
}

/** A parser for a number option that accepts only `range`; the usage error (exit 2) states the range. */
export function parseNumberIn(range: NumberRange): (value: string) => number {
  return (value: string): number => {
    const n = parseNumber(value);
    const { min, max } = range;
    const below = min !== undefined && (range.minExclusive ? n <= min : n < min);
    const above = max !== undefined && (range.maxExclusive ? n >= max : n > max);
    if (below || above || (range.integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`"${value}" is out of range: expected ${describeRange(range)}.`);
    }
    return n;
  };
}

/** Parses a positive integer option. */
export function parsePositiveInt(value: string): number {
  const n = parseNumber(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`"${value}" is not a positive integer.`);
  return n;
}

/** Parses a non-negative integer option. */
export function parseNonNegativeInt(value: string): number {
  const n = parseNumber(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new InvalidArgumentError(`"${value}" is not a non-negative integer.`);
  }
  return n;
}

/** Parses a comma-separated list of integers, e.g. `1,2,4,4,8,8`. */
export function parseIntList(value: string): number[] {
  const parts = value.split(",").map((p) => p.trim()).filter((p) => p.length > 0);
  if (parts.length === 0 && value.trim() !== "") throw new InvalidArgumentError(`"${value}" is not a list.`);
  return parts.map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`"${p}" in "${value}" is not an integer.`);
    return n;
  });
}

/** Parses 1-based band numbers (`1,2,3`, as GDAL and ArcGIS count) into 0-based indices. */
export function parseBands(value: string): number[] {
  return parseIntList(value).map((band) => {
    if (band < 1) throw new InvalidArgumentError(`band ${band} in "${value}": bands are numbered from 1.`);
    return band - 1;
  });
}

/** Parses one of a fixed set of words, suggesting the valid ones. */
export function parseChoice<T extends string>(choices: readonly T[]): (value: string) => T {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`"${value}" is not one of ${choices.join(", ")}.`);
    }
    return value as T;
  };
}

/**
 * Prints `value` as pretty JSON on stdout. JSON has no infinity (JSON.stringify would write null, e.g.
 * the PSNR of identical images): ±Infinity is written as the strings "inf" / "-inf", NaN stays null.
 */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, (_key, v) => v === Infinity ? "inf" : v === -Infinity ? "-inf" : v, 2));
}

/** Formats a byte count as MiB/GiB. */
export function formatBytes(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** Parses `x,y,width,height` in pixels. */
export function parseRegion(value: string): { x: number; y: number; width: number; height: number } {
  const parts = parseIntList(value);
  if (parts.length !== 4 || parts.some((p) => p < 0) || parts[2] === 0 || parts[3] === 0) {
    throw new InvalidArgumentError(`"${value}" is not x,y,width,height in pixels.`);
  }
  const [x, y, width, height] = parts as [number, number, number, number];
  return { x, y, width, height };
}

/** The table's columns: header, how wide, and how a value prints (NaN: undefined, e.g. a black image). */
const METRIC_COLUMNS: {
  header: string;
  width: number;
  format: (m: MetricPair) => number | undefined;
  digits: number;
}[] = [
  { header: "PSNR (dB)", width: 9, format: (m) => m.PSNR, digits: 2 },
  { header: "SSIM", width: 6, format: (m) => m.SSIM, digits: 4 },
  { header: "SAM (°)", width: 7, format: (m) => m.SAM, digits: 2 },
  { header: "ERGAS", width: 6, format: (m) => m.ERGAS, digits: 2 },
  { header: "HF ratio", width: 8, format: (m) => m.HF, digits: 3 },
];

function formatValue(value: number, digits: number): string {
  if (Number.isNaN(value)) return "n/a";
  if (value === Infinity) return "inf";
  return value.toFixed(digits);
}

/** A metrics table: one row per scored image, one column per metric that was computed. */
export function formatMetricsTable(rows: [string, MetricPair][]): string[] {
  const columns = METRIC_COLUMNS.filter((column) => rows.some(([, m]) => column.format(m) !== undefined));
  const labelWidth = Math.max(...rows.map(([label]) => label.length));
  const line = (label: string, cells: string[]) =>
    [label.padEnd(labelWidth), ...cells.map((cell, i) => cell.padStart(columns[i]!.width))].join("   ");
  return [
    line("", columns.map((column) => column.header)),
    ...rows.map(([label, m]) =>
      line(label, columns.map((column) => formatValue(column.format(m) ?? Number.NaN, column.digits)))
    ),
  ];
}
