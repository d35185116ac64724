/**
 * The runtime's memory pools: storage buffers in size buckets and textures by (size, format, layers).
 * Both hand out free objects before creating new ones, and take objects back in two steps — released
 * during a batch, reusable after that batch is submitted (`recycle()`), since recorded commands may still
 * read them. The texture pool keeps free textures up to a byte budget, dropping the oldest first, and
 * learns how far the budget falls short of a repeating working set (see {@link TexturePool.regrown}).
 * Of the free objects that fit, both hand out the one created first: which objects a sequence of
 * requests gets then depends only on which are free, not on the order earlier work released them, so a
 * loop gets the same objects every iteration and the runtime's cached bind groups keep matching.
 * @module
 */
import { DeviceError } from "../base/errors.ts";

/** Usage of every pooled (and persistent) buffer. */
export const USAGE_POOLED = GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_SRC |
  GPUBufferUsage.COPY_DST;
/** Smallest buffer handed out. */
export const MIN_BUFFER_BYTES = 16;

/** Rounds a byte count up to a pool bucket: the next of 1, 1.25, 1.5 or 1.75 × a power of two. */
export function bucketBytes(bytes: number): number {
  const n = Math.max(MIN_BUFFER_BYTES, Math.ceil(bytes / 4) * 4);
  if (n <= 256) return Math.ceil(n / 16) * 16;
  const base = 2 ** Math.floor(Math.log2(n));
  for (const step of [1, 1.25, 1.5, 1.75, 2]) {
    const size = base * step;
    if (size >= n) return size;
  }
  return base * 2;
}

/** Storage buffers in size buckets. */
export class BufferPool {
  /** Bytes handed out and not released. */
  live = 0;
  /** Bytes free in the pool (including those released in the open batch). */
  pooled = 0;
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly sizeOf = new Map<GPUBuffer, number>();
  private pending: GPUBuffer[] = [];

  /**
   * A pool on `device`; `makeRoom` runs before it creates a buffer of some bytes, `grew` after every
   * acquisition (peak tracking).
   */
  constructor(
    private readonly device: GPUDevice,
    private readonly grew: () => void,
    private readonly makeRoom: (bytes: number) => void = () => {},
  ) {}

  /** A buffer of at least `bytes` bytes (contents undefined). */
  acquire(bytes: number): GPUBuffer {
    const size = bucketBytes(bytes);
    let buffer = this.free.get(size)?.pop();
    if (buffer) {
      this.pooled -= size;
    } else {
      this.makeRoom(size);
      buffer = numbered(this.device.createBuffer({ size, usage: USAGE_POOLED }));
      this.sizeOf.set(buffer, size);
    }
    this.live += size;
    this.grew();
    return buffer;
  }

  /** Takes a buffer back; it is reusable after the next {@link recycle}. @throws {DeviceError} for a stranger */
  release(buffer: GPUBuffer): void {
    const size = this.sizeOf.get(buffer);
    if (size === undefined) throw new DeviceError("release() was given a buffer the pool did not hand out");
    this.live -= size;
    this.pooled += size;
    this.pending.push(buffer);
  }

  /** After a submit: buffers released before it become reusable. */
  recycle(): void {
    const grown = new Set<GPUBuffer[]>();
    for (const buffer of this.pending) {
      const size = this.sizeOf.get(buffer)!;
      let list = this.free.get(size);
      if (!list) this.free.set(size, list = []);
      list.push(buffer);
      grown.add(list);
    }
    sortNewestFirst(grown);
    this.pending = [];
  }

  /** Destroys every free buffer. */
  trim(): void {
    for (const list of this.free.values()) {
      for (const buffer of list) {
        this.pooled -= this.sizeOf.get(buffer)!;
        this.sizeOf.delete(buffer);
        buffer.destroy();
      }
    }
    this.free.clear();
  }
}

/** Creation order of pooled objects. */
const serials = new WeakMap<GPUBuffer | GPUTexture, number>();
let nextSerial = 0;

/** Numbers `object` as the next one created. */
function numbered<T extends GPUBuffer | GPUTexture>(object: T): T {
  serials.set(object, nextSerial++);
  return object;
}

/** Orders free lists newest first, so `pop()` hands out the oldest. */
function sortNewestFirst(lists: Iterable<(GPUBuffer | GPUTexture)[]>): void {
  for (const list of lists) list.sort((a, b) => serials.get(b)! - serials.get(a)!);
}

function textureKey(width: number, height: number, format: string, layers: number): string {
  return `${width}x${height}x${layers}:${format}`;
}

/** Bytes of a `width` × `height` texture with `layers` layers of the pool's formats. */
export function textureBytes(
  width: number,
  height: number,
  layers: number,
  format: GPUTextureFormat,
): number {
  return width * height * layers * (format === "rgba32float" ? 16 : format === "rgba16float" ? 8 : 4);
}

