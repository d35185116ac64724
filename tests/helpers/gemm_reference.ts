/** Plain float64 references for matmul, linear and conv2d (the ground truth of their tests). */
import type { HostTensor } from "./check.ts";

/** op(A)·op(B) with 2-D or batched 3-D operands; a 2-D operand is shared by every batch element. */
export function matmulReference(
  a: HostTensor,
  b: HostTensor,
  transA = false,
  transB = false,
): HostTensor {
  const [aRows, aCols] = a.shape.slice(-2) as [number, number];
  const [bRows, bCols] = b.shape.slice(-2) as [number, number];
  const [rows, depth] = transA ? [aCols, aRows] : [aRows, aCols];
  const cols = transB ? bRows : bCols;
  const batched = a.shape.length === 3 || b.shape.length === 3;
  const batch = a.shape.length === 3 ? a.shape[0]! : b.shape.length === 3 ? b.shape[0]! : 1;
  const data = new Float64Array(batch * rows * cols);
  for (let z = 0; z < batch; z++) {
    const aBase = a.shape.length === 3 ? z * rows * depth : 0;
    const bBase = b.shape.length === 3 ? z * depth * cols : 0;
    for (let m = 0; m < rows; m++) {
      for (let n = 0; n < cols; n++) {
        let sum = 0;
        for (let k = 0; k < depth; k++) {
          const av = a.data[aBase + (transA ? k * rows + m : m * depth + k)]!;
          const bv = b.data[bBase + (transB ? n * depth + k : k * cols + n)]!;
          sum += av * bv;
        }
        data[(z * rows + m) * cols + n] = sum;
      }
    }
  }
  return { data, shape: batched ? [batch, rows, cols] : [rows, cols] };
}

/** x·Wᵀ + b for x [N, in], W [out, in], b [out]. */
export function linearReference(x: HostTensor, weight: HostTensor, bias?: HostTensor): HostTensor {
  const out = matmulReference(x, weight, false, true);
  if (bias) {
    const cols = weight.shape[0]!;
    for (let i = 0; i < out.data.length; i++) out.data[i] = out.data[i]! + bias.data[i % cols]!;
  }
  return out;
}

/** Cross-correlation of x [N, Cin, H, W] with w [Cout, Cin, k, k] (+ b), zero padding, as PyTorch's conv2d. */
export function conv2dReference(
  x: HostTensor,
  w: HostTensor,
  b: HostTensor | null,
  stride: number,
  padding: number,
): HostTensor {
  const [samples, inChannels, height, width] = x.shape as [number, number, number, number];
  const [outChannels, , kernel] = w.shape as [number, number, number, number];
  const outHeight = Math.floor((height + 2 * padding - kernel) / stride) + 1;
  const outWidth = Math.floor((width + 2 * padding - kernel) / stride) + 1;
  const data = new Float64Array(samples * outChannels * outHeight * outWidth);
  let at = 0;
  for (let n = 0; n < samples; n++) {
    for (let co = 0; co < outChannels; co++) {
      for (let oy = 0; oy < outHeight; oy++) {
        for (let ox = 0; ox < outWidth; ox++) {
          let sum = b ? b.data[co]! : 0;
          for (let ci = 0; ci < inChannels; ci++) {
            for (let ky = 0; ky < kernel; ky++) {
              const iy = oy * stride + ky - padding;
              if (iy < 0 || iy >= height) continue;
              for (let kx = 0; kx < kernel; kx++) {
                const ix = ox * stride + kx - padding;
                if (ix < 0 || ix >= width) continue;
                sum += x.data[((n * inChannels + ci) * height + iy) * width + ix]! *
                  w.data[((co * inChannels + ci) * kernel + ky) * kernel + kx]!;
              }
            }
          }
          data[at++] = sum;
        }
      }
    }
  }
  return { data, shape: [samples, outChannels, outHeight, outWidth] };
}

/** Visits every (n, co, oy, ox, ci, ky, kx) term of a convolution whose input pixel is inside the image. */
function forEachConvTerm(
  xShape: number[],
  wShape: number[],
  stride: number,
  padding: number,
  visit: (xAt: number, wAt: number, yAt: number) => void,
): void {
  const [samples, inChannels, height, width] = xShape as [number, number, number, number];
  const [outChannels, , kernel] = wShape as [number, number, number, number];
  const outHeight = Math.floor((height + 2 * padding - kernel) / stride) + 1;
  const outWidth = Math.floor((width + 2 * padding - kernel) / stride) + 1;
  for (let n = 0; n < samples; n++) {
    for (let co = 0; co < outChannels; co++) {
      for (let oy = 0; oy < outHeight; oy++) {
        for (let ox = 0; ox < outWidth; ox++) {
          const yAt = ((n * outChannels + co) * outHeight + oy) * outWidth + ox;
          for (let ci = 0; ci < inChannels; ci++) {
            for (let ky = 0; ky < kernel; ky++) {
              const iy = oy * stride + ky - padding;
              if (iy < 0 || iy >= height) continue;
              for (let kx = 0; kx < kernel; kx++) {
                const ix = ox * stride + kx - padding;
                if (ix < 0 || ix >= width) continue;
                visit(
                  ((n * inChannels + ci) * height + iy) * width + ix,
                  ((co * inChannels + ci) * kernel + ky) * kernel + kx,
                  yAt,
                );
              }
            }
          }
        }
      }
    }
  }
}

/** The gradient of conv2d with respect to its input, for output gradient dy. */
export function conv2dInputGradReference(
  dy: HostTensor,
  w: HostTensor,
  xShape: number[],
  stride: number,
  padding: number,
): HostTensor {
  const data = new Float64Array(xShape.reduce((a, b) => a * b, 1));
  forEachConvTerm(xShape, w.shape, stride, padding, (xAt, wAt, yAt) => {
    data[xAt] = data[xAt]! + dy.data[yAt]! * w.data[wAt]!;
  });
  return { data, shape: xShape };
}

/** The gradient of conv2d with respect to its weight, for output gradient dy and input x. */
export function conv2dWeightGradReference(
  dy: HostTensor,
  x: HostTensor,
  wShape: number[],
  stride: number,
  padding: number,
): HostTensor {
  const data = new Float64Array(wShape.reduce((a, b) => a * b, 1));
  forEachConvTerm(x.shape, wShape, stride, padding, (xAt, wAt, yAt) => {
    data[wAt] = data[wAt]! + dy.data[yAt]! * x.data[xAt]!;
  });
  return { data, shape: wShape };
}
