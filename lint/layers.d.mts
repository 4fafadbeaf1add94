// Types for lint/layers.mjs (plain JavaScript so ESLint loads it without a TypeScript loader).
export interface Layer {
  name: string;
  pattern: RegExp;
  what: string;
}
export declare const LAYERS: Layer[];
export declare const APP_IMPORTS: Record<string, string[]>;
export declare function layerOf(file: string): (Layer & { index: number }) | null;
export declare function violation(from: string, to: string): string | null;
declare const plugin: { rules: Record<string, unknown> };
export default plugin;
