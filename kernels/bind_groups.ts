/**
 * Bind groups kept across batches. A training or sampling loop records the same dispatches every
 * iteration (the same pipelines over the same pooled buffers and textures), and creating a bind group
 * is a call into the WebGPU implementation that validates every entry, so the runtime keeps one per
 * (layout, parameter size, operands), each with a uniform slot of its own that it rewrites when the
 * parameters change (a training step of the bundled model: ~95% of its ~1,330 dispatches reuse one).
 *
 * A slot holds one parameter block per batch: writes are staged on the host and uploaded right before
 * the submit, so every dispatch of a batch sees the slot's last write. A bind group wanted twice in one
 * batch with different parameters therefore gets `null` the second time, and the runtime binds a
 * one-off block of the uniform arena instead.
 *
 * Operands are keyed by object identity (an id is never reused), so a cached bind group is reached
 * only through buffers and views that are passed in again; the pools never hand out an object they
 * destroyed. When the slots run out, the cache empties after the next submit, which keeps bind groups
 * that point at destroyed objects from piling up.
 * @module
 */
import type { Binding } from "./runtime_types.ts";
import type { Uniforms } from "./uniforms.ts";

/** A bind group of `layout` with the parameter block `uniforms` at binding 0 and `bindings` at 1…n. */
export function createBindGroup(
  device: GPUDevice,
  layout: GPUBindGroupLayout,
  uniforms: GPUBufferBinding,
  bindings: readonly Binding[],
): GPUBindGroup {
  const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: uniforms }];
  bindings.forEach((resource, i) => {
    entries.push({
      binding: i + 1,
      resource: resource instanceof GPUBuffer ? { buffer: resource } : resource,
    });
  });
  return device.createBindGroup({ layout, entries });
}

/** Written slots at most this many bytes apart are uploaded in one write. */
const MERGE_GAP = 16 * 1024;

/** A cached bind group and its uniform slot. */
interface CachedGroup {
  group: GPUBindGroup;
  /** Byte offset of the slot in the uniform buffer. */
  offset: number;
  /** The batch that last wrote the slot. */
  batch: number;
}

/** Bind groups by layout and operands, with one uniform slot each in a persistent buffer. */
export class BindGroupCache {
  /** Bytes of uniform slots (4,096 slots of 256 bytes). */
  static readonly BYTES = 1024 * 1024;
  /** Dispatches that reused a cached bind group. */
  hits = 0;
  /** Bind groups created for the cache. */
  created = 0;
  private readonly staging = new ArrayBuffer(BindGroupCache.BYTES);
  private readonly view = new DataView(this.staging);
  private scratch = new DataView(new ArrayBuffer(256));
  private readonly groups = new Map<string, CachedGroup>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  private used = 0;
  private batch = 0;
  private full = false;
  /** Byte ranges of the slots written since the last upload. */
  private dirty: [number, number][] = [];

  /**
   * @param device the device that creates the bind groups
   * @param buffer a persistent uniform buffer of {@link BindGroupCache.BYTES} bytes
   * @param align the device's uniform offset alignment
   */
  constructor(
    private readonly device: GPUDevice,
    readonly buffer: GPUBuffer,
    private readonly align: number,
  ) {}

  /**
   * The bind group of `layout` with `uniforms` at binding 0 and `bindings` at 1…n, its slot staged with
   * `uniforms`; null when its slot already holds other parameters in this batch or no slot is left.
   */
  get(layout: GPUBindGroupLayout, uniforms: Uniforms, bindings: readonly Binding[]): GPUBindGroup | null {
    const size = uniforms.byteLength;
    let key = `${this.id(layout)}:${size}`;
    for (const b of bindings) {
      key += b instanceof GPUBuffer || b instanceof GPUTextureView
        ? `,${this.id(b)}`
        : `,${this.id(b.buffer)}@${b.offset ?? 0}+${b.size ?? "all"}`;
    }
    const cached = this.groups.get(key);
    if (cached) {
      if (!this.stage(uniforms, cached.offset, cached.batch === this.batch)) return null;
      cached.batch = this.batch;
      this.hits++;
      return cached.group;
    }
    const offset = this.used;
    if (offset + size > BindGroupCache.BYTES) {
      this.full = true;
      return null;
    }
    this.used = Math.ceil((offset + size) / this.align) * this.align;
    uniforms.writeTo(this.view, offset);
    this.markDirty(offset, offset + size);
    const group = createBindGroup(this.device, layout, { buffer: this.buffer, offset, size }, bindings);
    this.groups.set(key, { group, offset, batch: this.batch });
    this.created++;
    return group;
  }

  /**
   * Uploads the slots written since the last upload; call right before the submit. Slots closer than
   * `MERGE_GAP` bytes go in one write (a write costs more than copying that many unchanged bytes).
   */
  upload(queue: GPUQueue): void {
    const ranges = this.dirty.sort((a, b) => a[0] - b[0]);
    for (let i = 0; i < ranges.length;) {
      const start = ranges[i]![0];
      let end = ranges[i]![1];
      for (i++; i < ranges.length && ranges[i]![0] <= end + MERGE_GAP; i++) {
        end = Math.max(end, ranges[i]![1]);
      }
      queue.writeBuffer(this.buffer, start, this.staging, start, end - start);
    }
    this.dirty = [];
  }

  /** Starts the next batch (after the submit); empties the cache if it ran out of slots. */
  nextBatch(): void {
    this.batch++;
    if (!this.full) return;
    this.groups.clear();
    this.used = 0;
    this.full = false;
  }

  /**
   * Stages `uniforms` into the slot at `offset` where their words differ; when `locked` (the slot was
   * written this batch) only identical words pass. Returns whether the slot now holds `uniforms`.
   */
  private stage(uniforms: Uniforms, offset: number, locked: boolean): boolean {
    const size = uniforms.byteLength;
    if (this.scratch.byteLength < size) this.scratch = new DataView(new ArrayBuffer(size));
    uniforms.writeTo(this.scratch, 0);
    let changed = false;
    for (let at = 0; at < size; at += 4) {
      const word = this.scratch.getUint32(at, true);
      if (this.view.getUint32(offset + at, true) === word) continue;
      if (locked) return false;
      this.view.setUint32(offset + at, word, true);
      changed = true;
    }
    if (changed) this.markDirty(offset, offset + size);
    return true;
  }

  /** Adds a byte range to the next upload. */
  private markDirty(start: number, end: number): void {
    this.dirty.push([start, end]);
  }

  /** A number per object, never reused. */
  private id(object: object): number {
    let id = this.ids.get(object);
    if (id === undefined) this.ids.set(object, id = this.nextId++);
    return id;
  }
}
