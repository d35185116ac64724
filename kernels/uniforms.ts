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
