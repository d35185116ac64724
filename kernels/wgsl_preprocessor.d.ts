/** Types for npm:wgsl-preprocessor (ships without them): a tag that resolves `#if ${c}` blocks. */
export declare function wgsl(strings: TemplateStringsArray, ...values: unknown[]): string;