/** Textures usable as sampled and storage textures, by (size, format, layers). */
export class TexturePool {
  /** Bytes of every texture the pool created and has not destroyed (live and free). */
  total = 0;
  private readonly free = new Map<string, GPUTexture[]>();
  /** Free textures, oldest release first, for trimming the cache to its budget. */
  private readonly freeOrder = new Set<GPUTexture>();
  private freeBytes = 0;
  private readonly bytesOf = new Map<GPUTexture, number>();
  private pending: GPUTexture[] = [];
  /** Keys of textures the budget dropped that have not been asked for since. */
  private readonly dropped = new Set<string>();
  /**
   * Bytes of textures created again after the budget had dropped one of the same key. Loops ask for
   * the same shapes every iteration, and an oldest-first cache smaller than their working set misses
   * on every one of them (a bundled-model training step recreated ~930 textures), so a budget that
   * adds this converges on the working set of loops and stays small for shapes used once.
   */
  regrown = 0;

  /**
   * A pool on `device`; `makeRoom` runs before it creates a texture of some bytes, `grew` after
   * (peak tracking).
   */
  constructor(
    private readonly device: GPUDevice,
    private readonly grew: () => void,
    private readonly makeRoom: (bytes: number) => void = () => {},
  ) {}

  /** Bytes of free textures the pool keeps for reuse. */
  get cachedBytes(): number {
    return this.freeBytes;
  }

  /** Destroys free textures, oldest release first, until `bytes` bytes are gone or none is left. */
  dropOldest(bytes: number): void {
    let dropped = 0;
    for (const oldest of this.freeOrder) {
      if (dropped >= bytes) break;
      dropped += this.bytesOf.get(oldest)!;
      this.dropped.add(this.destroyFree(oldest));
    }
  }

  /** A 2D texture with `layers` array layers (contents undefined). */
  acquire(width: number, height: number, format: GPUTextureFormat, layers: number): GPUTexture {
    // wgpu's GL backend must fix a texture's target when it is created, and takes 6·k layers for a cube
    // (array): bound as 2d-array, such a texture reads wrong texels (conv input gradients through 24, 48
    // or 96 channels were garbage on llvmpipe). One spare layer keeps every texture a plain 2D array.
    if (layers % 6 === 0) layers++;
    const key = textureKey(width, height, format, layers);
    const reused = this.free.get(key)?.pop();
    if (reused) {
      this.freeOrder.delete(reused);
      this.freeBytes -= this.bytesOf.get(reused)!;
      return reused;
    }
    const bytes = textureBytes(width, height, layers, format);
    this.makeRoom(bytes);
    const texture = numbered(this.device.createTexture({
      size: { width, height, depthOrArrayLayers: layers },
      format,
      usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST |
        GPUTextureUsage.COPY_SRC,
    }));
    this.bytesOf.set(texture, bytes);
    this.total += bytes;
    if (this.dropped.delete(key)) this.regrown += bytes;
    this.grew();
    return texture;
  }

  /** Takes a texture back; it is reusable after the next {@link recycle}. */
  release(texture: GPUTexture): void {
    this.pending.push(texture);
  }

  /** After a submit: textures released before it become reusable; the oldest go beyond `budget` bytes. */
  recycle(budget: number): void {
    const grown = new Set<GPUTexture[]>();
    for (const texture of this.pending) {
      const key = textureKey(texture.width, texture.height, texture.format, texture.depthOrArrayLayers);
      let list = this.free.get(key);
      if (!list) this.free.set(key, list = []);
      list.push(texture);
      grown.add(list);
      this.freeOrder.add(texture);
      this.freeBytes += this.bytesOf.get(texture)!;
    }
    sortNewestFirst(grown);
    this.pending = [];
    this.dropOldest(this.freeBytes - budget);
  }

  /** Destroys every free texture and forgets what the budget learned. */
  trim(): void {
    for (const texture of [...this.freeOrder]) this.destroyFree(texture);
    this.dropped.clear();
    this.regrown = 0;
  }

  /** Destroys a free texture and returns its key. */
  private destroyFree(texture: GPUTexture): string {
    const key = textureKey(texture.width, texture.height, texture.format, texture.depthOrArrayLayers);
    const list = this.free.get(key)!;
    list.splice(list.indexOf(texture), 1);
    if (list.length === 0) this.free.delete(key);
    this.freeOrder.delete(texture);
    const bytes = this.bytesOf.get(texture)!;
    this.freeBytes -= bytes;
    this.total -= bytes;
    this.bytesOf.delete(texture);
    texture.destroy();
    return key;
  }
}
