import { fileURLToPath } from 'node:url';

/** The config/ folder shipped with the package (src/config and dist/config are two levels down). */
export const DEFAULT_CONFIG_DIR = fileURLToPath(new URL('../../config', import.meta.url));
