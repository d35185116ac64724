/**
 * GPU tensors: f32, row-major (NCHW for images), backed by a pooled storage buffer of the active
 * {@link Runtime}. Tensors are disposed explicitly or by a {@link tidy} scope, so long training and
 * sampling loops keep the pool's live bytes flat.
 * @module
 */
import { Runtime, type RuntimeOptions } from "../kernels/runtime.ts";
import { DeviceError, formatShape, ShapeError } from "../base/errors.ts";
import { fill } from "../kernels/elementwise.ts";
import type { TapeNode } from "./autodiff.ts";

let active: Runtime | null = null;

/** Creates a {@link Runtime} on the best adapter and makes it the one tensors are created on. */
export async function initRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  active = await Runtime.create(options);
  return active;
}

/** Makes `rt` the runtime new tensors are created on (`null` to clear it). */
export function setRuntime(rt: Runtime | null): void {
  active = rt;
}

/** The runtime new tensors are created on. @throws {DeviceError} before `initRuntime()` */
export function getRuntime(): Runtime {
  if (!active) throw new DeviceError("no sr3 runtime is active: call `await initRuntime()` first");
  return active;
}

/** A reference-counted GPU allocation; views (reshape, shared gradients) share one. */
class Storage {
  refs = 1;
  constructor(readonly rt: Runtime, readonly buffer: GPUBuffer, readonly persistent: boolean) {}

  unref(): void {
    if (--this.refs > 0) return;
    if (this.persistent) this.rt.destroyPersistent(this.buffer);
    else this.rt.release(this.buffer);
  }
}

const scopes: Set<Tensor>[] = [];

/** Number of elements of a shape. */
export function shapeSize(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}

function checkShape(shape: readonly number[], what: string): void {
  if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new ShapeError(
      `${what}: shape ${formatShape(shape)} must be a non-empty list of positive integers`,
    );
  }
}

/** Options for creating a tensor from host data. */
export interface TensorOptions {
  /** Track gradients for this tensor (a leaf: parameters, inputs under gradient checks). */
  requiresGrad?: boolean;
  /** Allocate outside the pool and outside any scope (model parameters, optimizer state). */
  persistent?: boolean;
  /** A name for error messages and checkpoints. */
  name?: string;
}

/** An f32 GPU tensor. */
export class Tensor {
  /** Dimensions, outermost first (NCHW for images). */
  readonly shape: readonly number[];
  /** Number of elements. */
  readonly size: number;
  /** Whether gradients flow to or through this tensor. */
  requiresGrad: boolean;
  /** Accumulated gradient of a leaf tensor after `backward()`. */
  grad: Tensor | null = null;
  /** The operation that produced this tensor, when recorded on the tape. */
  node: TapeNode | null = null;
  /** Optional name used in messages and checkpoints. */
  name: string | undefined;
  private storage: Storage | null;
  private releases: (() => void)[] | null = null;

  private constructor(storage: Storage, shape: readonly number[], options: TensorOptions = {}) {
    this.storage = storage;
    this.shape = Object.freeze([...shape]);
    this.size = shapeSize(shape);
    this.requiresGrad = options.requiresGrad ?? false;
    this.name = options.name;
    if (!storage.persistent) scopes[scopes.length - 1]?.add(this);
  }

  /** An uninitialised tensor from the pool (kernels overwrite every element). */
  static empty(shape: readonly number[], options: TensorOptions = {}): Tensor {
    checkShape(shape, options.name ?? "tensor");
    const rt = getRuntime();
    const bytes = shapeSize(shape) * 4;
    const storage = options.persistent
      ? new Storage(rt, rt.createPersistentBuffer(bytes, options.name), true)
      : new Storage(rt, rt.acquire(bytes), false);
    return new Tensor(storage, shape, options);
  }

