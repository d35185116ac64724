/**
 * The module tree: layers own named parameters and child modules, and expose them as a flat,
 * ordered map whose dotted names match PyTorch `state_dict` keys (`downs.1.res_block.block1.block.0.weight`),
 * so checkpoints of the PyTorch SR3 reference map onto sr3 by name.
 * @module
 */
import { formatShape, ShapeError } from "../base/errors.ts";
import { Tensor } from "./tensor.ts";

/** A named host array for loading parameters (f32, row-major). */
export interface HostParameter {
  /** Values, row-major. */
  data: Float32Array;
  /** Shape. */
  shape: readonly number[];
}

/** Base class of every layer. Parameters are persistent GPU tensors with `requiresGrad`. */
export abstract class Module {
  private readonly ownParameters = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();
  /** Training mode enables dropout. */
  training = true;

  /**
   * Registers a parameter initialised by `init`, or left uninitialised when `init` is null (the
   * weights are about to be loaded, or only shapes are wanted, as for a summary).
   */
  protected parameter(name: string, shape: readonly number[], init: (() => Float32Array) | null): Tensor {
    const options = { requiresGrad: true, persistent: true, name };
    const tensor = init ? Tensor.fromArray(init(), shape, options) : Tensor.empty(shape, options);
    this.ownParameters.set(name, tensor);
    return tensor;
  }

  /** Registers a child module under `name` (its parameters become `name.<child key>`). */
  protected child<M extends Module>(name: string | number, module: M): M {
    this.children.set(String(name), module);
    return module;
  }

  /** Every parameter of this module and its descendants, keyed by dotted path, in registration order. */
  namedParameters(prefix = ""): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, tensor] of this.ownParameters) out.set(`${prefix}${name}`, tensor);
    for (const [name, module] of this.children) {
      for (const [key, tensor] of module.namedParameters(`${prefix}${name}.`)) out.set(key, tensor);
    }
    return out;
  }

  /** The parameters as a list (optimizer order). */
  parameters(): Tensor[] {
    return [...this.namedParameters().values()];
  }

  /** Total number of parameter values. */
  parameterCount(): number {
    return this.parameters().reduce((n, t) => n + t.size, 0);
  }

  /** Sets training mode on this module and every descendant. */
  setTraining(training: boolean): void {
    this.training = training;
    for (const module of this.children.values()) module.setTraining(training);
  }

  /** Immediate children, for summaries. */
  namedChildren(): Map<string, Module> {
    return new Map(this.children);
  }

  /** Parameters owned directly by this module (not its children). */
  ownParameterCount(): number {
    let n = 0;
    for (const t of this.ownParameters.values()) n += t.size;
    return n;
  }

  /**
   * Overwrites parameters from host arrays by name. Every parameter must be present with its exact
   * shape; the error lists missing, unexpected and mis-shaped names together.
   */
  loadParameters(values: ReadonlyMap<string, HostParameter>, source: string): void {
    const own = this.namedParameters();
    const missing = [...own.keys()].filter((k) => !values.has(k));
    const unexpected = [...values.keys()].filter((k) => !own.has(k));
    const misShaped = [...own].filter(([k, t]) => {
      const v = values.get(k);
      return v && v.shape.join() !== t.shape.join();
    }).map(([k, t]) => `${k} (expected ${formatShape(t.shape)}, got ${formatShape(values.get(k)!.shape)})`);
    if (missing.length || unexpected.length || misShaped.length) {
      const parts = [
        missing.length ? `missing: ${missing.join(", ")}` : "",
        unexpected.length ? `unexpected: ${unexpected.join(", ")}` : "",
        misShaped.length ? `mis-shaped: ${misShaped.join(", ")}` : "",
      ].filter(Boolean);
      throw new ShapeError(`${source} does not fit the model: ${parts.join("; ")}`);
    }
    for (const [key, tensor] of own) {
      tensor.rt.write(tensor.buffer, values.get(key)!.data as Float32Array<ArrayBuffer>);
    }
  }

  /** Frees every parameter's GPU memory (and gradients). */
  dispose(): void {
    for (const tensor of this.parameters()) {
      tensor.grad?.dispose();
      tensor.dispose();
    }
  }
}

/** An indexed list of modules; its items are named `0`, `1`, … like PyTorch's `nn.ModuleList`. */
export class ModuleList<M extends Module = Module> extends Module {
  /** The modules in order. */
  readonly items: readonly M[];

  /** Wraps `items`. */
  constructor(items: M[]) {
    super();
    items.forEach((item, i) => this.child(i, item));
    this.items = items;
  }
}

/**
 * A container that only names its children, for PyTorch `nn.Sequential`s with parameter-free
 * entries (e.g. `block.0` GroupNorm, `block.3` Conv2d, where 1 and 2 are Swish and Dropout).
 */
export class NamedModules extends Module {
  /** Registers each entry under its key. */
  constructor(entries: Readonly<Record<string, Module>>) {
    super();
    for (const [name, module] of Object.entries(entries)) this.child(name, module);
  }
}
