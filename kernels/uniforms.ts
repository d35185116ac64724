/**
 * Kernel parameters: every kernel reads a uniform struct of 32-bit scalars at `@binding(0)`, packed
 * here in declaration order (scalars only, so no vec3 alignment traps).
 * @module
 */

/** A parameter block for `@binding(0)`: 32-bit words, u32/i32/f32 as the kernel's struct says. */
export class Uniforms {
  private readonly words: number[] = [];
  private readonly kinds: ("u32" | "i32" | "f32")[] = [];

  /** Appends unsigned integers. */
  u32(...values: number[]): this {
    for (const v of values) this.push(v, "u32");
    return this;
  }

  /** Appends signed integers. */
  i32(...values: number[]): this {
    for (const v of values) this.push(v, "i32");
    return this;
  }

  /** Appends 32-bit floats. */
  f32(...values: number[]): this {
    for (const v of values) this.push(v, "f32");
    return this;
  }

  /** Number of bytes, padded to 16 as uniform structs are. */
  get byteLength(): number {
    return Math.max(16, Math.ceil(this.words.length / 4) * 16);
  }

  /** Writes the words into `view` at `byteOffset`. */
  writeTo(view: DataView, byteOffset: number): void {
    for (let i = 0; i < this.words.length; i++) {
      const value = this.words[i]!;
      const at = byteOffset + 4 * i;
      const kind = this.kinds[i];
      if (kind === "f32") view.setFloat32(at, value, true);
      else if (kind === "i32") view.setInt32(at, value, true);
      else view.setUint32(at, value, true);
    }
  }

  /** Appends one word, checking that integer kinds get integers. */
  private push(value: number, kind: "u32" | "i32" | "f32"): void {
    if (kind !== "f32" && !Number.isInteger(value)) {
      throw new RangeError(`uniform ${kind} must be an integer, got ${value}`);
    }
    this.words.push(value);
    this.kinds.push(kind);
  }
}

/**
 * The uniform blocks of one batch of dispatches: staged on the host at aligned offsets of one persistent
 * buffer and uploaded with a single `writeBuffer` before the submit that reads them.
 */
export class UniformArena {
  /** Bytes of uniforms one batch can hold (a full arena ends the batch early). */
  static readonly BYTES = 256 * 1024;
  private readonly staging = new ArrayBuffer(UniformArena.BYTES);
  private readonly view = new DataView(this.staging);
  private used = 0;

  /**
   * @param buffer a persistent uniform buffer of {@link UniformArena.BYTES} bytes
   * @param align the device's uniform offset alignment
   */
  constructor(readonly buffer: GPUBuffer, private readonly align: number) {}

  /** Whether a block of `bytes` still fits this batch. */
  fits(bytes: number): boolean {
    return this.used + bytes <= UniformArena.BYTES;
  }

  /** Stages `uniforms` and returns the binding of its block. */
  add(uniforms: Uniforms): GPUBufferBinding {
    const offset = this.used;
    uniforms.writeTo(this.view, offset);
    this.used = Math.ceil((offset + uniforms.byteLength) / this.align) * this.align;
    return { buffer: this.buffer, offset, size: uniforms.byteLength };
  }

  /** Uploads the staged blocks (call before the submit) and starts the next batch empty. */
  upload(queue: GPUQueue): void {
    if (this.used > 0) queue.writeBuffer(this.buffer, 0, this.staging, 0, this.used);
    this.used = 0;
  }
}