  /** A tensor holding `data` (row-major, length = product of `shape`). */
  static fromArray(data: ArrayLike<number>, shape: readonly number[], options: TensorOptions = {}): Tensor {
    checkShape(shape, options.name ?? "tensor");
    if (data.length !== shapeSize(shape)) {
      throw new ShapeError(
        `${options.name ?? "tensor"}: ${data.length} values do not fill shape ${formatShape(shape)}`,
      );
    }
    const tensor = Tensor.empty(shape, options);
    const values = data instanceof Float32Array ? data : Float32Array.from(data);
    tensor.rt.write(tensor.buffer, values as Float32Array<ArrayBuffer>);
    return tensor;
  }

  /** A tensor filled with `value`. */
  static full(shape: readonly number[], value: number, options: TensorOptions = {}): Tensor {
    const tensor = Tensor.empty(shape, options);
    fill(tensor.rt, tensor, value);
    return tensor;
  }

  /** A tensor of zeros. */
  static zeros(shape: readonly number[], options: TensorOptions = {}): Tensor {
    return Tensor.full(shape, 0, options);
  }

  /** The runtime this tensor lives on. */
  get rt(): Runtime {
    return this.live().rt;
  }

  /** The storage buffer (at least `size` floats). @throws {DeviceError} when disposed */
  get buffer(): GPUBuffer {
    return this.live().buffer;
  }

  /** True once `dispose()` ran. */
  get isDisposed(): boolean {
    return this.storage === null;
  }

  /** Whether the storage lives outside the pool. */
  get isPersistent(): boolean {
    return this.live().persistent;
  }

  /** Returns this tensor's memory to the pool (views keep it alive until they are disposed too). */
  dispose(): void {
    if (!this.storage) return;
    for (const scope of scopes) scope.delete(this);
    this.storage.unref();
    this.storage = null;
    this.node = null;
    for (const release of this.releases?.splice(0) ?? []) release();
  }

  /**
   * Runs `release` when this tensor is disposed: ties a resource that only its op's backward reads
   * (a packed texture saved next to its statistics, say) to this tensor's lifetime.
   */
  onDispose(release: () => void): void {
    (this.releases ??= []).push(release);
  }

  /** Takes this tensor out of every scope: the caller now owns it and must dispose it. */
  keep(): this {
    for (const scope of scopes) scope.delete(this);
    return this;
  }

  /** A tensor with another shape of the same size sharing this storage (no copy, no tape entry). */
  view(shape: readonly number[]): Tensor {
    checkShape(shape, this.name ?? "tensor");
    if (shapeSize(shape) !== this.size) {
      throw new ShapeError(`cannot view ${formatShape(this.shape)} as ${formatShape(shape)}: sizes differ`);
    }
    const storage = this.live();
    storage.refs++;
    return new Tensor(storage, shape, { name: this.name });
  }

  /** Copies the values back to the CPU (a full GPU round trip: not for hot loops). */
  async read(): Promise<Float32Array> {
    const bytes = await this.rt.read(this.buffer, 0, this.size * 4);
    return new Float32Array(bytes);
  }

  /** Shape as text, e.g. `[1, 3, 32, 32]`. */
  toString(): string {
    return `Tensor${formatShape(this.shape)}${this.name ? ` ${this.name}` : ""}`;
  }

  /** The storage, or a DeviceError when this tensor was disposed. */
  private live(): Storage {
    if (!this.storage) throw new DeviceError(`${this.name ?? "a tensor"} was used after dispose()`);
    return this.storage;
  }
}

/**
 * Runs `fn` in a scope: every pooled tensor created inside and not reachable from its result
 * (a tensor, or an array/object of tensors, one level deep) is disposed when it returns.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const kept = new Set<Tensor>();
  collectTensors(result, kept);
  const parent = scopes[scopes.length - 1];
  for (const tensor of scope) {
    if (kept.has(tensor)) parent?.add(tensor);
    else tensor.dispose();
  }
  return result;
}

function collectTensors(value: unknown, into: Set<Tensor>): void {
  if (value instanceof Tensor) into.add(value);
  else if (Array.isArray(value)) value.forEach((v) => v instanceof Tensor && into.add(v));
  else if (value && typeof value === "object") {
    for (const v of Object.values(value)) if (v instanceof Tensor) into.add(v);
  }
}
