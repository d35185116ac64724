/**
 * The package version, read from deno.json so it has one source of truth.
 * @module
 */
import config from "../deno.json" with { type: "json" };

/** sr3's version (deno.json `version`). */
export const SR3_VERSION: string = config.version;
