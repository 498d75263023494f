/** Nexmark generator configuration, shared by both engines' generators. */
export type { NexmarkConfig, NexmarkKind } from './ts/nexmark.js';
export { DEFAULT_NEXMARK_CONFIG, NEXMARK_SCHEMAS } from './ts/nexmark.js';
