/** A plain TypeScript Philox-4x32-10 (Random123), the reference for the GPU random kernels. */

function mulHiLo(a: number, b: number): [number, number] {
  const product = BigInt(a) * BigInt(b);
  return [Number(product >> 32n), Number(product & 0xffffffffn)];
}

/** Philox-4x32-10 of a 4-word counter under a 2-word key (all unsigned 32-bit). */
export function philox4x32(counter: readonly number[], key: readonly number[]): number[] {
  let [c0, c1, c2, c3] = counter.map((v) => v >>> 0) as [number, number, number, number];
  let [k0, k1] = key.map((v) => v >>> 0) as [number, number];
  for (let round = 0; round < 10; round++) {
    const [hi0, lo0] = mulHiLo(0xd2511f53, c0);
    const [hi1, lo1] = mulHiLo(0xcd9e8d57, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + 0x9e3779b9) >>> 0;
    k1 = (k1 + 0xbb67ae85) >>> 0;
  }
  return [c0, c1, c2, c3];
}

/** The 32-bit word sr3 assigns to element `index` of (seed, stream). */
export function philoxWord(seed: number, stream: number, index: number): number {
  const words = philox4x32([Math.floor(index / 4), stream, 0, 0], [
    seed % 2 ** 32,
    Math.floor(seed / 2 ** 32),
  ]);
  return words[index % 4]!;
}

/** The uniform in [0, 1) of element `index`: its top 24 bits / 2²⁴. */
export function philoxUniform(seed: number, stream: number, index: number): number {
  return (philoxWord(seed, stream, index) >>> 8) / 16777216;
}

/** The standard normal of element `index` (Box–Muller on its word pair, as the kernel does). */
export function philoxNormal(seed: number, stream: number, index: number): number {
  const pair = index - (index % 2);
  const u = philoxUniform(seed, stream, pair) + 1 / 16777216;
  const v = philoxUniform(seed, stream, pair + 1);
  const radius = Math.sqrt(-2 * Math.log(u));
  const angle = Math.PI * (2 * v - 1);
  return index % 2 === 0 ? radius * Math.cos(angle) : radius * Math.sin(angle);
}
