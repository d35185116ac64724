/**
 * What a runtime holds on the device: the buffer and texture pools, persistent buffers, and the
 * accounting around them — current and peak bytes, and the high-water mark that keeps the texture
 * cache from raising the peak (see {@link DeviceMemory.makeRoom}).
 * @module
 */
import { BufferPool, MIN_BUFFER_BYTES, TexturePool, USAGE_POOLED } from "./pool.ts";
import type { MemoryStats } from "./runtime_types.ts";

/** The pools and persistent buffers of one device, with their byte counts. */
export class DeviceMemory {
  private readonly buffers: BufferPool;
  private readonly textures: TexturePool;
  private readonly persistent = new Map<GPUBuffer, number>();
  private persistentTotal = 0;
  private peakAllocated = 0;
  private peakLive = 0;
  /** See {@link makeRoom}. */
  private highWater = 0;

  /**
   * @param device where everything is allocated
   * @param textureCacheBytes a fixed budget of free textures to keep, or null to learn it
   */
  constructor(private readonly device: GPUDevice, private readonly textureCacheBytes: number | null) {
    const makeRoom = (bytes: number): void => this.makeRoom(bytes);
    this.buffers = new BufferPool(device, () => this.updatePeaks(), makeRoom);
    this.textures = new TexturePool(device, () => this.updatePeaks(), makeRoom);
  }

  /** A pooled storage buffer of at least `bytes` bytes (contents undefined). */
  acquire(bytes: number): GPUBuffer {
    return this.buffers.acquire(bytes);
  }

  /** Takes a pooled buffer back; reusable after the next {@link recycle}. */
  release(buffer: GPUBuffer): void {
    this.buffers.release(buffer);
  }

  /** A pooled 2D texture with `layers` array layers. */
  acquireTexture(width: number, height: number, format: GPUTextureFormat, layers: number): GPUTexture {
    return this.textures.acquire(width, height, format, layers);
  }

  /** Takes a pooled texture back; reusable after the next {@link recycle}. */
  releaseTexture(texture: GPUTexture): void {
    this.textures.release(texture);
  }

  /** A buffer outside the pools, counted until {@link destroyPersistent}. */
  createPersistent(bytes: number, label?: string): GPUBuffer {
    const size = Math.max(MIN_BUFFER_BYTES, Math.ceil(bytes / 4) * 4);
    const buffer = this.device.createBuffer({ size, usage: USAGE_POOLED, label });
    this.persistent.set(buffer, size);
    this.persistentTotal += size;
    this.updatePeaks();
    return buffer;
  }

  /** Whether `buffer` is a live persistent buffer. */
  isPersistent(buffer: GPUBuffer): boolean {
    return this.persistent.has(buffer);
  }

  /** Destroys a persistent buffer (the caller has submitted the work that reads it). */
  destroyPersistent(buffer: GPUBuffer): void {
    const size = this.persistent.get(buffer);
    if (size === undefined) return;
    this.persistent.delete(buffer);
    this.persistentTotal -= size;
    buffer.destroy();
  }

  /** After a submit: what was released before it becomes reusable; free textures beyond the budget go. */
  recycle(): void {
    this.buffers.recycle();
    this.textures.recycle(this.textureCacheBytes ?? this.baseTextureBudget() + this.textures.regrown);
  }

  /** Destroys every free buffer and texture and forgets the learned texture budget. */
  trim(): void {
    this.buffers.trim();
    this.textures.trim();
    this.highWater = this.allocated();
  }

  /** Current and peak bytes. */
  stats(): MemoryStats {
    return {
      liveBytes: this.buffers.live,
      pooledBytes: this.buffers.pooled,
      persistentBytes: this.persistentTotal,
      textureBytes: this.textures.total,
      liveTextureBytes: this.textures.total - this.textures.cachedBytes,
      allocatedBytes: this.allocated(),
      peakAllocatedBytes: this.peakAllocated,
      peakLiveBytes: this.peakLive,
    };
  }

  /** Restarts peak tracking from the current allocation. */
  resetPeak(): void {
    this.peakAllocated = this.allocated();
    this.peakLive = this.buffers.live + this.persistentTotal;
  }

  /** Bytes held on the device now. */
  private allocated(): number {
    return this.buffers.live + this.buffers.pooled + this.persistentTotal + this.textures.total;
  }

  /** What the texture cache keeps without having learned a working set: 4 MiB + persistent / 16. */
  private baseTextureBudget(): number {
    return 4 * 2 ** 20 + this.persistentTotal / 16;
  }

  /**
   * Before the pools create `bytes` more: cached textures (kept up to a loop's working set, see
   * `TexturePool.regrown`) may only occupy memory the runtime held anyway, so caching never raises the
   * peak. The high-water mark counts everything but the cache; cached textures that would push the
   * allocation past it are destroyed, oldest first.
   */
  private makeRoom(bytes: number): void {
    if (this.textureCacheBytes !== null) return;
    const cache = this.textures.cachedBytes;
    this.highWater = Math.max(this.highWater, this.allocated() - cache + bytes);
    const excess = this.allocated() + bytes - this.highWater;
    if (excess > 0) this.textures.dropOldest(excess);
  }

  /** Raises the peak counters to the current allocation. */
  private updatePeaks(): void {
    this.peakAllocated = Math.max(this.peakAllocated, this.allocated());
    this.peakLive = Math.max(this.peakLive, this.buffers.live + this.persistentTotal);
  }
}
