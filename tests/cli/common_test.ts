/** The one line a user sees for each kind of error, and the range parsers' messages. */
import assert from "node:assert/strict";
import { InvalidArgumentError } from "../../deps.ts";
import { DataError, ShapeError, UsageError } from "../../base/errors.ts";
import { describeRange, parseNumberIn, userFacingMessage } from "../../cli/common.ts";

Deno.test("file-system faults from the OS become one line naming the path and the problem", () => {
  const cases: [Error, string][] = [
    [
      new Error("Read-only file system (os error 30): mkdir '/mnt/ro/model'"),
      "/mnt/ro/model: the file system is read-only",
    ],
    [
      new Deno.errors.PermissionDenied("Permission denied (os error 13): open '/x/a.tif'"),
      "/x/a.tif: permission denied",
    ],
    [
      new Error("No space left on device (os error 28): write '/d/log'"),
      "/d/log: no space left on the device (the disk is full)",
    ],
    [
      new Deno.errors.NotFound("No such file or directory (os error 2): stat '/nope'"),
      "/nope: no such file or folder",
    ],
  ];
  for (const [error, line] of cases) assert.equal(userFacingMessage(error), line);
  assert.equal(userFacingMessage(new DataError("a.tif: not a TIFF")), "a.tif: not a TIFF");
  assert.equal(userFacingMessage(new ShapeError("conv2d: [1] vs [2]")), "conv2d: [1] vs [2]");
  assert.equal(userFacingMessage(new UsageError("--n-timestep 9: use 1 to 5")), "--n-timestep 9: use 1 to 5");
  assert.equal(userFacingMessage(new TypeError("x is undefined")), null, "a bug keeps its stack");
});

Deno.test("range parsers accept the range and state it in the usage error", () => {
  const unit = parseNumberIn({ min: 0, max: 1, minExclusive: true });
  assert.equal(unit("1"), 1);
  assert.throws(
    () => unit("0"),
    (e: Error) => e instanceof InvalidArgumentError && /in \(0, 1\]/.test(e.message),
  );
  assert.throws(() => unit("2"), InvalidArgumentError);
  assert.throws(() => parseNumberIn({ min: 8, integer: true })("8.5"), /an integer ≥ 8/);
  assert.equal(describeRange({ max: 3, maxExclusive: true }), "a number < 3");
});
